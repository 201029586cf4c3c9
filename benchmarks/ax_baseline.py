"""tansaku against Ax's default generation strategy and Sobol, on the same problems.

Measures, for each problem below and seeds 0..N-1, these arms, each one trial at a time
(propose one point, evaluate it, report it back):

- "tansaku <version>" (``--arms tansaku``): tansaku's own ``Proposer`` on a campaign built
  for the problem (``tansaku_campaign``) at the campaign's default settings, the same for
  every problem: a scrambled Sobol initial design of max(5, d + 1) points (inside the
  constraint for the constrained problem), then a GP refitted at every step and qLogNEI,
  or qLogNEHVI for the two objectives; the campaign's seed is the run's seed.
  ``Proposer(campaign).suggest(1, observations, proposed_so_far=i)``, as the campaign flow
  calls it. Needs no Ax;
- "Ax <version> default": Ax's ``Client`` API (``get_next_trials(max_trials=1)``,
  evaluate, ``complete_trial``) with ``Client(random_seed=seed)`` and no generation
  strategy configured, so Ax chooses its default (center point, Sobol up to 5 trials,
  then ``MBM`` — BoTorch's modular model with Ax's default surrogate and acquisition);
- "Sobol only": the same ``Client`` API with ``configure_generation_strategy(
  method="random_search", initialize_with_center=False, initialization_random_seed=seed)``,
  a scrambled Sobol sequence for the whole budget;
- optional (``--arms default_sem0``), "Ax <version> default, SEM 0": the default strategy,
  but every value is reported with a standard error of 0 (noise-free), not as a bare
  float;
- optional (``--arms tansaku_noise_free``), "tansaku <version>, noise_free": tansaku's
  counterpart of SEM 0, the same campaign with ``noise_free: true`` on every objective;
- optional (``--arms tansaku_noisy``), "tansaku <version>, noise_free: false": the same
  campaign told the values are noisy, so the noise level is always inferred (the default
  until tansaku chose between exact and noisy from the data, ``proposer/noise.py``).

Problems (all noise-free ``botorch.test_functions``, all minimised; the functions' values
are given to Ax as bare floats, so Ax infers the noise level as a user would, except in the
SEM-0 arm; tansaku gets them as a campaign's measurements, and at its default chooses
between an exact and a noisy model from the data at each refit):

- ``branin30``: Branin, 30 evaluations, x1 in [-5, 10], x2 in [0, 15], minimum 0.397887;
- ``hartmann6_35`` and ``hartmann6_50``: Hartmann6 on [0, 1]^6, 35 and 50 evaluations,
  minimum -3.32237;
- ``branin_c30``: Branin under the linear constraint ``x1 + x2 <= 4`` (Ax
  ``parameter_constraints``), 30 evaluations. The constraint cuts off all three of
  Branin's global minima (their x1 + x2 are 9.13, 5.42 and 11.90), so the constrained
  minimum lies on the constraint; the script computes it (dense grid, then SLSQP) and
  prints it in the report. A point counts as feasible within 1e-6 of the constraint
  (Ax's candidates overshoot it by up to ~1e-8). tansaku gets the same constraint as the
  campaign's ``constraints``;
- ``branincurrin30``: BraninCurrin on [0, 1]^2, both objectives minimised, 30
  evaluations; its reference point (18, 6) is given to Ax as objective thresholds, and to
  tansaku as the objectives' ``threshold``.

Noisy variants (``branin30_noise1``, ``branin30_noise5``, ``hartmann6_35_noise1``,
``hartmann6_35_noise5``): the same functions and budgets, each measurement with Gaussian
noise of 1 % or 5 % of the function's range over the box added (the same noise for every
arm of a seed); the optimisers are told the noisy values, and a run is scored on the true
value of its points.

Metrics per run: the final log10 simple regret, log10(best observed - minimum) floored at
1e-12 (for a noisy variant, the best true value among the evaluated points), or for
BraninCurrin the final hypervolume w.r.t. the reference point and
log10(max_hv - hv); and the mean wall seconds per iteration (``get_next_trials`` plus
``complete_trial`` for Ax, ``Proposer.suggest`` for tansaku; the function evaluation
excluded), separately for model-based iterations (Ax's MBM node, tansaku's "gp"
proposals, both recorded as node ``MBM``) and for initialisation (center, Sobol)
iterations.

Output: a Markdown report on stdout (progress on stderr) with, per problem and arm, the
median, [min, max] and IQR of the final metric, the median seconds per iteration, and every
seed's value; ``--json PATH`` also writes every raw per-seed number (evaluated points,
values, best-so-far traces, per-iteration timings, warning counts), rewritten after every
run. Warnings (Ax emits many Pandas4Warning lines with pandas 3) are silenced and counted
per run; Ax's INFO logging is turned off.

The Ax arms need the ``bench`` extra (``pip install -e '.[bench]'``); Ax is imported only
when one of them runs, so ``--arms tansaku`` (and ``--report-from``) work without it, as in
CI. Usage, from the repository root:

    .venv/bin/python benchmarks/ax_baseline.py [--seeds N] [--problems KEY,KEY,...]
        [--arms default,sobol,tansaku,default_sem0,tansaku_noise_free] [--seeds-override KEY=N]
        [--budget-override KEY=N] [--torch-threads N] [--note TEXT] [--json PATH [--resume]]
    .venv/bin/python benchmarks/ax_baseline.py --report-from PATH

Without ``--seeds`` it runs seeds 0..9, and without ``--arms`` the arms default and
sobol. ``--seeds-override`` runs fewer (or more) seeds
for one problem; ``--budget-override`` (for smoke tests) changes a problem's number of
evaluations; ``--note`` adds a sentence under the report's header. ``--report-from PATH``
runs nothing and prints the report of the runs a ``--json PATH`` file holds (also of an
unfinished run, since the file is rewritten after every run). ``--resume`` (with
``--json``) keeps the finished runs already in that file and makes only the missing ones:
with one torch thread a run is deterministic (a rerun of 60 runs reproduced every point),
so an interrupted benchmark can be completed instead of restarted, or a file of Ax runs
completed with the tansaku arm (``--arms default,sobol,tansaku --resume``).

Torch runs with one intra-op thread unless ``--torch-threads`` says otherwise: on the
2-core development machine, with other work (a test run) sharing the cores, two threads
made a Branin model-based iteration about 15 times slower (about 5 s against 0.3 s, the
same candidates) through thread oversubscription; with one thread the figures barely
depend on other load. The reports give the thread count and the load average.

Cost on that machine with one torch thread, per seed of the Ax-default arm: about 8 s
(Branin/30), 16 s (Hartmann6/35), 25 s (Hartmann6/50), 36 s (BraninCurrin/30, qLogNEHVI)
and 1.5 to 4 min (constrained Branin/30: linear constraints make BoTorch optimise the
acquisition with SLSQP, and late iterations take up to ~90 s); a Sobol-only seed takes 1
to 2 s. All problems with 10 seeds: about 40 min. A tansaku seed took 4 to 6 s
(Branin/30), 10 to 16 s (Hartmann6/35), 16 to 22 s (Hartmann6/50), 26 to 32 s
(BraninCurrin/30) and 1.5 to 3.2 min (constrained Branin/30); the tansaku arm on all
problems with 10 seeds: about 34 min (benchmarks/results/synthetic_10seeds.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shlex
import sys
import time
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from botorch.test_functions import Branin, Hartmann
from botorch.test_functions.multi_objective import BraninCurrin
from botorch.utils.multi_objective.box_decompositions.dominated import (
    DominatedPartitioning,
)
from reporting import (
    REGRET_FLOOR,
    Spread,
    load_summary,
    log,
    log10_gap,
    markdown_table,
    package_versions,
    versions_text,
    write_json,
)
from scipy.optimize import minimize
from scipy.stats import qmc

from tansaku.simulators.benchmarks import BENCHMARKS, BenchmarkSimulator

if TYPE_CHECKING:
    from ax import Client

    from tansaku.campaign.schema import Campaign

DEFAULT_SEEDS = 10
SOBOL_ARM = "Sobol only"
PROBLEM_KEYS = (
    "branin30",
    "hartmann6_35",
    "hartmann6_50",
    "branin_c30",
    "branincurrin30",
    "branin30_noise1",
    "branin30_noise5",
    "hartmann6_35_noise1",
    "hartmann6_35_noise5",
)
MBM_NODE = "MBM"
"""The name of the model-based generation node in Ax's default strategy."""

