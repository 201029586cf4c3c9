"""Pool screening on the four PV-Lab datasets, following Liang et al. (npj Comput. Mater. 7,
188, 2021).

Protocol: replicate measurements are averaged into one candidate per distinct input; each
run starts from 2 random candidates (the same two for every arm of a seed) and then
chooses one experiment at a time from the candidates not yet measured. Top%(i) is the
fraction of the pool's best 5 % found after i experiments. Random search needs about
0.8 N experiments to reach Top% = 0.8 (N candidates; 142, 131, 80 and 75 on P3HT, AgNP,
AutoAM and Perovskite), so the acceleration factor is AF(0.8) = round(0.8 N) / median
over runs of the experiments an arm needs to reach 0.8; the enhancement factor
EF(i) = mean Top%(i) / (i / N).

Arms:
- tansaku: ``tansaku.proposer.Proposer`` on a candidate-pool campaign with default
  settings (initial design replaced by the protocol's 2 random rows);
- sklearn: the paper's baseline, a GP with an anisotropic Matern-5/2 kernel (plus a
  white-noise term), standardised inputs and outputs, and expected improvement.

Each run stops once it reaches Top% = 0.8 (or the pool is used up).

Usage: ``.venv/bin/python benchmarks/pool_benchmark.py [--seeds 50] [--datasets ...]``
(needs the ``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import math
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
import pandas as pd
from reporting import (
    Spread,
    command_line,
    markdown_table,
    package_versions,
    versions_text,
    write_json,
)

from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "simulators" / "data" / "pvlab"
TOP_FRACTION = 0.05
TARGET = 0.8
INITIAL = 2


@dataclass(frozen=True)
class Dataset:
    name: str
    file: str
    goal: str  # "maximize" or "minimize"


DATASETS = {
    "P3HT": Dataset("P3HT", "P3HT_dataset.csv", "maximize"),
    "AgNP": Dataset("AgNP", "AgNP_dataset.csv", "minimize"),
    "AutoAM": Dataset("AutoAM", "AutoAM_dataset.csv", "maximize"),
    "Perovskite": Dataset("Perovskite", "Perovskite_dataset.csv", "minimize"),
}


@dataclass(frozen=True)
class Pool:
    inputs: np.ndarray  # N x d
    outputs: np.ndarray  # N, larger is better
    top: frozenset[int]  # indices of the best 5 %

    @property
    def size(self) -> int:
        return len(self.outputs)


def load_pool(dataset: Dataset) -> Pool:
    """Average replicates; sign outputs so that larger is better; mark the top 5 %."""
    frame = pd.read_csv(DATA / dataset.file, encoding="utf-8-sig")
    inputs, output = list(frame.columns[:-1]), frame.columns[-1]
    averaged = frame.groupby(inputs, as_index=False)[output].mean()
    sign = 1.0 if dataset.goal == "maximize" else -1.0
    values = sign * averaged[output].to_numpy(dtype=float)
    count = math.ceil(TOP_FRACTION * len(values))
    top = frozenset(int(i) for i in np.argsort(-values, kind="stable")[:count])
    return Pool(averaged[inputs].to_numpy(dtype=float), values, top)


Chooser = Callable[[Pool, list[int], int], int]
"""(pool, measured indices in order, step) -> next index."""


def tansaku_chooser(pool: Pool) -> Chooser:
    names = [f"x{i}" for i in range(pool.inputs.shape[1])]
    low, high = pool.inputs.min(axis=0), pool.inputs.max(axis=0)
    rows = [dict(zip(names, map(float, row), strict=True)) for row in pool.inputs]
    campaign = Campaign.model_validate(
        {
            "name": "pool-benchmark",
            "budget": {"experiments": pool.size},
            "candidates": {"path": "pool.csv"},  # rows are handed over directly
            "space": [
                {"name": n, "type": "continuous", "bounds": [float(lo), float(hi)]}
                for n, lo, hi in zip(names, low, high, strict=True)
            ],
            "objectives": [{"name": "y", "goal": "maximize"}],
            "proposer": {"initial": {"n": INITIAL}},
            "driver": {"type": "simulated"},
        }
    )
    proposer = Proposer(campaign, rows)
    index_of = {tuple(row.values()): i for i, row in enumerate(rows)}

    def choose(pool: Pool, measured: list[int], step: int) -> int:
        observations = [Observation(rows[i], float(pool.outputs[i])) for i in measured]
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=len(measured))
        return index_of[tuple(proposal.parameters.values())]

    return choose


def sklearn_chooser(pool: Pool) -> Chooser:
    from scipy.stats import norm
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    from sklearn.preprocessing import StandardScaler

    scaled = StandardScaler().fit_transform(pool.inputs)
    d = scaled.shape[1]

    def choose(pool: Pool, measured: list[int], step: int) -> int:
        y = pool.outputs[measured]
        y_mean, y_std = y.mean(), y.std() or 1.0
        kernel = ConstantKernel(1.0) * Matern(length_scale=np.ones(d), nu=2.5) + WhiteKernel(1e-3)
        model = GaussianProcessRegressor(kernel, n_restarts_optimizer=2, random_state=step)
        model.fit(scaled[measured], (y - y_mean) / y_std)
        free = np.setdiff1d(np.arange(pool.size), measured)
        mean, std = model.predict(scaled[free], return_std=True)
        best = ((y - y_mean) / y_std).max()
        z = (mean - best - 0.01) / np.maximum(std, 1e-12)
        ei = (mean - best - 0.01) * norm.cdf(z) + std * norm.pdf(z)
        return int(free[int(np.argmax(ei))])

    return choose


def run(pool: Pool, chooser: Chooser, seed: int) -> list[float]:
    """Top%(i) for i = 1.. until it reaches the target; starts from 2 seeded random rows."""
    rng = np.random.default_rng(seed)
    measured = [int(i) for i in rng.choice(pool.size, size=INITIAL, replace=False)]
    curve = [len(pool.top & set(measured[: i + 1])) / len(pool.top) for i in range(INITIAL)]
    while curve[-1] < TARGET and len(measured) < pool.size:
        measured.append(chooser(pool, measured, len(measured)))
        curve.append(len(pool.top & set(measured)) / len(pool.top))
    return curve


def needed(curve: Sequence[float]) -> int:
    return next(i + 1 for i, value in enumerate(curve) if value >= TARGET)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--arms", default="tansaku,sklearn")
    parser.add_argument("--json", type=Path, help="write per-run curves here")
    arguments = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    arms = {"tansaku": tansaku_chooser, "sklearn": sklearn_chooser}
    chosen_arms = arguments.arms.split(",")
    results: dict[str, dict[str, list[list[float]]]] = {}
    timing: dict[str, dict[str, float]] = {}
    for name in arguments.datasets.split(","):
        pool = load_pool(DATASETS[name])
        results[name], timing[name] = {}, {}
        for arm in chosen_arms:
            arm_started = time.perf_counter()
            curves = []
            for seed in range(arguments.seeds):
                curves.append(run(pool, arms[arm](pool), seed))
                print(f"{name} {arm} seed {seed}: {needed(curves[-1])}", file=sys.stderr)
            results[name][arm] = curves
            steps = sum(len(c) - INITIAL for c in curves)
            timing[name][arm] = (time.perf_counter() - arm_started) / max(steps, 1)
    report(arguments, results, timing, time.perf_counter() - started)
    if arguments.json:
        write_json(arguments.json, {"results": results, "timing": timing})
    return 0


def report(
    arguments: argparse.Namespace,
    results: dict[str, dict[str, list[list[float]]]],
    timing: dict[str, dict[str, float]],
    seconds: float,
) -> None:
    versions = versions_text(package_versions(("torch", "botorch", "gpytorch", "scikit-learn")))
    print(f"## Pool screening (Liang et al. protocol), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"`{command_line()}`; {os.cpu_count()} CPUs; {versions}; ")
    print(f"seeds 0..{arguments.seeds - 1}; took {seconds / 60:.1f} min.\n")
    rows = []
    for name, arms in results.items():
        pool = load_pool(DATASETS[name])
        random_needed = round(TARGET * pool.size)
        for arm, curves in arms.items():
            counts = Spread.of([needed(c) for c in curves])
            at_ten = statistics.mean(c[9] if len(c) > 9 else TARGET for c in curves)
            ef10 = at_ten / (10 / pool.size)
            rows.append(
                [
                    name,
                    str(pool.size),
                    str(len(pool.top)),
                    str(random_needed),
                    arm,
                    f"{counts.median:g} [{counts.q1:g}, {counts.q3:g}]",
                    f"{random_needed / counts.median:.2f}",
                    f"{ef10:.2f}",
                    f"{timing[name][arm]:.2f}",
                ]
            )
    headers = [
        "Dataset",
        "N",
        "top 5 %",
        "random needs",
        "Arm",
        "median needed [IQR]",
        "AF(0.8)",
        "EF(10)",
        "s per step",
    ]
    print(markdown_table(headers, rows))
    print(
        "\nEF(10) counts a run that reached 0.8 before 10 experiments as 0.8 at 10 (a lower bound)."
    )


if __name__ == "__main__":
    raise SystemExit(main())
