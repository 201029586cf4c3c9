"""Mapping a property (``purpose: learn``): the surrogate's error against the experiments spent.

Protocol: each arm chooses experiments one at a time; after 20, 30, 40 and 60 of them the
same model (the proposer's GP, fitted as a ``purpose: learn`` campaign fits it) is fitted
to the arm's experiments and its mean prediction is scored on a dense held-out set by the
RMSE, divided by the standard deviation of the held-out values (1.0 = no better than
predicting the mean).

Problems:
- Hartmann6 on [0, 1]^6, held-out set: 2,000 scrambled Sobol points (seed 12345);
- the P3HT/CNT and AgNP pools of the PV-Lab datasets (Liang et al. 2021; replicates
  averaged into one candidate per distinct input: 178 and 164 rows), held-out set: the
  whole pool, measured rows included.

Arms:
- learn: ``tansaku.proposer.Proposer`` on a ``purpose: learn`` campaign (its default initial
  design, then the integrated-variance acquisition; in a pool, over the pool's rows);
- sobol: a scrambled Sobol sequence (in a pool: the unused row nearest to each successive
  Sobol point, inputs scaled to the pool's range);
- random: uniform random points (in a pool: random rows).

Usage: ``nice -n 5 .venv/bin/python benchmarks/learn_benchmark.py [--seeds 20]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from botorch.test_functions import Hartmann
from pool_benchmark import DATASETS, load_pool
from reporting import (
    Spread,
    command_line,
    markdown_table,
    package_versions,
    versions_text,
    write_json,
)
from torch.quasirandom import SobolEngine

from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer

CHECKPOINTS = "20,30,40,60"
"""Default experiments after which the maps are scored (``--checkpoints``)."""
HELD_OUT = 2000
HELD_OUT_SEED = 12345


@dataclass(frozen=True)
class Problem:
    """A property to map: its space, the truth, and where the map is scored."""

    name: str
    bounds: np.ndarray  # d x 2
    truth: Callable[[np.ndarray], np.ndarray]  # n x d -> n
    test_x: np.ndarray  # m x d
    test_y: np.ndarray  # m
    pool: np.ndarray | None = None  # rows to choose from; None: the whole box

    @property
    def names(self) -> list[str]:
        return [f"x{i}" for i in range(self.bounds.shape[0])]

    def point(self, row: np.ndarray) -> dict[str, float]:
        return dict(zip(self.names, map(float, row), strict=True))


def hartmann6() -> Problem:
    function = Hartmann(dim=6)

    def truth(x: np.ndarray) -> np.ndarray:
        return function(torch.as_tensor(x, dtype=torch.float64)).numpy()

    engine = SobolEngine(6, scramble=True, seed=HELD_OUT_SEED)
    test_x = engine.draw(HELD_OUT, dtype=torch.float64).numpy()
    return Problem("Hartmann6", np.array([[0.0, 1.0]] * 6), truth, test_x, truth(test_x))


def pool_problem(name: str) -> Problem:
    pool = load_pool(DATASETS[name])
    index = {tuple(row): i for i, row in enumerate(pool.inputs)}

    def truth(x: np.ndarray) -> np.ndarray:
        return np.array([pool.outputs[index[tuple(row)]] for row in x])

    bounds = np.stack([pool.inputs.min(axis=0), pool.inputs.max(axis=0)], axis=1)
    return Problem(name, bounds, truth, pool.inputs, pool.outputs, pool=pool.inputs)


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "Hartmann6": hartmann6,
    "P3HT": lambda: pool_problem("P3HT"),
    "AgNP": lambda: pool_problem("AgNP"),
}


def learn_campaign(problem: Problem, seed: int, settings: argparse.Namespace) -> Campaign:
    spec: dict = {
        "name": "learn-benchmark",
        "seed": seed,
        "purpose": "learn",
        "budget": {"experiments": max(settings.checkpoints)},
        "space": [
            {"name": n, "type": "continuous", "bounds": [float(lo), float(hi)]}
            for n, (lo, hi) in zip(problem.names, problem.bounds, strict=True)
        ],
        "objectives": [{"name": "y", "goal": "maximize"}],
        "proposer": {"num_restarts": settings.num_restarts, "raw_samples": settings.raw_samples},
        "driver": {"type": "simulated"},
    }
    if problem.pool is not None:
        spec["candidates"] = {"path": "pool.csv"}  # rows are handed over directly
    return Campaign.model_validate(spec)


def proposer_for(problem: Problem, seed: int, settings: argparse.Namespace) -> Proposer:
    rows = None if problem.pool is None else [problem.point(r) for r in problem.pool]
    return Proposer(learn_campaign(problem, seed, settings), rows)


def learn_points(problem: Problem, seed: int, settings: argparse.Namespace) -> np.ndarray:
    """The experiments a learning campaign chooses, in order (``max(checkpoints) x d``)."""
    proposer = proposer_for(problem, seed, settings)
    observations: list[Observation] = []
    chosen: list[np.ndarray] = []
    while len(chosen) < max(settings.checkpoints):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=len(chosen))
        x = np.array([float(proposal.parameters[n]) for n in problem.names])
        observations.append(Observation(proposal.parameters, float(problem.truth(x[None])[0])))
        chosen.append(x)
    return np.array(chosen)


def sobol_points(problem: Problem, seed: int, n: int) -> np.ndarray:
    d = problem.bounds.shape[0]
    unit = SobolEngine(d, scramble=True, seed=seed).draw(n, dtype=torch.float64).numpy()
    low, high = problem.bounds[:, 0], problem.bounds[:, 1]
    if problem.pool is None:
        return low + unit * (high - low)
    scaled = (problem.pool - low) / np.where(high > low, high - low, 1.0)
    free = np.ones(len(scaled), dtype=bool)
    chosen = []
    for target in unit:
        distance = np.where(free, ((scaled - target) ** 2).sum(axis=1), np.inf)
        row = int(np.argmin(distance))
        free[row] = False
        chosen.append(row)
    return problem.pool[chosen]


def random_points(problem: Problem, seed: int, n: int) -> np.ndarray:
    d = problem.bounds.shape[0]
    rng = np.random.default_rng(seed)
    if problem.pool is None:
        low, high = problem.bounds[:, 0], problem.bounds[:, 1]
        return low + rng.random((n, d)) * (high - low)
    return problem.pool[rng.choice(len(problem.pool), size=n, replace=False)]


def relative_rmse(
    problem: Problem, points: np.ndarray, seed: int, settings: argparse.Namespace
) -> list[float]:
    """The held-out RMSE / sd of the model fitted to the first k points, per checkpoint."""
    proposer = proposer_for(problem, seed, settings)
    values = problem.truth(points)
    test = torch.tensor(problem.test_x, dtype=torch.float64)
    spread = float(problem.test_y.std())
    errors = []
    for k in settings.checkpoints:
        observations = [
            Observation(problem.point(x), float(y))
            for x, y in zip(points[:k], values[:k], strict=True)
        ]
        surrogate = proposer.surrogate(observations, proposed_so_far=k)
        assert surrogate is not None
        mean = surrogate.predict_encoded(test).mean[:, 0]
        errors.append(float(np.sqrt(np.mean((mean - problem.test_y) ** 2))) / spread)
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--arms", default="learn,sobol,random")
    parser.add_argument("--num-restarts", type=int, default=4)
    parser.add_argument("--raw-samples", type=int, default=128)
    parser.add_argument("--json", type=Path, help="write per-run errors here")
    parser.add_argument(
        "--checkpoints", default=CHECKPOINTS, help="experiments after which maps are scored"
    )
    settings = parser.parse_args(argv)
    settings.checkpoints = tuple(int(k) for k in settings.checkpoints.split(","))
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    started = time.perf_counter()
    results: dict[str, dict[str, list[list[float]]]] = {}
    seconds: dict[str, float] = {}
    for name in settings.problems.split(","):
        problem = PROBLEMS[name]()
        results[name] = {}
        for arm in settings.arms.split(","):
            arm_started = time.perf_counter()
            runs = []
            for seed in range(settings.seeds):
                if arm == "learn":
                    points = learn_points(problem, seed, settings)
                elif arm == "sobol":
                    points = sobol_points(problem, seed, max(settings.checkpoints))
                else:
                    points = random_points(problem, seed, max(settings.checkpoints))
                runs.append(relative_rmse(problem, points, seed, settings))
                print(f"{name} {arm} seed {seed}: {runs[-1]}", file=sys.stderr, flush=True)
            results[name][arm] = runs
            seconds[f"{name}/{arm}"] = time.perf_counter() - arm_started
    report(settings, results, seconds, time.perf_counter() - started)
    if settings.json:
        write_json(settings.json, {"checkpoints": settings.checkpoints, "results": results})
    return 0


def report(
    settings: argparse.Namespace,
    results: dict[str, dict[str, list[list[float]]]],
    seconds: dict[str, float],
    total: float,
) -> None:
    versions = versions_text(package_versions(("torch", "botorch", "gpytorch")))
    print(f"## Mapping a property (purpose: learn), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"`{command_line()}`; {os.cpu_count()} CPUs; {versions}; ")
    print(
        f"seeds 0..{settings.seeds - 1}; num_restarts {settings.num_restarts}, raw_samples "
        f"{settings.raw_samples}; took {total / 60:.1f} min.\n"
    )
    headers = ["Problem", "Arm", *(f"RMSE/sd at {k} [IQR]" for k in settings.checkpoints), "min"]
    rows = []
    for name, arms in results.items():
        for arm, runs in arms.items():
            cells = []
            for column in range(len(settings.checkpoints)):
                spread = Spread.of([run[column] for run in runs])
                cells.append(f"{spread.median:.3f} [{spread.q1:.3f}, {spread.q3:.3f}]")
            rows.append([name, arm, *cells, f"{seconds[f'{name}/{arm}'] / 60:.1f}"])
    print(markdown_table(headers, rows))
    print()
    for name, arms in results.items():
        if "learn" not in arms or "sobol" not in arms:
            continue
        goal = statistics.median(run[-1] for run in arms["sobol"])
        checkpoints = settings.checkpoints
        learned = [
            statistics.median(run[c] for run in arms["learn"]) for c in range(len(checkpoints))
        ]
        reached = next((k for k, e in zip(checkpoints, learned, strict=True) if e <= goal), None)
        verdict = (
            f"reaches it by {reached} experiments" if reached is not None else "does not reach it"
        )
        met = "met" if reached is not None and reached <= 40 else "missed"
        print(
            f"- {name}: Sobol's median after {max(checkpoints)} experiments is {goal:.3f}; "
            f"learn's median {verdict} (target: by 40, {met})."
        )


if __name__ == "__main__":
    raise SystemExit(main())