CONSTRAINT_COEFFICIENTS = (1.0, 1.0)
CONSTRAINT_BOUND = 4.0
"""The constrained Branin problem: x1 + x2 <= 4."""

FEASIBILITY_TOLERANCE = 1e-6
"""A point counts as feasible if sum(c * x) <= bound + this. Ax's model-based candidates
overshoot linear constraints by up to ~1e-8 (the acquisition optimiser's tolerance); that
round-off should not cost a run its best point."""

GRID_POINTS = 2001
"""Grid points per axis for locating the constrained Branin minimum before polishing."""

REFERENCES: dict[str, dict[str, float]] = {
    "branin30": {"Ax 1.3 default": -2.30},
    "hartmann6_35": {"Ax 1.3 default": -1.19},
    "hartmann6_50": {"Ax 1.3 default": -1.60},
}
"""Median final log10 regret over 10 seeds, measured by someone else on this machine."""
REFERENCE_SEEDS = 10


@dataclass(frozen=True)
class Problem:
    """A benchmark problem: search space, objective(s), budget and how a run is scored."""

    key: str
    label: str
    budget: int
    names: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    metrics: tuple[str, ...]
    evaluate: Callable[[Sequence[float]], dict[str, float]]
    """One point's outcome: metric name -> value."""
    optimum: float | None = None
    """Minimum of a single-objective problem (regret problems)."""
    ref_point: tuple[float, ...] | None = None
    """Reference point of a multi-objective problem, in the minimised objectives."""
    max_hv: float | None = None
    constraint: tuple[tuple[float, ...], float] | None = None
    """Linear constraint (coefficients, bound): sum(c * x) <= bound."""
    noise: float = 0.0
    """Standard deviation of the Gaussian noise added to every measurement, as a fraction
    of ``spread``; the runs are scored on the function's true values."""
    spread: float = 0.0
    """The function's range over the box (max - min), the scale of ``noise``."""

    def measure(self, x: Sequence[float], rng: np.random.Generator) -> dict[str, float]:
        """What the optimiser is told of ``x``: the function's value, plus the noise."""
        outcome = self.evaluate(x)
        if self.noise == 0.0:
            return outcome
        scale = self.noise * self.spread
        return {
            name: value + scale * float(rng.standard_normal()) for name, value in outcome.items()
        }

    def noise_rng(self, seed: int) -> np.random.Generator:
        """The noise of run ``seed``: the same for every arm, different for every seed."""
        return np.random.default_rng([seed, zlib.crc32(self.key.encode())])

    @property
    def multi_objective(self) -> bool:
        return self.ref_point is not None

    @property
    def metric_label(self) -> str:
        return "log10 HV gap" if self.multi_objective else "log10 regret"

    def constraint_strings(self) -> list[str]:
        """The constraint in Ax's ``parameter_constraints`` syntax."""
        if self.constraint is None:
            return []
        coefficients, bound = self.constraint
        terms = " + ".join(
            name if c == 1.0 else f"{c!r} * {name}"
            for c, name in zip(coefficients, self.names, strict=True)
        )
        return [f"{terms} <= {bound!r}"]

    def violation(self, x: Sequence[float]) -> float:
        """By how much ``x`` exceeds the linear constraint (0 if it satisfies it or none)."""
        if self.constraint is None:
            return 0.0
        coefficients, bound = self.constraint
        return max(0.0, sum(c * v for c, v in zip(coefficients, x, strict=True)) - bound)

    def feasible(self, x: Sequence[float]) -> bool:
        """Whether ``x`` satisfies the linear constraint, to ``FEASIBILITY_TOLERANCE``."""
        return self.violation(x) <= FEASIBILITY_TOLERANCE


