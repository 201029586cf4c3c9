"""Screening the two OER catalyst plates with and without element features.

Each plate (Olympus' ``oer_plate_3496`` and ``oer_plate_3851``, about 2120 mixed-metal
oxides of six elements each, overpotential minimised) is a candidate pool. Protocol, as
in ``pool_benchmark.py``: each run starts from 2 random rows (the same two for every arm
of a seed) and then takes one experiment at a time among the rows not yet measured,
with tansaku's default pool screening (upper confidence bound on the bilog scale), for
``--budget`` experiments in all (the 2 random ones included). It reports how many runs
find one of the plate's best 1 % (22 rows) within the budget, the experiments until the
first of them (">budget" for a run that found none), and how many of the 22 a run finds
in its budget on average. Random search's figures are exact (its whole order is drawn),
so for it the experiments until half of the best 1 % (11) are found are reported too.

Arms:
- ``fractions``: the six metal fractions, as a campaign without ``elements`` sees them;
- ``elements``: the mixture with ``elements:`` and ``keep_fractions: false``: only the
  fraction-weighted means and mean absolute deviations of the element properties;
- ``both``: ``elements:`` with ``keep_fractions: true``: fractions and features;
- ``random``: the same two rows, then the seed's random order of the rest (exact, no cap).

Usage: ``nice -n 5 .venv/bin/python benchmarks/element_benchmark.py [--seeds 20]
[--plates 3496,3851] [--arms fractions,elements,both,random] [--budget 50] [--workers 2]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
from reporting import command_line, markdown_table, package_versions, versions_text

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "simulators" / "data" / "olympus"
TOP_FRACTION = 0.01
INITIAL = 2
ARMS = ("fractions", "elements", "both", "random")


@dataclass(frozen=True)
class Plate:
    names: tuple[str, ...]  # the metal-fraction columns, e.g. ni_load
    inputs: np.ndarray  # N x 6 fractions
    outputs: np.ndarray  # N, larger is better (minus the overpotential)
    top: frozenset[int]  # rows among the best 1 %

    @property
    def size(self) -> int:
        return len(self.outputs)

    @property
    def symbols(self) -> dict[str, str]:
        """Column → element symbol: ni_load → Ni."""
        return {name: name.split("_")[0].capitalize() for name in self.names}


@cache
def load_plate(plate: str) -> Plate:
    """The plate's rows (distinct, each a composition summing to 1); the best 1 % marked."""
    import pandas as pd

    frame = pd.read_csv(DATA / f"oer_plate_{plate}.csv")
    names = tuple(frame.columns[:-1])
    values = -frame["overpotential"].to_numpy(dtype=float)
    count = math.ceil(TOP_FRACTION * len(values))
    top = frozenset(int(i) for i in np.argsort(-values, kind="stable")[:count])
    return Plate(names, frame[list(names)].to_numpy(dtype=float), values, top)


def campaign_for(plate: Plate, arm: str, purpose: str = "screen") -> dict:
    """The pool campaign of an arm, as a campaign file would write it."""
    mixture: dict = {"components": list(plate.names), "total": 1}
    if arm != "fractions":
        mixture |= {"elements": plate.symbols, "keep_fractions": arm == "both"}
    return {
        "name": f"oer-{arm}",
        "budget": {"experiments": plate.size},
        "candidates": {"path": "pool.csv"},  # rows are handed over directly
        "space": [{"name": n, "type": "continuous", "bounds": [0, 1]} for n in plate.names],
        "mixtures": [mixture],
        "objectives": [{"name": "overpotential", "goal": "minimize"}],
        "purpose": purpose,
        "proposer": {"initial": {"n": INITIAL}},
        "driver": {"type": "simulated"},
    }


def first_rows(plate: Plate, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.choice(plate.size, size=INITIAL, replace=False)]


def random_run(plate: Plate, seed: int) -> list[int]:
    """Every row: the seed's two first rows, then the others in a seeded random order."""
    first = first_rows(plate, seed)
    rest = [
        i for i in np.random.default_rng(seed + 10_000).permutation(plate.size) if i not in first
    ]
    return first + [int(i) for i in rest]


def model_run(plate_name: str, arm: str, seed: int, budget: int, purpose: str) -> dict:
    """One run of a model arm: the rows in the order measured, and seconds per step."""
    from tansaku.campaign.schema import Campaign
    from tansaku.proposer import Observation, Proposer

    warnings.filterwarnings("ignore")
    plate = load_plate(plate_name)
    rows = [dict(zip(plate.names, map(float, r), strict=True)) for r in plate.inputs]
    proposer = Proposer(Campaign.model_validate(campaign_for(plate, arm, purpose)), rows)
    index_of = {tuple(row.values()): i for i, row in enumerate(rows)}
    measured = first_rows(plate, seed)
    started = time.perf_counter()
    while len(measured) < budget:
        # The campaign minimises the overpotential, as measured (outputs are its negative).
        observations = [Observation(rows[i], -float(plate.outputs[i])) for i in measured]
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=len(measured))
        measured.append(index_of[tuple(proposal.parameters.values())])
    steps = max(len(measured) - INITIAL, 1)
    return {
        "plate": plate_name,
        "arm": arm,
        "seed": seed,
        "purpose": purpose,
        "measured": measured,
        "seconds_per_step": (time.perf_counter() - started) / steps,
    }


