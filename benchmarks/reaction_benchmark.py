"""Reaction optimisation on the EDBO direct-arylation space (Shields et al., Nature 590, 89,
2021): how often 30 experiments find a yield of at least 90 %.

The space is fully enumerated (1728 reactions, 18 of them at >= 90 %), so every run is a
pool campaign over the real yields: ``campaigns/direct-arylation.yaml`` with its seed set
to the run's seed, the campaign's default settings (random initial rows, then the GP and
its acquisition over the reactions not yet run), one experiment at a time, 30 in all.

Arms differ only in how the three molecular components (base, ligand, solvent) reach the
model:
- descriptors: the campaign as written, EDBO's DFT descriptor tables (reduced to three
  principal components each, ``orchestrator/proposer/descriptors.py``);
- onehot: no tables, tansaku's default for a categorical without one: one indicator
  column per molecule, so every two molecules are equally far apart.

Random search is exact: a run of 30 distinct reactions misses all 18 good ones with
probability C(1710, 30) / C(1728, 30). Its median best yield is estimated from 100 000
seeded draws.

Usage: ``.venv/bin/python benchmarks/reaction_benchmark.py [--runs 50] [--budget 30]
[--arms descriptors,onehot] [--json PATH] [--campaign VARIANT.yaml]``; the
Markdown report goes to stdout, one line per run to stderr. ``--report-from PATH`` runs
nothing and reports the runs a ``--json`` file holds (also of an interrupted benchmark:
the file is rewritten after every run).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from reporting import command_line, markdown_table, package_versions, versions_text, write_json

from tansaku.campaign import CategoricalParameter, LoadedCampaign, load_campaign
from tansaku.campaign.descriptors import DescriptorTable, read_descriptors
from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer
from tansaku.values import ParameterValue

REPO = Path(__file__).resolve().parents[1]
CAMPAIGN = REPO / "campaigns" / "direct-arylation.yaml"
GOOD_YIELD = 90.0
ARMS = ("descriptors", "onehot")


@dataclass
class Run:
    arm: str
    seed: int
    yields: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def best(self) -> float:
        return max(self.yields)

    @property
    def first_good(self) -> int | None:
        """Experiments until the first yield >= 90 %, or None."""
        return next((i + 1 for i, y in enumerate(self.yields) if y >= GOOD_YIELD), None)


Reaction = tuple[str | float, ...]


def reaction_key(loaded: LoadedCampaign, point: Mapping[str, ParameterValue | str]) -> Reaction:
    """A reaction's identity: its categorical values as text, numbers as floats."""
    return tuple(
        str(point[p.name]) if isinstance(p, CategoricalParameter) else float(point[p.name])
        for p in loaded.campaign.space
    )


def read_yields(loaded: LoadedCampaign) -> dict[Reaction, float]:
    """Each reaction's published yield, from the dry-run simulator's table."""
    simulator = loaded.campaign.driver.simulator  # type: ignore[attr-defined]
    with (loaded.base_dir / simulator.path).open(newline="", encoding="utf-8") as handle:
        return {
            reaction_key(loaded, {n: row[c] for n, c in simulator.columns.items()}): float(
                row[simulator.output]
            )
            for row in csv.DictReader(handle)
        }


def arm_setup(arm: str, loaded: LoadedCampaign) -> tuple[Campaign, dict[str, DescriptorTable]]:
    """The campaign and descriptor tables an arm runs with."""
    campaign = loaded.campaign
    if arm == "onehot":
        campaign = campaign.model_copy(
            update={
                "space": [
                    p.model_copy(update={"descriptors": None})
                    if isinstance(p, CategoricalParameter)
                    else p
                    for p in campaign.space
                ]
            }
        )
    tables = {
        p.name: read_descriptors(p, loaded.base_dir)
        for p in campaign.space
        if isinstance(p, CategoricalParameter) and p.descriptors is not None
    }
    return campaign, tables