@dataclass
class RunResult:
    """One optimisation run: everything measured, JSON-ready."""

    problem: str
    arm: str
    seed: int
    x: list[list[float]] = field(default_factory=list)
    y: list[dict[str, float]] = field(default_factory=list)
    """What the optimiser was told: the function's values, with the problem's noise."""
    true_y: list[dict[str, float]] = field(default_factory=list)
    """The function's values at ``x`` without noise, what the run is scored on."""
    nodes: list[str] = field(default_factory=list)
    gen_seconds: list[float] = field(default_factory=list)
    complete_seconds: list[float] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)
    trace: list[float] = field(default_factory=list)
    """Best-so-far value after each evaluation: best objective, or hypervolume."""
    final_value: float = math.nan
    """Best objective observed, or final hypervolume."""
    final_metric: float = math.nan
    """log10 regret, or log10 HV gap."""
    infeasible: int = 0
    """Points beyond the constraint by more than FEASIBILITY_TOLERANCE (never the best)."""
    max_violation: float = 0.0
    wall_seconds: float = 0.0
    load_before: float = 0.0
    warnings: dict[str, int] = field(default_factory=dict)
    warning_examples: dict[str, str] = field(default_factory=dict)
    """The first message of each warning category, cut to 300 characters."""

    def iteration_seconds(self, model_based: bool) -> list[float]:
        """get_next_trials + complete_trial per iteration, for MBM or for init iterations."""
        return [
            g + c
            for g, c, node in zip(self.gen_seconds, self.complete_seconds, self.nodes, strict=True)
            if (node == MBM_NODE) == model_based
        ]

    def mean_iteration_seconds(self, model_based: bool) -> float:
        values = self.iteration_seconds(model_based)
        return float(np.mean(values)) if values else math.nan

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["mbm_seconds_per_iteration"] = self.mean_iteration_seconds(True)
        data["init_seconds_per_iteration"] = self.mean_iteration_seconds(False)
        data["mbm_iterations"] = len(self.iteration_seconds(True))
        return data


Evaluator = Callable[[Sequence[float]], dict[str, float]]


def benchmark_evaluator(benchmark: str, names: Sequence[str], metrics: Sequence[str]) -> Evaluator:
    """tansaku's simulator of ``BENCHMARKS[benchmark]``, taking a point as the values of
    ``names`` in order and giving every outcome by metric name, as Ax and ``score`` want."""
    simulator = BenchmarkSimulator(benchmark, names, metrics)

    def evaluate(x: Sequence[float]) -> dict[str, float]:
        outcome = simulator(dict(zip(names, x, strict=True)))
        return outcome if isinstance(outcome, dict) else {metrics[0]: outcome}

    return evaluate


def benchmark_box(benchmark: str, dim: int) -> tuple[tuple[float, float], ...]:
    """The bounds of every input of ``BENCHMARKS[benchmark]``, the same for each."""
    domain = BENCHMARKS[benchmark].domain
    if domain is None:
        raise ValueError(f"{benchmark}'s inputs have different ranges")
    low, high = domain
    return ((float(low), float(high)),) * dim


def constrained_branin_minimum() -> tuple[float, tuple[float, float]]:
    """The minimum of Branin under x1 + x2 <= 4: the best of a dense grid, polished.

    The 20 best feasible grid points are each polished with SLSQP under the bounds and
    the constraint; the best polished point is returned (value, x).
    """
    branin = Branin()
    (low1, low2), (high1, high2) = branin.bounds.tolist()
    x1, x2 = torch.meshgrid(
        torch.linspace(low1, high1, GRID_POINTS, dtype=torch.float64),
        torch.linspace(low2, high2, GRID_POINTS, dtype=torch.float64),
        indexing="ij",
    )
    points = torch.stack([x1.reshape(-1), x2.reshape(-1)], dim=-1)
    (c1, c2), bound = CONSTRAINT_COEFFICIENTS, CONSTRAINT_BOUND
    points = points[c1 * points[:, 0] + c2 * points[:, 1] <= bound]
    with torch.no_grad():
        values = branin(points)
    starts = points[torch.argsort(values)[:20]].numpy()

    def objective(x: np.ndarray) -> float:
        return float(branin(torch.tensor(x[None, :], dtype=torch.float64)).item())

    constraint = {"type": "ineq", "fun": lambda x: bound - c1 * x[0] - c2 * x[1]}
    best: tuple[float, tuple[float, float]] | None = None
    for start in starts:
        result = minimize(
            objective,
            start,
            method="SLSQP",
            bounds=[(low1, high1), (low2, high2)],
            constraints=[constraint],
            options={"ftol": 1e-15, "maxiter": 500},
        )
        x = np.clip(result.x, [low1, low2], [high1, high2])
        if c1 * x[0] + c2 * x[1] > bound + 1e-12:
            continue
        value = objective(x)
        if best is None or value < best[0]:
            best = (value, (float(x[0]), float(x[1])))
    if best is None:
        raise RuntimeError("no feasible polished point for the constrained Branin problem")
    return best


