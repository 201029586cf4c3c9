"""Cheap simulations beside expensive experiments: best true value against cost spent.

Problem: Branin (x1 in [-5, 10], x2 in [0, 15], minimum 0.397887) is the experiment,
cost 10 (``--experiment-cost``); the simulation, cost 1, is BoTorch's AugmentedBranin
at fidelity 0.5 (``tansaku.simulators.fidelity.cheap_branin``), biased: its minimum lies
near one of Branin's, where Branin is 0.64. Readings are noise-free (the model infers the noise).

Arms (one experiment at a time, the campaign's defaults otherwise; the same optimiser
settings for both):
- experiment-only: ``tansaku.proposer.Proposer`` on Branin alone, budget / 10
  experiments;
- multi-fidelity: ``MultiFidelityProposer`` on the campaign with
  ``fidelities: {simulation: {cost: 1}, experiment: {cost: 10}}`` and ``budget: {cost:
  ...}``: it chooses each experiment's source.

Reported, over seeds: log10 regret of the best *experiment* (a measurement of Branin
itself; simulations never count) once ``c`` cost units are spent, at a few ``c``
(median and quartiles; a run without an experiment yet by then counts as the regret of
the worst point, log10(308.1 - 0.398)); how many experiments and simulations the
multi-fidelity arm made; and the regret of the point its model recommends at the end
(the posterior mean's best at the target, ``MultiFidelityProposer.recommend``).

Usage: ``nice -n 5 .venv/bin/python benchmarks/multi_fidelity_benchmark.py [--seeds 20]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime

import torch
from reporting import Spread, command_line, markdown_table, package_versions, versions_text

from tansaku.campaign.fidelities import FIDELITY
from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.fidelity import MultiFidelityProposer
from tansaku.simulators.fidelity import BRANIN_MINIMUM, branin, cheap_branin

SIMULATION_COST = 1.0
WORST_REGRET = 308.129096 - BRANIN_MINIMUM
"""Branin's largest value on the box, less its minimum: a run with no experiment yet."""

Run = list[tuple[float, str, float]]
"""``(cost spent after it, source, true value)`` of each experiment of one campaign."""


def campaign(seed: int, settings: argparse.Namespace, fidelities: bool) -> Campaign:
    spec: dict = {
        "name": "multi-fidelity-benchmark",
        "seed": seed,
        "space": [
            {"name": "x1", "type": "continuous", "bounds": [-5, 10]},
            {"name": "x2", "type": "continuous", "bounds": [0, 15]},
        ],
        "objectives": [{"name": "y", "goal": "minimize"}],
        "proposer": {"num_restarts": settings.num_restarts, "raw_samples": settings.raw_samples},
        "driver": {"type": "simulated"},
    }
    if fidelities:
        spec["budget"] = {"cost": settings.budget}
        spec["fidelities"] = {
            "simulation": {"cost": SIMULATION_COST, "driver": {"type": "simulated"}},
            "experiment": {"cost": settings.experiment_cost},
        }
    else:
        spec["budget"] = {"experiments": int(settings.budget // settings.experiment_cost)}
    return Campaign.model_validate(spec)


def run_experiment_only(seed: int, settings: argparse.Namespace) -> Run:
    proposer = Proposer(campaign(seed, settings, fidelities=False))
    observations: list[Observation] = []
    spent, made = 0.0, []
    while spent + settings.experiment_cost <= settings.budget + 1e-9:
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=len(observations))
        value = branin(proposal.parameters)
        observations.append(Observation(proposal.parameters, value, {"y": value}))
        spent += settings.experiment_cost
        made.append((spent, "experiment", value))
    return made


def run_multi_fidelity(seed: int, settings: argparse.Namespace) -> tuple[Run, float]:
    """The run, and the true value of the point its model recommends at the end."""
    proposer = MultiFidelityProposer(campaign(seed, settings, fidelities=True))
    observations: list[Observation] = []
    spent, made = 0.0, []
    while True:
        proposals = proposer.suggest(1, observations, proposed_so_far=len(observations))
        if not proposals:
            break
        point = proposals[0].parameters
        truth = point[FIDELITY] == "experiment"
        measured = branin(point) if truth else cheap_branin(point)
        observations.append(Observation(point, measured, {"y": measured}))
        spent += settings.experiment_cost if truth else SIMULATION_COST
        made.append((spent, str(point[FIDELITY]), branin(point)))
    recommended = proposer.recommend(observations, proposed_so_far=len(observations))
    return made, branin(recommended)


def log_regret_at(run: Run, cost: float) -> float:
    """log10 regret of the best experiment at the truth once ``cost`` was spent."""
    values = [value for spent, source, value in run if spent <= cost and source == "experiment"]
    best = min(values) if values else BRANIN_MINIMUM + WORST_REGRET
    return math.log10(max(best - BRANIN_MINIMUM, 1e-12))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=120.0, help="in cost units")
    parser.add_argument("--experiment-cost", type=float, default=10.0)
    parser.add_argument("--checkpoints", default="40,80,120")
    parser.add_argument("--num-restarts", type=int, default=4)
    parser.add_argument("--raw-samples", type=int, default=128)
    settings = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    started = time.perf_counter()
    only: list[Run] = []
    multi: list[Run] = []
    recommended: list[float] = []
    for seed in range(settings.seeds):
        only.append(run_experiment_only(seed, settings))
        made, value = run_multi_fidelity(seed, settings)
        multi.append(made)
        recommended.append(value)
        print(
            f"seed {seed}: experiment-only {log_regret_at(only[-1], settings.budget):.2f}, "
            f"multi-fidelity {log_regret_at(made, settings.budget):.2f} "
            f"({sum(s == 'experiment' for _, s, _ in made)} experiments, "
            f"{sum(s == 'simulation' for _, s, _ in made)} simulations)",
            file=sys.stderr,
            flush=True,
        )
    report(settings, only, multi, recommended, time.perf_counter() - started)
    return 0


