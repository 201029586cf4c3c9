"""Transfer between chemical systems: one OER plate's measurements as prior for the other.

Olympus' two OER plates (``oer_plate_3496``: Ni, Fe, Co, Mn, Ce, La; ``oer_plate_3851``:
Ni, Fe, Co, Ta, Mn, Cu; about 2120 compositions each, overpotential minimised) share four
elements. A run screens the *target* plate as a candidate pool with tansaku's default
(element features beside the fractions, upper confidence bound on the bilog scale), from
the same 2 random rows per seed as ``element_benchmark.py``, one experiment at a time,
until it measures one of the target's best 1 % (22 rows) or ``--budget`` experiments
(the 2 random ones included). It reports the experiments to that first top-1 % catalyst.

Arms:
- ``none``: no transfer (``element_benchmark.py``'s ``both`` arm);
- ``prior_mean``, ``tasks``, ``pooled``: ``transfer_from`` the other plate's whole
  measurements (``max_rows`` of them, a seeded subset) with that ``model.transfer``;
- ``unrelated``: ``prior_mean`` with the other plate's overpotentials shuffled among its
  compositions (a seeded permutation): a source that says nothing true of the target,
  which must not make the campaign worse. (Negated values would not do: the fitted scale
  of the prior mean may be negative, and a reversed trend is information.)

Usage: ``nice -n 5 .venv/bin/python benchmarks/transfer_benchmark.py [--seeds 20]
[--directions 3496:3851,3851:3496] [--arms none,prior_mean,unrelated] [--budget 60]
[--max-rows 300] [--workers 2] [--json runs.jsonl]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from element_benchmark import campaign_for, first_rows, load_plate, needed, quartiles
from reporting import command_line, markdown_table, package_versions, versions_text

ARMS = ("none", "prior_mean", "tasks", "pooled", "unrelated")


def transfer_run(
    source_name: str, target_name: str, arm: str, seed: int, budget: int, max_rows: int
) -> dict:
    """One run: the target's rows in the order measured, stopped at the first top-1 %."""
    from tansaku.campaign.schema import Campaign
    from tansaku.campaign.transfer import TransferMeasurement, TransferSet
    from tansaku.proposer import Observation, Proposer

    warnings.filterwarnings("ignore")
    target, source = load_plate(target_name), load_plate(source_name)
    rows = [dict(zip(target.names, map(float, r), strict=True)) for r in target.inputs]
    campaign = campaign_for(target, "both")
    transfer = []
    if arm != "none":
        # The campaign minimises the overpotential as measured (outputs are its negative).
        overpotentials = -source.outputs
        if arm == "unrelated":
            overpotentials = np.random.default_rng(seed).permutation(overpotentials)
        measured_before = [
            TransferMeasurement(
                line,
                {source.symbols[n]: float(v) for n, v in zip(source.names, r, strict=True)},
                {},
                float(overpotentials[line - 2]),
            )
            for line, r in enumerate(source.inputs, start=2)
        ]
        transfer = [TransferSet(f"oer_plate_{source_name}.csv", measured_before)]
        campaign["transfer_from"] = [
            {"path": "earlier.csv", "elements": source.symbols, "max_rows": max_rows}
        ]
        campaign["model"] = {"transfer": "prior_mean" if arm == "unrelated" else arm}
    proposer = Proposer(Campaign.model_validate(campaign), rows, transfer=transfer)
    index_of = {tuple(row.values()): i for i, row in enumerate(rows)}
    measured = first_rows(target, seed)
    started = time.perf_counter()
    details: list[dict] = []
    while len(measured) < budget and not target.top & set(measured):
        observations = [Observation(rows[i], -float(target.outputs[i])) for i in measured]
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=len(measured))
        measured.append(index_of[tuple(proposal.parameters.values())])
        details.append(proposal.details.get("hyperparameters", {}))
    last = details[-1] if details else {}
    return {
        "source": source_name,
        "target": target_name,
        "arm": arm,
        "seed": seed,
        "measured": measured,
        "prior_mean_scale": last.get("prior_mean_scale"),
        "transfer_correlation": last.get("transfer_correlation"),
        "seconds_per_step": (time.perf_counter() - started) / max(len(details), 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--directions", default="3496:3851,3851:3496", help="source:target")
    parser.add_argument("--arms", default="none,prior_mean,unrelated")
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--max-rows", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="append each run here (one JSON per line)")
    parser.add_argument("--reuse", type=Path, help="a --json file whose runs need not be rerun")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    directions = [tuple(d.split(":")) for d in arguments.directions.split(",")]
    arms = arguments.arms.split(",")
    unknown = set(arms) - set(ARMS)
    if unknown:
        parser.error(f"unknown arms {sorted(unknown)}; choose from {', '.join(ARMS)}")
    seeds = range(arguments.first_seed, arguments.first_seed + arguments.seeds)
    jobs = [
        (source, target, arm, seed, arguments.budget, arguments.max_rows)
        for seed in seeds
        for source, target in directions
        for arm in arms
    ]
    runs: list[dict] = []
    if arguments.reuse:
        done = [json.loads(line) for line in arguments.reuse.read_text().splitlines()]
        wanted = {job[:4] for job in jobs}
        runs = [r for r in done if (r["source"], r["target"], r["arm"], r["seed"]) in wanted]
        have = {(r["source"], r["target"], r["arm"], r["seed"]) for r in runs}
        jobs = [job for job in jobs if job[:4] not in have]
    with ProcessPoolExecutor(arguments.workers) as pool:
        for run in pool.map(transfer_run, *zip(*jobs, strict=True)) if jobs else ():
            runs.append(run)
            first = needed(load_plate(run["target"]), run["measured"], 1)
            print(
                f"{run['source']}->{run['target']} {run['arm']} seed {run['seed']}: first "
                f"{first}, scale {run['prior_mean_scale']}, "
                f"correlation {run['transfer_correlation']}",
                file=sys.stderr,
                flush=True,
            )
            if arguments.json:
                with arguments.json.open("a") as stream:
                    stream.write(json.dumps(run) + "\n")
    report(arguments, directions, arms, runs, time.perf_counter() - started)
    return 0


def report(
    arguments: argparse.Namespace,
    directions: Sequence[tuple[str, ...]],
    arms: Sequence[str],
    runs: list[dict],
    seconds: float,
) -> None:
    versions = versions_text(package_versions(("torch", "botorch", "gpytorch")))
    budget = arguments.budget
    print(f"## OER plates: transfer between element sets, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"`{command_line()}`; {os.cpu_count()} CPUs; {versions}; ")
    print(f"seeds {arguments.first_seed}..{arguments.first_seed + arguments.seeds - 1}; ")
    print(f"at most {budget} experiments per run, {arguments.max_rows} source rows; ")
    print(f"took {seconds / 60:.1f} min.\n")
    rows = []
    for source, target in directions:
        plate = load_plate(target)
        baseline = {
            r["seed"]: needed(plate, r["measured"], 1)
            for r in runs
            if (r["source"], r["target"], r["arm"]) == (source, target, "none")
        }
        for arm in arms:
            chosen = [
                r for r in runs if (r["source"], r["target"], r["arm"]) == (source, target, arm)
            ]
            if not chosen:
                continue
            first = [needed(plate, r["measured"], 1) for r in chosen]
            capped = [budget if f is None else f for f in first]
            change = later = "-"
            if baseline and arm != "none":
                base = statistics.median(budget if f is None else f for f in baseline.values())
                change = f"{100 * (statistics.median(capped) - base) / base:+.0f} %"
                # Seed by seed: the same two first rows, with and without the source.
                paired = [
                    (budget + 1 if f is None else f, budget if b is None else b)
                    for r, f in zip(chosen, first, strict=True)
                    if (b := baseline.get(r["seed"], -1)) != -1
                ]
                later = f"{sum(f > b for f, b in paired)} of {len(paired)}"
            scales = [r["prior_mean_scale"] for r in chosen if r["prior_mean_scale"] is not None]
            correlations = [
                r["transfer_correlation"][0] for r in chosen if r["transfer_correlation"]
            ]
            fitted = (
                f"scale {statistics.median(scales):.2f}"
                if scales
                else f"correlation {statistics.median(correlations):.2f}"
                if correlations
                else "-"
            )
            rows.append(
                [
                    f"{source} → {target}",
                    arm,
                    str(len(chosen)),
                    f"{sum(f is not None for f in first)} of {len(chosen)}",
                    quartiles(first, budget),
                    change,
                    later,
                    fitted,
                    f"{statistics.mean(r['seconds_per_step'] for r in chosen):.2f}",
                ]
            )
    headers = [
        "source → target",
        "arm",
        "runs",
        f"found a top-1 % within {budget}",
        "experiments to the first [IQR]",
        "median change against none",
        "runs later than none (same seed)",
        "fitted weight at the end (median)",
        "s per step",
    ]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    raise SystemExit(main())