def build_problems(constrained_optimum: float | None) -> dict[str, Problem]:
    """Every problem, keyed by its ``--problems`` name.

    The functions and boxes are tansaku's benchmarks; BoTorch's classes give what those
    leave out: Branin's box (its two inputs have different ranges), BraninCurrin's reference
    point and maximum hypervolume, and the minima, rounded to 6 digits (0.397887, -3.32237)
    where ``BENCHMARKS`` has 15: the recorded regrets were measured against these.
    """
    branin = Branin()
    branin_bounds = tuple(zip(*branin.bounds.tolist(), strict=True))
    hartmann6_names = tuple(f"x{i + 1}" for i in range(6))
    hartmann6_optimum = float(Hartmann(dim=6).optimal_value)
    branin_currin = BraninCurrin()
    branin_currin_metrics = ("branin", "currin")
    problems = [
        Problem(
            "branin30",
            "Branin/30",
            30,
            ("x1", "x2"),
            branin_bounds,
            ("f",),
            benchmark_evaluator("branin", ("x1", "x2"), ("f",)),
            optimum=float(branin.optimal_value),
        ),
        Problem(
            "hartmann6_35",
            "Hartmann6/35",
            35,
            hartmann6_names,
            benchmark_box("hartmann6", 6),
            ("f",),
            benchmark_evaluator("hartmann6", hartmann6_names, ("f",)),
            optimum=hartmann6_optimum,
        ),
        Problem(
            "hartmann6_50",
            "Hartmann6/50",
            50,
            hartmann6_names,
            benchmark_box("hartmann6", 6),
            ("f",),
            benchmark_evaluator("hartmann6", hartmann6_names, ("f",)),
            optimum=hartmann6_optimum,
        ),
        Problem(
            "branin_c30",
            "Branin, x1 + x2 <= 4 /30",
            30,
            ("x1", "x2"),
            branin_bounds,
            ("f",),
            benchmark_evaluator("branin", ("x1", "x2"), ("f",)),
            optimum=constrained_optimum,
            constraint=(CONSTRAINT_COEFFICIENTS, CONSTRAINT_BOUND),
        ),
        Problem(
            "branincurrin30",
            "BraninCurrin/30",
            30,
            ("x1", "x2"),
            benchmark_box("branin_currin", 2),
            branin_currin_metrics,
            benchmark_evaluator("branin_currin", ("x1", "x2"), branin_currin_metrics),
            ref_point=tuple(branin_currin.ref_point.tolist()),
            max_hv=float(branin_currin.max_hv),
        ),
    ]
    for key in ("branin30", "hartmann6_35"):
        (exact,) = [p for p in problems if p.key == key]
        spread = function_range(exact)
        problems += [
            replace(
                exact,
                key=f"{key}_noise{percent}",
                label=f"{exact.label}, noise {percent} %",
                noise=percent / 100,
                spread=spread,
            )
            for percent in (1, 5)
        ]
    return {problem.key: problem for problem in problems}


def function_range(problem: Problem) -> float:
    """max - min of ``problem``'s single objective over its box: the largest value at
    2^12 scrambled Sobol points (seed 0) less the known minimum."""
    low, high = np.array(problem.bounds).T
    points = qmc.Sobol(d=len(problem.bounds), scramble=True, seed=0).random(2**12)
    assert problem.optimum is not None
    largest = max(problem.evaluate(list(low + p * (high - low)))["f"] for p in points)
    return largest - problem.optimum


def hypervolume(values: Sequence[Sequence[float]], ref_point: Sequence[float]) -> float:
    """Hypervolume dominated by minimised ``values`` and bounded by ``ref_point``."""
    if not values:
        return 0.0
    y = -torch.tensor(values, dtype=torch.float64)
    partitioning = DominatedPartitioning(
        ref_point=-torch.tensor(ref_point, dtype=torch.float64), Y=y
    )
    return float(partitioning.compute_hypervolume().item())


def score(problem: Problem, result: RunResult) -> None:
    """Fill in ``result``'s trace, final value and final metric."""
    if problem.multi_objective:
        ref_point = problem.ref_point
        assert ref_point is not None and problem.max_hv is not None
        rows = [[y[m] for m in problem.metrics] for y in result.y]
        result.trace = [hypervolume(rows[: i + 1], ref_point) for i in range(len(rows))]
        result.final_value = result.trace[-1]
        gap = problem.max_hv - result.final_value
    else:
        assert problem.optimum is not None
        best = math.inf
        result.trace = []
        for x, y in zip(result.x, result.true_y or result.y, strict=True):
            if problem.feasible(x):
                best = min(best, y["f"])
            result.trace.append(best)
        result.final_value = best
        gap = best - problem.optimum
    result.final_metric = log10_gap(gap)


def make_client(problem: Problem, arm: str, seed: int) -> Client:
    """An Ax ``Client`` for ``problem``: Ax's default strategy, or Sobol only."""
    from ax import Client, RangeParameterConfig

    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name=name, bounds=bounds, parameter_type="float")
            for name, bounds in zip(problem.names, problem.bounds, strict=True)
        ],
        parameter_constraints=problem.constraint_strings() or None,
        name=f"{problem.key}-seed{seed}",
    )
    if problem.multi_objective:
        assert problem.ref_point is not None
        client.configure_optimization(
            objective=", ".join(f"-{m}" for m in problem.metrics),
            outcome_constraints=[
                f"{m} <= {r!r}" for m, r in zip(problem.metrics, problem.ref_point, strict=True)
            ],
        )
    else:
        client.configure_optimization(objective=f"-{problem.metrics[0]}")
    if arm == SOBOL_ARM:
        client.configure_generation_strategy(
            method="random_search",
            initialize_with_center=False,
            initialization_random_seed=seed,
        )
    return client


def default_arm() -> str:
    return f"Ax {metadata.version('ax-platform')} default"


def sem0_arm() -> str:
    return f"{default_arm()}, SEM 0"


def tansaku_arm() -> str:
    return f"tansaku {metadata.version('tansaku')}"


def tansaku_noise_free_arm() -> str:
    return f"{tansaku_arm()}, noise_free"


def tansaku_noisy_arm() -> str:
    return f"{tansaku_arm()}, noise_free: false"


ARM_LABELS: dict[str, Callable[[], str]] = {
    "default": default_arm,
    "sobol": lambda: SOBOL_ARM,
    "tansaku": tansaku_arm,
    "default_sem0": sem0_arm,
    "tansaku_noise_free": tansaku_noise_free_arm,
    "tansaku_noisy": tansaku_noisy_arm,
}
"""``--arms`` keys and their names in the report; every arm but the tansaku arms needs Ax."""

TANSAKU_ARMS = {"tansaku", "tansaku_noise_free", "tansaku_noisy"}


