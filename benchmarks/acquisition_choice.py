"""How the choice of acquisition (``proposer.acquisition``) changes final simple regret.

On Branin (25 experiments) and Hartmann6 (30 experiments), each acquisition runs the
same seeds through ``tansaku.proposer.Proposer`` in-process, one experiment at a time,
from the campaign's own Sobol design (the same design for every acquisition on a seed,
so the comparison is paired). The acquisition optimiser is cut to ``--restarts`` restarts
from ``--raw-samples`` points (the campaign defaults are 10 and 512) so that the whole
grid fits in about 25 minutes on a loaded 2-core machine; every acquisition gets the
same cut. Reports the median log10 final regret with its quartiles and range, as a
Markdown table on stdout; raw results go to ``--json`` after every run, and a rerun with
the same file skips the runs already there.

Usage: ``nice -n 5 .venv/bin/python benchmarks/acquisition_choice.py [--seeds 20]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from reporting import (
    Spread,
    command_line,
    log,
    log10_gap,
    markdown_table,
    package_versions,
    versions_text,
    write_json,
)

from tansaku.campaign.loading import parse_campaign
from tansaku.proposer import Observation, Proposer
from tansaku.simulators.benchmarks import BENCHMARKS, BenchmarkSimulator

REPO = Path(__file__).resolve().parents[1]
PROBLEMS = {"Branin/25": ("branin", 25), "Hartmann6/30": ("hartmann6", 30)}
ARMS = {
    "nei (default)": "{type: nei}",
    "ei, xi = 0": "{type: ei, xi: 0}",
    "ei, xi = 0.01": "{type: ei, xi: 0.01}",
    "ucb, beta = 2": "{type: ucb, beta: 2}",
    "pi, xi = 0.01": "{type: pi, xi: 0.01}",
    "thompson": "{type: thompson}",
}
"""Label → ``proposer.acquisition`` as a campaign writes it. xi is in standard deviations
of the results so far (the model's standardised units)."""


def campaign_text(
    function: str, budget: int, seed: int, acquisition: str, restarts: int, raw_samples: int
) -> str:
    """A single-objective minimisation campaign on ``function`` with ``acquisition``."""
    dim = BENCHMARKS[function].dim
    assert dim is not None
    if function == "branin":
        space = [("x1", -5, 10), ("x2", 0, 15)]
    else:
        space = [(f"x{i + 1}", 0, 1) for i in range(dim)]
    lines = [
        f"name: {function}-acquisition",
        f"seed: {seed}",
        f"budget: {{experiments: {budget}}}",
        "space:",
        *(f"  - {{name: {n}, type: continuous, bounds: [{lo}, {hi}]}}" for n, lo, hi in space),
        "objectives:",
        "  - {name: y, goal: minimize}",
        "proposer:",
        f"  acquisition: {acquisition}",
        f"  num_restarts: {restarts}",
        f"  raw_samples: {raw_samples}",
        "driver:",
        "  type: simulated",
        f"  simulator: {{type: benchmark, function: {function}}}",
    ]
    return "\n".join(lines) + "\n"


def run_once(text: str, function: str, budget: int) -> dict[str, float]:
    """One campaign, one experiment at a time: its log10 final regret and seconds taken."""
    loaded = parse_campaign(text, REPO / "benchmarks" / "acquisition_choice.yaml")
    campaign = loaded.campaign
    proposer = Proposer(campaign)
    simulator = BenchmarkSimulator(function, [p.name for p in campaign.space])
    observations: list[Observation] = []
    started = time.perf_counter()
    for step in range(budget):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=step)
        value = float(simulator(proposal.parameters))
        observations.append(Observation(proposal.parameters, value))
    best = min(o.value for o in observations)
    return {
        "log10_regret": log10_gap(best - BENCHMARKS[function].minimum),
        "seconds": time.perf_counter() - started,
    }


def report(results: dict[str, dict], seeds: Sequence[int], problems: Sequence[str]) -> str:
    """The Markdown table: median [q1, q3] (min .. max) log10 final regret per arm."""
    rows = []
    for arm in ARMS:
        row = [arm]
        for problem in problems:
            values = [
                results[f"{problem}|{arm}|{s}"]["log10_regret"]
                for s in seeds
                if f"{problem}|{arm}|{s}" in results
            ]
            if not values:
                row.append("—")
                continue
            spread = Spread.of(values)
            row.append(
                f"{spread.median:.2f} [{spread.q1:.2f}, {spread.q3:.2f}] "
                f"({spread.low:.2f} .. {spread.high:.2f}), n={len(values)}"
            )
        seconds = [
            r["seconds"]
            for k, r in results.items()
            if k.split("|")[1] == arm and int(k.split("|")[2]) in seeds
        ]
        row.append(f"{np.median(seconds):.1f}" if seconds else "—")
        rows.append(row)
    headers = ["acquisition", *(f"{p}: log10 regret" for p in problems), "median s / run"]
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--raw-samples", type=int, default=128)
    parser.add_argument(
        "--json", type=Path, default=REPO / "benchmarks" / "results" / "acquisition_choice.json"
    )
    parser.add_argument("--problems", default=",".join(PROBLEMS), help="e.g. Branin/25")
    parser.add_argument(
        "--budget", type=int, help="experiments per run for every problem (a smoke test's cut)"
    )
    args = parser.parse_args()
    results: dict[str, dict] = json.loads(args.json.read_text()) if args.json.exists() else {}
    seeds = list(range(args.seeds))
    problems = {name: PROBLEMS[name] for name in args.problems.split(",")}
    started = time.perf_counter()
    for seed in seeds:
        for problem, (function, budget) in problems.items():
            budget = args.budget or budget
            for arm, acquisition in ARMS.items():
                key = f"{problem}|{arm}|{seed}"
                if key in results:
                    continue
                text = campaign_text(
                    function, budget, seed, acquisition, args.restarts, args.raw_samples
                )
                results[key] = {**run_once(text, function, budget), "load": os.getloadavg()[0]}
                write_json(args.json, results)
                log(f"{key}: {results[key]['log10_regret']:.2f} ({results[key]['seconds']:.1f} s)")
    loads = [r["load"] for r in results.values()]
    print(
        f"Command: `{command_line()}` (restarts {args.restarts}, raw samples "
        f"{args.raw_samples}); {time.perf_counter() - started:.0f} s this invocation; "
        f"1-minute load median {np.median(loads):.2f}.\n"
    )
    print(versions_text(package_versions(("tansaku", "torch", "botorch", "gpytorch"))) + "\n")
    print(report(results, seeds, problems))


if __name__ == "__main__":
    main()