def report(
    settings: argparse.Namespace,
    only: list[Run],
    multi: list[Run],
    recommended: list[float],
    total: float,
) -> None:
    versions = versions_text(package_versions(("torch", "botorch", "gpytorch")))
    print(f"## Multi-fidelity Branin, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"`{command_line()}`; {os.cpu_count()} CPUs; {versions}; ")
    print(
        f"seeds 0..{settings.seeds - 1}; budget {settings.budget:g} cost units (experiment "
        f"{settings.experiment_cost:g}, simulation {SIMULATION_COST:g}); num_restarts "
        f"{settings.num_restarts}, raw_samples {settings.raw_samples}; took "
        f"{total / 60:.1f} min.\n"
    )
    checkpoints = [float(c) for c in settings.checkpoints.split(",")]
    headers = ["Arm", *(f"log10 regret at cost {c:g} [IQR]" for c in checkpoints)]
    rows = []
    for name, runs in (("experiment-only", only), ("multi-fidelity", multi)):
        cells = []
        for c in checkpoints:
            spread = Spread.of([log_regret_at(r, c) for r in runs])
            cells.append(f"{spread.median:.2f} [{spread.q1:.2f}, {spread.q3:.2f}]")
        rows.append([name, *cells])
    print(markdown_table(headers, rows))
    experiments = Spread.of([sum(s == "experiment" for _, s, _ in r) for r in multi])
    simulations = Spread.of([sum(s == "simulation" for _, s, _ in r) for r in multi])
    advice = Spread.of([math.log10(max(v - BRANIN_MINIMUM, 1e-12)) for v in recommended])
    wins = sum(
        log_regret_at(m, settings.budget) < log_regret_at(o, settings.budget)
        for m, o in zip(multi, only, strict=True)
    )
    print(
        f"\nMulti-fidelity runs made a median of {experiments.median:g} experiments "
        f"[{experiments.q1:g}, {experiments.q3:g}] and {simulations.median:g} simulations "
        f"[{simulations.q1:g}, {simulations.q3:g}]; the experiment-only arm "
        f"{int(settings.budget // settings.experiment_cost)} experiments. At cost "
        f"{settings.budget:g} the multi-fidelity arm was better in {wins} of {len(multi)} "
        f"seeds. Its model's recommended point at the end: log10 regret "
        f"{advice.median:.2f} [{advice.q1:.2f}, {advice.q3:.2f}]. A run without an "
        f"experiment yet counts as log10 {math.log10(WORST_REGRET):.2f}."
    )


if __name__ == "__main__":
    sys.exit(main())