def _tansaku_noise(arm: str) -> bool | None:
    return {tansaku_noise_free_arm(): True, tansaku_noisy_arm(): False}.get(arm)


def arm_label(key: str) -> str:
    """The report's name of an ``--arms`` key."""
    return ARM_LABELS[key]()


def tansaku_campaign(problem: Problem, seed: int, noise_free: bool | None = None) -> Campaign:
    """The campaign a tansaku user would write for ``problem``: its space, constraint and
    objectives (thresholds at the reference point, ``noise_free`` as given: left out when
    ``None``), seeded ``seed``, every other setting at its default. The driver is never
    used."""
    from tansaku.campaign.schema import Campaign

    thresholds = problem.ref_point or (None,) * len(problem.metrics)
    said = {} if noise_free is None else {"noise_free": noise_free}
    objectives = [
        {"name": name, "goal": "minimize"}
        | said
        | ({} if threshold is None else {"threshold": threshold})
        for name, threshold in zip(problem.metrics, thresholds, strict=True)
    ]
    return Campaign.model_validate(
        {
            "name": f"{problem.key}-seed{seed}",
            "seed": seed,
            "budget": {"experiments": problem.budget},
            "space": [
                {"name": name, "type": "continuous", "bounds": list(bounds)}
                for name, bounds in zip(problem.names, problem.bounds, strict=True)
            ],
            "constraints": problem.constraint_strings(),
            "objectives": objectives,
            "driver": {"type": "simulated"},
        }
    )


def _count(
    records: list[warnings.WarningMessage], counts: Counter[str], examples: dict[str, str]
) -> None:
    """Count ``records`` by category, keep each category's first message, empty the list."""
    for record in records:
        name = record.category.__name__
        counts[name] += 1
        examples.setdefault(name, str(record.message)[:300])
    records.clear()


def run_once(problem: Problem, arm: str, seed: int) -> RunResult:
    """One run of ``arm`` on ``problem`` with ``seed``, one trial at a time."""
    if arm in (tansaku_arm(), tansaku_noise_free_arm(), tansaku_noisy_arm()):
        return run_tansaku(problem, arm, seed)
    return run_ax(problem, arm, seed)


def run_tansaku(problem: Problem, arm: str, seed: int) -> RunResult:
    """One run of tansaku's proposer, one experiment at a time, as the campaign flow runs
    it: ``suggest(1, observations, proposed_so_far=i)``, evaluate, append the observation.

    ``gen_seconds`` is the time of ``suggest`` (``complete_seconds`` 0: there is nothing to
    report back); model-based ("gp") proposals are recorded as node ``MBM``, others by
    their method ("sobol").
    """
    from tansaku.proposer import Observation, Proposer

    result = RunResult(problem=problem.key, arm=arm, seed=seed)
    caught: Counter[str] = Counter()
    result.load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        proposer = Proposer(tansaku_campaign(problem, seed, noise_free=_tansaku_noise(arm)))
        rng = problem.noise_rng(seed)
        observations: list[Observation] = []
        for i in range(problem.budget):
            t0 = time.perf_counter()
            proposals = proposer.suggest(1, observations, proposed_so_far=i)
            t1 = time.perf_counter()
            if len(proposals) != 1:
                raise RuntimeError(f"tansaku proposed {len(proposals)} experiments, expected 1")
            (proposal,) = proposals
            x = [float(proposal.parameters[name]) for name in problem.names]  # type: ignore[arg-type]
            outcome = problem.measure(x, rng)
            t2 = time.perf_counter()
            # As the flow does: the first objective as the value, every measured quantity
            # in outcomes (what a multi-objective campaign models).
            observations.append(
                Observation(proposal.parameters, outcome[problem.metrics[0]], dict(outcome))
            )
            result.x.append(x)
            result.y.append(outcome)
            if problem.noise:
                result.true_y.append(problem.evaluate(x))
            result.nodes.append(MBM_NODE if proposal.method == "gp" else proposal.method)
            result.gen_seconds.append(t1 - t0)
            result.eval_seconds.append(t2 - t1)
            result.complete_seconds.append(0.0)
            _count(records, caught, result.warning_examples)
    result.wall_seconds = time.perf_counter() - started
    result.infeasible = sum(not problem.feasible(x) for x in result.x)
    result.max_violation = max(problem.violation(x) for x in result.x)
    result.warnings = dict(sorted(caught.items()))
    score(problem, result)
    return result


def run_ax(problem: Problem, arm: str, seed: int) -> RunResult:
    """One run of an Ax arm, one trial at a time through the ``Client`` API."""
    result = RunResult(problem=problem.key, arm=arm, seed=seed)
    caught: Counter[str] = Counter()
    result.load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        client = make_client(problem, arm, seed)
        rng = problem.noise_rng(seed)
        for _ in range(problem.budget):
            t0 = time.perf_counter()
            trials = client.get_next_trials(max_trials=1)
            t1 = time.perf_counter()
            if len(trials) != 1:
                raise RuntimeError(f"Ax generated {len(trials)} trials, expected 1")
            ((index, parameters),) = trials.items()
            x = [float(parameters[name]) for name in problem.names]  # type: ignore[arg-type]
            outcome = problem.measure(x, rng)
            t2 = time.perf_counter()
            raw: dict[str, Any] = outcome
            if arm == sem0_arm():
                raw = {name: (value, 0.0) for name, value in outcome.items()}
            client.complete_trial(trial_index=index, raw_data=raw)
            t3 = time.perf_counter()
            result.x.append(x)
            result.y.append(outcome)
            if problem.noise:
                result.true_y.append(problem.evaluate(x))
            result.gen_seconds.append(t1 - t0)
            result.eval_seconds.append(t2 - t1)
            result.complete_seconds.append(t3 - t2)
            # Keep the record list short: count and drop as we go.
            _count(records, caught, result.warning_examples)
        summary = client.summarize()
        _count(records, caught, result.warning_examples)
    result.wall_seconds = time.perf_counter() - started
    by_index = dict(zip(summary["trial_index"], summary["generation_node"], strict=True))
    result.nodes = [str(by_index[i]) for i in range(problem.budget)]
    result.infeasible = sum(not problem.feasible(x) for x in result.x)
    result.max_violation = max(problem.violation(x) for x in result.x)
    result.warnings = dict(sorted(caught.items()))
    score(problem, result)
    return result


