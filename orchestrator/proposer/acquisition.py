"""Acquisition functions and their maximisation over a space or a pool of candidates.

What a campaign is for picks the acquisition: ``optimize`` (find the single best
experiment) uses noisy log expected improvement; ``screen`` (find many good ones, e.g.
the best 5 % of a pool) uses the upper confidence bound, which keeps exploiting a good
region once found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.monte_carlo import qUpperConfidenceBound
from botorch.acquisition.objective import GenericMCObjective
from botorch.models.model import Model
from botorch.optim import optimize_acqf, optimize_acqf_discrete
from botorch.optim.initializers import initialize_q_batch
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating
from torch.quasirandom import SobolEngine

from tansaku.proposer.constraints import (
    FEASIBILITY_TOLERANCE,
    BotorchConstraint,
    EncodedConstraints,
)
from tansaku.proposer.encoding import SpaceEncoding

Purpose = Literal["optimize", "screen"]


def build_acquisition(
    purpose: Purpose,
    model: Model,
    train_x: torch.Tensor,
    x_pending: torch.Tensor | None = None,
    ucb_beta: float = 2.0,
    target: float | None = None,
) -> AcquisitionFunction:
    """The acquisition for ``purpose``, aware of the ``p x d`` pending points.

    Args:
        purpose: ``optimize`` → qLogNoisyExpectedImprovement; ``screen`` →
            qUpperConfidenceBound (mean + sqrt(beta) x standard deviation).
        model: the fitted surrogate (outcomes already signed so that larger is better).
        train_x: ``n x d`` encoded inputs observed so far (the baseline for qLogNEI).
        x_pending: ``p x d`` points proposed but not yet measured.
        target: when set, the model predicts the measured value and the acquisition
            scores each posterior sample by minus its distance to ``target``.
    """
    objective = None if target is None else _closeness_to(target)
    if purpose == "screen":
        return qUpperConfidenceBound(model, beta=ucb_beta, X_pending=x_pending, objective=objective)
    return qLogNoisyExpectedImprovement(
        model, X_baseline=train_x, X_pending=x_pending, prune_baseline=True, objective=objective
    )


def _closeness_to(target: float) -> GenericMCObjective:
    """``-|y - target|`` of each sample: larger is closer."""
    return GenericMCObjective(lambda samples, X=None: -(samples[..., 0] - target).abs())


def optimize_over_space(
    acquisition: AcquisitionFunction,
    bounds: torch.Tensor,
    q: int,
    encoding: SpaceEncoding,
    constraints: EncodedConstraints | None = None,
    num_restarts: int = 10,
    raw_samples: int = 512,
) -> torch.Tensor:
    """The ``q x d`` encoded batch maximising ``acquisition`` within the space.

    Purely continuous spaces use ``optimize_acqf``; spaces with integer, discrete or
    categorical columns use ``optimize_acqf_mixed_alternating``, which searches those
    columns over their allowed values instead of enumerating every combination, so it
    scales to many categories. Fixed parameters and linear constraints go to either.
    """
    fixed = encoding.fixed_columns
    discrete = {i: v for i, v in encoding.discrete_columns.items() if i not in fixed}
    categorical = {i: v for i, v in encoding.categorical_columns.items() if i not in fixed}
    shared = {
        "q": q,
        "num_restarts": num_restarts,
        "raw_samples": raw_samples,
        "fixed_features": fixed or None,
        "inequality_constraints": (constraints.inequalities or None) if constraints else None,
        "equality_constraints": (constraints.equalities or None) if constraints else None,
    }
    if discrete or categorical:
        candidates, _ = optimize_acqf_mixed_alternating(
            acquisition,
            bounds,
            discrete_dims=discrete or None,
            cat_dims=categorical or None,
            **shared,
        )
    else:
        starts = None
        if constraints:
            starts = feasible_starts(
                acquisition,
                bounds,
                q,
                constraints.inequalities,
                fixed,
                num_restarts,
                raw_samples,
                equalities=constraints.equalities,
            )
        candidates, _ = optimize_acqf(
            acquisition, bounds, batch_initial_conditions=starts, **shared
        )
    return candidates.detach()


OVERSAMPLING = 16
"""Box points drawn per starting point wanted; fewer feasible than that: hit-and-run."""


def feasible_starts(
    acquisition: AcquisitionFunction,
    bounds: torch.Tensor,
    q: int,
    inequalities: Sequence[BotorchConstraint],
    fixed: Mapping[int, float],
    num_restarts: int,
    raw_samples: int,
    equalities: Sequence[BotorchConstraint] = (),
) -> torch.Tensor | None:
    """``num_restarts x q x d`` starting points for the optimiser, inside the constraints.

    BoTorch draws starting points under linear constraints with a hit-and-run sampler,
    which took two thirds of a constrained proposal's time (``benchmarks/RESULTS.md``),
    and nine tenths of a mixture's (2.1 of 2.4 s on the perovskite example). Scrambled
    Sobol points in the box, moved onto the equalities (``_onto_equalities``), are as
    good a sample where at least 1/16 of them then lie inside the bounds and
    inequalities, and far cheaper; the best of them seed the restarts, chosen as BoTorch
    does (``initialize_q_batch``). ``None`` when the feasible region is too thin, so
    that ``optimize_acqf`` samples it itself.
    """
    wanted = raw_samples * q
    engine = SobolEngine(bounds.shape[-1], scramble=True, seed=int(torch.randint(2**31, ())))
    unit = engine.draw(wanted * OVERSAMPLING, dtype=bounds.dtype)
    points = bounds[0] + (bounds[1] - bounds[0]) * unit
    for column, value in fixed.items():
        points[:, column] = value
    if equalities:
        points = _onto_equalities(points, unit, equalities, fixed, bounds[0])
    inside = ((points >= bounds[0]) & (points <= bounds[1])).all(dim=-1)
    for indices, coefficients, rhs in inequalities:
        slack = FEASIBILITY_TOLERANCE * max(1.0, abs(rhs))
        inside &= (points[:, indices] * coefficients).sum(-1) >= rhs - slack
    for indices, coefficients, rhs in equalities:
        slack = FEASIBILITY_TOLERANCE * max(1.0, abs(rhs))
        inside &= ((points[:, indices] * coefficients).sum(-1) - rhs).abs() <= slack
    if int(inside.sum()) < wanted:
        return None
    raw = points[inside][:wanted].reshape(raw_samples, q, -1)
    with torch.no_grad():
        values = torch.cat([acquisition(batch) for batch in raw.split(64)])
    starts, _ = initialize_q_batch(raw, values, n=num_restarts)
    return starts


def _onto_equalities(
    points: torch.Tensor,
    unit: torch.Tensor,
    equalities: Sequence[BotorchConstraint],
    fixed: Mapping[int, float],
    low: torch.Tensor,
) -> torch.Tensor:
    """The ``n x d`` box ``points``, drawn as ``unit`` in the unit cube, moved onto the
    plane where every equality holds, changing no fixed column.

    A sum with positive coefficients over columns no other equality names (a mixture's
    total) is sampled uniformly over its simplex from the points' own coordinates; the
    other equalities are met by the shortest step, which leaves many points outside the
    bounds when the plane cuts a corner of the box.
    """
    moved = points.clone()
    named = [set(indices.tolist()) - set(fixed) for indices, _, _ in equalities]
    projected = []
    for number, (indices, coefficients, rhs) in enumerate(equalities):
        columns = [(int(i), float(c)) for i, c in zip(indices, coefficients, strict=True)]
        free = [(i, c) for i, c in columns if i not in fixed]
        shared = any(named[number] & other for k, other in enumerate(named) if k != number)
        if not free or shared or any(c <= 0 for _, c in free):
            projected.append((indices, coefficients, rhs))
            continue
        left = rhs - sum(c * fixed[i] for i, c in columns if i in fixed)
        left -= sum(c * float(low[i]) for i, c in free)
        # Exponential spacings of uniform coordinates are uniform on the simplex.
        spacings = -torch.log(unit[:, [i for i, _ in free]].clamp_min(1e-12))
        weights = spacings / spacings.sum(-1, keepdim=True)
        for position, (i, c) in enumerate(free):
            moved[:, i] = low[i] + weights[:, position] * left / c
    if not projected:
        return moved
    d = points.shape[-1]
    matrix = torch.zeros(len(projected), d, dtype=points.dtype)
    target = torch.zeros(len(projected), dtype=points.dtype)
    for row, (indices, coefficients, value) in enumerate(projected):
        matrix[row, indices] = coefficients
        target[row] = value
    free_columns = [i for i in range(d) if i not in fixed]
    residual = moved @ matrix.T - target
    moved[:, free_columns] -= residual @ torch.linalg.pinv(matrix[:, free_columns]).T
    return moved


def choose_from_pool(
    acquisition: AcquisitionFunction, choices: torch.Tensor, q: int
) -> torch.Tensor:
    """The ``q`` distinct rows of the ``m x d`` ``choices`` that maximise ``acquisition``."""
    candidates, _ = optimize_acqf_discrete(acquisition, q=q, choices=choices, unique=True)
    return candidates.detach()


def batch_value(acquisition: AcquisitionFunction, candidates: torch.Tensor) -> float:
    """The acquisition value of the whole ``q x d`` batch (a log value for qLogNEI)."""
    with torch.no_grad():
        return float(acquisition(candidates.unsqueeze(0)).item())