def run_once(
    campaign: Campaign,
    tables: dict[str, DescriptorTable],
    rows: list[dict[str, ParameterValue]],
    measure: Callable[[dict[str, ParameterValue]], float],
    arm: str,
    seed: int,
    budget: int,
) -> Run:
    proposer = Proposer(campaign.model_copy(update={"seed": seed}), rows, tables)
    run = Run(arm, seed)
    observations: list[Observation] = []
    started = time.perf_counter()
    for step in range(budget):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=step)
        value = measure(proposal.parameters)
        observations.append(Observation(proposal.parameters, value))
        run.yields.append(value)
    run.seconds = time.perf_counter() - started
    return run


def random_search(yields: Sequence[float], budget: int) -> tuple[float, float]:
    """(probability that ``budget`` distinct random reactions include a good one, median
    best yield of such runs)."""
    good = sum(y >= GOOD_YIELD for y in yields)
    miss = math.comb(len(yields) - good, budget) / math.comb(len(yields), budget)
    rng = np.random.default_rng(0)
    values = np.asarray(yields)
    bests = [values[rng.choice(len(values), budget, replace=False)].max() for _ in range(100_000)]
    return 1.0 - miss, float(np.median(bests))


def report(runs: Sequence[Run], yields: Sequence[float], budget: int, seconds: float) -> str:
    chance, random_best = random_search(yields, budget)
    good = sum(y >= GOOD_YIELD for y in yields)
    versions = versions_text(package_versions(("torch", "botorch", "gpytorch")))
    rows = [["random search (exact)", "-", f"{chance:.1%}", "1.00x", f"{random_best:g}", "-", "-"]]
    for arm in dict.fromkeys(run.arm for run in runs):
        mine = [run for run in runs if run.arm == arm]
        found = [run.first_good for run in mine if run.first_good is not None]
        rate = len(found) / len(mine)
        rows.append(
            [
                arm,
                str(len(mine)),
                f"{rate:.0%} ({len(found)}/{len(mine)})",
                f"{rate / chance:.2f}x",
                f"{statistics.median(r.best for r in mine):g}",
                f"{statistics.median(found) if found else 'n/a'}",
                f"{statistics.median(r.seconds for r in mine):.1f}",
            ]
        )
    headers = [
        "Arm",
        "Runs",
        "Found >= 90 %",
        "vs random",
        "Median best yield",
        "Median experiments to >= 90 % (runs that found one)",
        "s per run",
    ]
    return (
        f"## Direct arylation (EDBO), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"`{command_line()}`; {os.cpu_count()} CPUs; {versions}; "
        f"took {seconds / 60:.1f} min. {len(yields)} reactions, {good} with yield >= "
        f"{GOOD_YIELD:g} %; {budget} experiments per run.\n\n"
        f"{markdown_table(headers, rows)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="seeds 0..runs-1")
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--arms", default="descriptors,onehot")
    parser.add_argument("--json", type=Path, help="write every run's yields here")
    parser.add_argument(
        "--campaign", type=Path, default=CAMPAIGN, help="a variant of the example campaign"
    )
    parser.add_argument(
        "--report-from", type=Path, help="run nothing: report the runs a --json file holds"
    )
    arguments = parser.parse_args(argv)
    arms = arguments.arms.split(",")
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        parser.error(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")
    loaded = load_campaign(arguments.campaign.resolve())
    rows = loaded.candidates()
    assert rows is not None
    yields = read_yields(loaded)
    if arguments.report_from:
        runs = [Run(**run) for run in json.loads(arguments.report_from.read_text())]
        budget = len(runs[0].yields)
        print(report(runs, list(yields.values()), budget, sum(r.seconds for r in runs)))
        return 0

    def measure(point: dict[str, ParameterValue]) -> float:
        return yields[reaction_key(loaded, point)]

    started = time.perf_counter()
    runs: list[Run] = []
    for arm in arms:
        campaign, tables = arm_setup(arm, loaded)
        for seed in range(arguments.runs):
            run = run_once(campaign, tables, rows, measure, arm, seed, arguments.budget)
            runs.append(run)
            print(
                f"{arm} seed {seed}: best {run.best:g}, first >= 90 % at "
                f"{run.first_good}, {run.seconds:.1f} s",
                file=sys.stderr,
                flush=True,
            )
            if arguments.json:
                write_json(arguments.json, [r.__dict__ for r in runs])
    print(report(runs, list(yields.values()), arguments.budget, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