def seconds(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def report(
    problems: Sequence[Problem],
    arms: Sequence[str],
    results: Sequence[RunResult],
    constrained: tuple[float, tuple[float, float]] | None,
) -> str:
    """The Markdown body: problems, summary, per-seed values, notes."""
    grouped: dict[tuple[str, str], list[RunResult]] = {}
    for result in results:
        grouped.setdefault((result.problem, result.arm), []).append(result)

    problem_rows = []
    for problem in problems:
        space = ", ".join(
            f"{name} ∈ [{low:g}, {high:g}]"
            for name, (low, high) in zip(problem.names, problem.bounds, strict=True)
        )
        if problem.constraint is not None:
            space += "; " + problem.constraint_strings()[0]
        if problem.multi_objective:
            target = (
                f"minimise branin, currin; ref point {tuple(problem.ref_point or ())}, "
                f"max HV {problem.max_hv:.6f}"
            )
        else:
            target = f"minimise; minimum {problem.optimum:.6f}"
        problem_rows.append([problem.label, f"`{problem.key}`", str(problem.budget), space, target])
    problem_table = markdown_table(
        ["Problem", "Key", "Evaluations", "Space", "Objective"], problem_rows
    )

    width = max((len(runs) for runs in grouped.values()), default=0)
    seed_headers = [f"seed {seed}" for seed in range(width)]
    summary_rows = []
    seed_rows = []
    time_rows = []
    hv_rows = []
    for problem in problems:
        for arm in arms:
            runs = grouped.get((problem.key, arm), [])
            if not runs:
                continue
            values = [r.final_metric for r in runs]
            spread = Spread.of(values)
            mbm = [r.mean_iteration_seconds(True) for r in runs]
            init = [r.mean_iteration_seconds(False) for r in runs]
            summary_rows.append(
                [
                    problem.label,
                    arm,
                    str(len(runs)),
                    problem.metric_label,
                    f"{spread.median:.2f}",
                    f"[{spread.low:.2f}, {spread.high:.2f}]",
                    f"[{spread.q1:.2f}, {spread.q3:.2f}]",
                    seconds(float(np.median(mbm))) if not any(map(math.isnan, mbm)) else "n/a",
                    seconds(float(np.median(init))),
                    f"{np.median([r.wall_seconds for r in runs]):.1f}",
                ]
            )
            padding = [""] * (width - len(runs))
            seed_rows.append(
                [problem.label, arm, *(f"{r.final_metric:.2f}" for r in runs), *padding]
            )
            if arm != SOBOL_ARM:
                time_rows.append([problem.label, arm, *(seconds(m) for m in mbm), *padding])
            if problem.multi_objective:
                hv = Spread.of([r.final_value for r in runs])
                hv_rows.append(
                    [
                        problem.label,
                        arm,
                        f"{hv.median:.3f}",
                        f"[{hv.low:.3f}, {hv.high:.3f}]",
                        f"[{hv.q1:.3f}, {hv.q3:.3f}]",
                    ]
                )
        for name, value in REFERENCES.get(problem.key, {}).items():
            summary_rows.append(
                [
                    problem.label,
                    f"{name} (reference)",
                    str(REFERENCE_SEEDS),
                    problem.metric_label,
                    f"{value:.2f}",
                    "n/a",
                    "n/a",
                    "0.30-0.53 (range over problems)",
                    "n/a",
                    "n/a",
                ]
            )
    summary = markdown_table(
        [
            "Problem",
            "Arm",
            "Seeds",
            "Metric",
            "Median",
            "[Min, max]",
            "IQR [Q1, Q3]",
            "Median s/iter, model-based",
            "Median s/iter, init",
            "Median run wall (s)",
        ],
        summary_rows,
    )
    per_seed = markdown_table(["Problem", "Arm", *seed_headers], seed_rows)
    per_seed_time = markdown_table(["Problem", "Arm", *seed_headers], time_rows)

    sections = [
        f"### Problems\n\n{problem_table}",
    ]
    if constrained is not None:
        value, (c1, c2) = constrained
        sections.append(
            f"Constrained Branin minimum (x1 + x2 <= {CONSTRAINT_BOUND:g}), from a "
            f"{GRID_POINTS} x {GRID_POINTS} grid polished with SLSQP: **{value:.9f}** at "
            f"x = ({c1:.9f}, {c2:.9f}) (x1 + x2 = {c1 + c2:.6f}; the constraint is active)."
        )
    sections += [
        "### Final metric\n\n"
        "log10 regret: log10(best observed - minimum), floored at 1e-12; on a problem with "
        "noise, the best is the smallest true (noise-free) value among the evaluated points, "
        "while the optimiser was told the noisy values (the noise of a seed is the same for "
        "every arm). log10 HV gap: "
        "log10(max HV - final HV). Seconds per iteration: mean of get_next_trials + "
        "complete_trial (Ax) or of Proposer.suggest (tansaku) over a run's model-based "
        "(Ax's MBM, tansaku's GP) or initialisation (center / Sobol) iterations, then the "
        "median over seeds.\n\n"
        f"{summary}\n\n"
        f"References: measured by someone else on this machine, {REFERENCE_SEEDS} seeds, "
        "median only; their seconds per iteration were given as one range for all problems.",
    ]
    if hv_rows:
        hv_table = markdown_table(
            ["Problem", "Arm", "Median final HV", "[Min, max]", "IQR [Q1, Q3]"], hv_rows
        )
        sections.append(f"Final hypervolume:\n\n{hv_table}")
    sections.append(f"### Per seed: final metric\n\n{per_seed}")
    sections.append("### Per seed: mean seconds per model-based iteration\n\n" + per_seed_time)
    sections.append(notes(results))
    return "\n\n".join(sections)


def notes(results: Sequence[RunResult]) -> str:
    """Load, infeasible points and warnings across all runs."""
    loads = [r.load_before for r in results]
    infeasible = sum(r.infeasible for r in results)
    violation = max((r.max_violation for r in results), default=0.0)
    warned: Counter[str] = Counter()
    for r in results:
        warned.update(r.warnings)
    warning_text = ", ".join(f"{name}: {count}" for name, count in warned.most_common())
    return (
        "### Notes\n\n"
        f"- {load_summary(loads, 'runs')}\n"
        f"- Evaluated points beyond a parameter constraint by more than "
        f"{FEASIBILITY_TOLERANCE:g} (not counted as the best): {infeasible}; the largest "
        f"violation by any point: {violation:.2g}.\n"
        f"- Warnings silenced (all runs): {warning_text or 'none'}."
    )


def versions() -> dict[str, str]:
    """The versions of the packages that shape the figures."""
    names = ("tansaku", "ax-platform", "botorch", "gpytorch", "torch", "numpy", "scipy", "pandas")
    return {**package_versions(names), "python": sys.version.split()[0]}


def save_runs(path: Path, header: dict[str, Any], results: Sequence[RunResult]) -> None:
    """Write ``header`` and every run to ``path``, as ``load_json`` reads them back."""
    write_json(path, {**header, "runs": [r.to_json() for r in results]})


def parse_overrides(option: str, values: Sequence[str], known: Sequence[str]) -> dict[str, int]:
    """``KEY=N`` pairs (N >= 1) as a mapping, checked against the known problem keys."""
    overrides = {}
    for value in values:
        key, separator, number = value.partition("=")
        if not separator or key not in known or not number.isdigit() or int(number) < 1:
            raise ValueError(f"{option} {value!r}: expected KEY=N with KEY in {known}, N >= 1")
        overrides[key] = int(number)
    return overrides


def render(
    header: dict[str, Any],
    problems: Sequence[Problem],
    arms: Sequence[str],
    results: Sequence[RunResult],
    constrained: tuple[float, tuple[float, float]] | None,
    source: Path | None = None,
) -> str:
    """The whole Markdown report; everything in it comes from ``header`` and ``results``."""
    version_text = versions_text(header["versions"])
    seeds = header["seeds"]
    override_text = ""
    if header["seed_overrides"]:
        override_text += "; other seeds for " + ", ".join(
            f"{k} (0..{v - 1})" for k, v in header["seed_overrides"].items()
        )
    if header["budget_overrides"]:
        override_text += "; budgets overridden: " + ", ".join(
            f"{k}={v}" for k, v in header["budget_overrides"].items()
        )
    note_text = f"**Note:** {header['note']}\n\n" if header.get("note") else ""
    tansaku_text = "".join(
        f"{arm}: tansaku's own proposer (`Proposer.suggest`, one experiment at a time) on "
        "a campaign with the problem's space, constraint and objectives (reference point as "
        "thresholds)"
        + (", `noise_free: true` on every objective" if arm == tansaku_noise_free_arm() else "")
        + " and every other setting at its default, the same for every problem: a "
        "Sobol initial design of max(5, d + 1) points, then a GP refitted at every step and "
        "qLogNEI (qLogNEHVI for two objectives); torch threads: "
        f"{header['torch_threads']}, as for every arm.\n\n"
        for arm in arms
        if arm.startswith("tansaku ")
    )
    source_text = (
        f"This report was rendered afterwards from `{source}` (`ax_baseline.py --report-from`).\n\n"
        if source is not None
        else ""
    )
    total = header.get("total_seconds")
    total_text = (
        f"Total benchmark wall time: {total:.0f} s."
        if total is not None
        else f"Unfinished: {len(results)} runs recorded."
    )
    if header.get("resumed_runs"):
        total_text += (
            f" {header['resumed_runs']} of the {len(results)} runs were made by earlier "
            f"invocations and kept from the JSON file (`--resume`), in "
            f"{header['resumed_seconds']:.0f} s of run wall time not included above."
        )
    return (
        f"## Ax baseline, {header['started_utc'][:16]} UTC\n\n"
        f"Command: `{header['command']}`\n\n"
        f"{source_text}"
        f"{header['cpus']} CPUs, torch threads: {header['torch_threads']}; {version_text}; "
        f"seeds 0..{seeds - 1}{override_text}.\n\n"
        f"{tansaku_text}"
        f"{note_text}"
        f"{report(problems, arms, results, constrained)}\n\n"
        f"{total_text}"
    )


def load_json(
    path: Path,
) -> tuple[
    dict[str, Any],
    list[Problem],
    list[str],
    list[RunResult],
    tuple[float, tuple[float, float]] | None,
]:
    """What ``render`` needs, read back from a file ``--json`` wrote."""
    data = json.loads(path.read_text(encoding="utf-8"))
    header = {key: value for key, value in data.items() if key != "runs"}
    saved = header["problems"]
    constrained = None
    if "branin_c30" in saved:
        x1, x2 = saved["branin_c30"]["optimizer"]
        constrained = (float(saved["branin_c30"]["optimum"]), (float(x1), float(x2)))
    every = build_problems(constrained[0] if constrained else None)
    problems = [replace(every[key], budget=int(info["budget"])) for key, info in saved.items()]
    names = {f.name for f in fields(RunResult)}
    results = [RunResult(**{k: v for k, v in run.items() if k in names}) for run in data["runs"]]
    arms = list(dict.fromkeys(result.arm for result in results))
    return header, problems, arms, results, constrained


def resumable_runs(path: Path, problems: Sequence[Problem], arms: Sequence[str]) -> list[RunResult]:
    """The finished runs in ``path`` that this invocation would make, for ``--resume``.

    Refuses a file written for other budgets: its runs are not the ones asked for now.
    """
    _, saved_problems, _, saved, _ = load_json(path)
    budgets = {p.key: p.budget for p in saved_problems}
    for problem in problems:
        if problem.key in budgets and budgets[problem.key] != problem.budget:
            raise ValueError(
                f"{path} has {problem.key} with {budgets[problem.key]} evaluations, "
                f"not {problem.budget}"
            )
    keys = {p.key for p in problems}
    return [r for r in saved if r.problem in keys and r.arm in arms]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--seeds", type=int, default=DEFAULT_SEEDS, help=f"seeds 0..N-1 (default {DEFAULT_SEEDS})"
    )
    parser.add_argument(
        "--problems",
        default=",".join(PROBLEM_KEYS),
        help=f"comma-separated subset of {','.join(PROBLEM_KEYS)} (default: all)",
    )
    parser.add_argument(
        "--arms",
        default="default,sobol",
        help=(
            f"comma-separated subset of {','.join(ARM_LABELS)} (default: default,sobol); "
            "every arm but the tansaku arms needs Ax"
        ),
    )
    parser.add_argument(
        "--budget-override",
        action="append",
        default=[],
        metavar="KEY=N",
        help="run problem KEY with N evaluations instead (repeatable)",
    )
    parser.add_argument(
        "--seeds-override",
        action="append",
        default=[],
        metavar="KEY=N",
        help="run problem KEY with seeds 0..N-1 instead of --seeds (repeatable)",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1; see the module docstring)",
    )
    parser.add_argument("--note", help="a sentence printed under the report's header")
    parser.add_argument("--json", type=Path, help="write every raw per-seed number here")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the finished runs already in the --json file and make only the others",
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        metavar="PATH",
        help="run nothing: print the report of the runs saved in PATH by --json",
    )
    args = parser.parse_args(argv)
    if args.resume and args.json is None:
        parser.error("--resume needs --json")
    if args.report_from is not None:
        print(render(*load_json(args.report_from), source=args.report_from))
        return
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.torch_threads < 1:
        parser.error("--torch-threads must be at least 1")
    keys = [key.strip() for key in args.problems.split(",") if key.strip()]
    unknown = sorted(set(keys) - set(PROBLEM_KEYS))
    if unknown or not keys:
        parser.error(f"--problems: unknown {unknown}; expected some of {PROBLEM_KEYS}")
    arm_keys = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not arm_keys or set(arm_keys) - set(ARM_LABELS):
        parser.error(f"--arms: expected some of {','.join(ARM_LABELS)}")
    try:
        overrides = parse_overrides("--budget-override", args.budget_override, PROBLEM_KEYS)
        seed_overrides = parse_overrides("--seeds-override", args.seeds_override, PROBLEM_KEYS)
    except ValueError as error:
        parser.error(str(error))

    torch.set_num_threads(args.torch_threads)
    warnings.simplefilter("ignore")
    if set(arm_keys) - TANSAKU_ARMS:
        try:
            from ax.utils.common.logger import set_ax_logger_levels, set_stderr_log_level
        except ImportError as error:
            parser.error(
                f"--arms {args.arms}: every arm but the tansaku arms needs Ax (pip install -e "
                f"'.[bench]'): {error}"
            )
        set_ax_logger_levels(logging.WARNING)
        set_stderr_log_level(logging.WARNING)

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    constrained = None
    if "branin_c30" in keys:
        log("locating the constrained Branin minimum")
        constrained = constrained_branin_minimum()
        log(f"    {constrained[0]:.6f} at {constrained[1]}")
    every = build_problems(constrained[0] if constrained else None)
    problems = [every[key] for key in keys]
    problems = [replace(p, budget=overrides[p.key]) if p.key in overrides else p for p in problems]
    arms = [arm_label(a) for a in arm_keys]

    command = shlex.join(sys.orig_argv)
    header: dict[str, Any] = {
        "command": command,
        "started_utc": f"{started_at:%Y-%m-%d %H:%M:%S}",
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": versions(),
        "seeds": args.seeds,
        "seed_overrides": seed_overrides,
        "budget_overrides": overrides,
        "note": args.note,
        "problems": {
            p.key: {
                "label": p.label,
                "budget": p.budget,
                "names": p.names,
                "bounds": p.bounds,
                "metrics": p.metrics,
                "metric": p.metric_label,
                "optimum": p.optimum,
                "ref_point": p.ref_point,
                "max_hv": p.max_hv,
                "constraint": p.constraint_strings(),
                "noise_sd": p.noise * p.spread,
                "optimizer": constrained[1] if p.key == "branin_c30" and constrained else None,
            }
            for p in problems
        },
        "regret_floor": REGRET_FLOOR,
        "mbm_node": MBM_NODE,
    }
    results: list[RunResult] = []
    if args.resume and args.json is not None and args.json.exists():
        try:
            results = resumable_runs(args.json, problems, arms)
        except ValueError as error:
            parser.error(str(error))
        header["resumed_runs"] = len(results)
        header["resumed_seconds"] = sum(r.wall_seconds for r in results)
        log(f"resuming: {len(results)} finished runs loaded from {args.json}")
    done = {(r.problem, r.arm, r.seed) for r in results}
    for problem in problems:
        for seed in range(seed_overrides.get(problem.key, args.seeds)):
            for arm in arms:
                if (problem.key, arm, seed) in done:
                    continue
                log(f"{problem.label} {arm} seed {seed}")
                result = run_once(problem, arm, seed)
                results.append(result)
                log(
                    f"    {problem.metric_label} {result.final_metric:.2f}, "
                    f"{seconds(result.mean_iteration_seconds(True))} s/MBM iter, "
                    f"run {result.wall_seconds:.1f} s, load before {result.load_before:.2f}"
                )
                if args.json is not None:
                    save_runs(args.json, header, results)
    total = time.perf_counter() - started
    header["total_seconds"] = total
    order = {key: i for i, key in enumerate(keys)}
    results.sort(key=lambda r: (order[r.problem], r.seed, arms.index(r.arm)))
    if args.json is not None:
        save_runs(args.json, header, results)

    print(render(header, problems, arms, results, constrained))


if __name__ == "__main__":
    main()