def needed(plate: Plate, measured: Sequence[int], count: int) -> int | None:
    """Experiments until ``count`` of the top 1 % are found; ``None`` if never."""
    found = 0
    for position, row in enumerate(measured, start=1):
        found += row in plate.top
        if found >= count:
            return position
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--plates", default="3496,3851")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument(
        "--purpose", default="screen", help="the campaigns' purpose (screen: the pool default)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="append each run here (one JSON per line)")
    parser.add_argument("--skip", default="", help="plate:arm pairs not to run, e.g. 3851:both")
    parser.add_argument("--reuse", type=Path, help="a --json file whose runs need not be rerun")
    parser.add_argument(
        "--report-only", action="store_true", help="report the --reuse runs, run nothing"
    )
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    seeds = range(arguments.first_seed, arguments.first_seed + arguments.seeds)
    plates = arguments.plates.split(",")
    arms = arguments.arms.split(",")
    skipped = set(arguments.skip.split(",")) if arguments.skip else set()
    # Seed by seed, so that a benchmark stopped early has every arm of the seeds it did.
    jobs = [
        (plate, arm, seed, arguments.budget, arguments.purpose)
        for seed in seeds
        for plate in plates
        for arm in arms
        if arm != "random" and f"{plate}:{arm}" not in skipped
    ]
    runs = [
        {"plate": p, "arm": "random", "seed": s, "measured": random_run(load_plate(p), s)}
        for p in plates
        if "random" in arms
        for s in seeds
    ]
    if arguments.reuse:
        # A run of a larger budget holds this budget's run: the proposer is deterministic.
        done = [json.loads(line) for line in arguments.reuse.read_text().splitlines()]
        done = [r for r in done if len(r["measured"]) >= arguments.budget]
        have = {(r["plate"], r["arm"], r["seed"]) for r in done}
        runs += [r for r in done if (r["plate"], r["arm"], r["seed"]) in set(jobs_keys(jobs))]
        jobs = [job for job in jobs if job[:3] not in have]
    if arguments.report_only:
        jobs = []
    with ProcessPoolExecutor(arguments.workers) as pool:
        for run in pool.map(model_run, *zip(*jobs, strict=True)) if jobs else ():
            runs.append(run)
            plate = load_plate(run["plate"])
            print(
                f"{run['plate']} {run['arm']} seed {run['seed']}: first "
                f"{needed(plate, run['measured'], 1)}, half "
                f"{needed(plate, run['measured'], math.ceil(len(plate.top) / 2))}",
                file=sys.stderr,
                flush=True,
            )
            if arguments.json:
                with arguments.json.open("a") as stream:
                    stream.write(json.dumps(run) + "\n")
    report(arguments, runs, time.perf_counter() - started)
    return 0


def jobs_keys(jobs: Sequence[tuple[str, str, int, int, str]]) -> list[tuple[str, str, int]]:
    return [job[:3] for job in jobs]


def quartiles(values: list[int | None], budget: int) -> str:
    """Median [quartiles]; a run that never got there counts as more than ``budget``."""
    ordered = sorted(math.inf if v is None else v for v in values)
    q1, median, q3 = (float(np.quantile(ordered, q, method="lower")) for q in (0.25, 0.5, 0.75))

    def shown(x: float) -> str:
        return f">{budget}" if math.isinf(x) else f"{x:g}"

    return f"{shown(median)} [{shown(q1)}, {shown(q3)}]"


def report(arguments: argparse.Namespace, runs: list[dict], seconds: float) -> None:
    versions = versions_text(package_versions(("torch", "botorch", "gpytorch")))
    budget = arguments.budget
    print(f"## OER plates: element features, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"`{command_line()}`; {os.cpu_count()} CPUs; {versions}; ")
    print(f"seeds {arguments.first_seed}..{arguments.first_seed + arguments.seeds - 1}; ")
    print(f"{budget} experiments per run; purpose {arguments.purpose}; ")
    print(f"took {seconds / 60:.1f} min.\n")
    rows = []
    for plate_name in arguments.plates.split(","):
        plate = load_plate(plate_name)
        half = math.ceil(len(plate.top) / 2)
        for arm in arguments.arms.split(","):
            chosen = [r for r in runs if r["plate"] == plate_name and r["arm"] == arm]
            if not chosen:
                continue
            within = [r["measured"][:budget] for r in chosen]
            first = [needed(plate, m, 1) for m in within]
            to_half = [needed(plate, m, half) for m in within]
            found = [len(plate.top & set(m)) for m in within]
            best = [-max(plate.outputs[m]) for m in within]
            timing = [r["seconds_per_step"] for r in chosen if "seconds_per_step" in r]
            unbounded = "-"
            if arm == "random":
                whole = [r["measured"] for r in chosen]
                unbounded = (
                    f"{statistics.median(needed(plate, m, 1) or 0 for m in whole):g} / "
                    f"{statistics.median(needed(plate, m, half) or 0 for m in whole):g}"
                )
            rows.append(
                [
                    plate_name,
                    str(plate.size),
                    arm,
                    str(len(chosen)),
                    f"{sum(f > 0 for f in found)} of {len(chosen)}",
                    quartiles(first, budget),
                    quartiles(to_half, budget),
                    f"{statistics.mean(found):.2f}",
                    f"{statistics.median(best):.4f}",
                    unbounded,
                    f"{statistics.mean(timing):.2f}" if timing else "-",
                ]
            )
    headers = [
        "plate",
        "N",
        "arm",
        "runs",
        f"runs finding a top-1 % within {budget}",
        "experiments to the first [IQR]",
        "to half of them [IQR]",
        f"top-1 % found in {budget} (mean of 22)",
        f"median best in {budget} (V)",
        "random, whole order: median to first / to half",
        "s per step",
    ]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    raise SystemExit(main())
