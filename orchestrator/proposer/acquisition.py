"""Acquisition functions and their maximisation over a space or a pool of candidates.

What a campaign is for picks the default acquisition: ``optimize`` (find the single best
experiment) uses noisy log expected improvement; ``screen`` (find many good ones, e.g.
the best 5 % of a pool) uses the upper confidence bound, which keeps exploiting a good
region once found. ``proposer.acquisition`` names another: textbook expected improvement
or probability of improvement with a margin xi, BoTorch's log expected improvement, or
Thompson sampling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import LogExpectedImprovement, LogProbabilityOfImprovement
from botorch.acquisition.logei import qLogExpectedImprovement, qLogNoisyExpectedImprovement
from botorch.acquisition.monte_carlo import qProbabilityOfImprovement, qUpperConfidenceBound
from botorch.acquisition.objective import GenericMCObjective
from botorch.generation.sampling import MaxPosteriorSampling
from botorch.models.model import Model
from botorch.optim import optimize_acqf, optimize_acqf_discrete
from botorch.optim.initializers import initialize_q_batch
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating
from torch.quasirandom import SobolEngine

from tansaku.campaign.expressions import LinearConstraint
from tansaku.campaign.proposer_settings import Acquisition
from tansaku.errors import TansakuError
from tansaku.proposer.constraints import BotorchConstraint, EncodedConstraints, satisfies
from tansaku.proposer.encoding import SpaceEncoding
from tansaku.proposer.sampling import OVERSAMPLING, feasible, onto_equalities, space_points

PI_TEMPERATURE = 1e-3
"""Smoothing of the Monte-Carlo probability of improvement's step, in standard deviations
of the results: BoTorch's default ``tau`` (1e-3), made independent of the objective's unit."""


def build_acquisition(
    spec: Acquisition,
    model: Model,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    q: int = 1,
    x_pending: torch.Tensor | None = None,
    target: float | None = None,
) -> AcquisitionFunction | None:
    """The acquisition ``spec`` names, aware of the ``p x d`` pending points.

    Args:
        spec: what ``proposer.acquisition`` names (or the purpose's default): ``nei`` →
            qLogNoisyExpectedImprovement; ``ucb`` → qUpperConfidenceBound, mean +
            sqrt(beta) x standard deviation; ``ei`` and ``pi`` → the closed forms
            ``LogExpectedImprovement`` and ``LogProbabilityOfImprovement`` for one
            experiment with nothing pending and no target, else their Monte-Carlo batch
            versions ``qLogExpectedImprovement`` and ``qProbabilityOfImprovement``;
            ``logei`` → always ``qLogExpectedImprovement``; ``thompson`` → ``None``
            (:func:`thompson_choice` samples the posterior instead).
        model: the fitted surrogate (outcomes already signed so that larger is better).
        train_x: ``n x d`` encoded inputs observed so far (the baseline for qLogNEI).
        train_y: ``n x 1`` values the model was fitted to, on its scale (signed; bilog
            when screening): they give the best result and the spread xi is measured in.
        q: how many experiments are chosen together.
        x_pending: ``p x d`` points proposed but not yet measured.
        target: when set, the model predicts the measured value and the acquisition
            scores each posterior sample by minus its distance to ``target``.
    """
    objective = None if target is None else _closeness_to(target)
    if spec.type == "thompson":
        return None
    if spec.type == "ucb":
        return qUpperConfidenceBound(
            model, beta=spec.beta, X_pending=x_pending, objective=objective
        )
    if spec.type == "nei":
        return qLogNoisyExpectedImprovement(
            model, X_baseline=train_x, X_pending=x_pending, prune_baseline=True, objective=objective
        )
    best, spread = best_and_spread(train_y, target)
    # xi shifts the incumbent: z = (mu - (f_best + xi)) / sigma is the textbook's formula.
    threshold = best + spec.xi * spread
    closed_form = q == 1 and x_pending is None and target is None
    if spec.type == "pi":
        if closed_form:
            return LogProbabilityOfImprovement(model, best_f=threshold)
        return qProbabilityOfImprovement(
            model,
            best_f=threshold,
            objective=objective,
            X_pending=x_pending,
            tau=PI_TEMPERATURE * spread,
        )
    if spec.type == "ei" and closed_form:
        return LogExpectedImprovement(model, best_f=threshold)
    return qLogExpectedImprovement(
        model, best_f=threshold, objective=objective, X_pending=x_pending
    )


def best_and_spread(train_y: torch.Tensor, target: float | None = None) -> tuple[float, float]:
    """The best result f_best and the spread xi is measured in, from ``n x 1`` ``train_y``.

    f_best is the largest value (with a target: the largest score, minus the distance to
    it); the spread is the values' standard deviation, the unit the model standardises
    its outcomes to. Like the standardisation, a spread below 1e-8 counts as 1.
    """
    values = train_y[..., 0]
    scores = values if target is None else -(values - target).abs()
    spread = float(values.std()) if len(values) > 1 else 1.0
    return float(scores.max()), spread if spread >= 1e-8 else 1.0


def _closeness_to(target: float) -> GenericMCObjective:
    """``-|y - target|`` of each sample: larger is closer."""
    return GenericMCObjective(lambda samples, X=None: -(samples[..., 0] - target).abs())


class ThompsonSetError(TansakuError):
    """No point of the space's sample meets its constraints after rounding."""


THOMPSON_POINTS = (2000, 200, 5000)
"""Points Thompson sampling chooses among in a space: 200 per dimension, at least 2000 and
at most 5000 (the sizes of BoTorch's TuRBO tutorial). The posterior is sampled jointly on
all of them, whose cost grows with the cube of their number; a larger pool is subsampled
to the same 5000."""


def thompson_choice(
    model: Model, choices: torch.Tensor, q: int, target: float | None = None
) -> torch.Tensor:
    """The ``q x d`` rows of the ``m x d`` ``choices`` that maximise ``q`` posterior samples.

    Each sample is drawn jointly over all the rows (``MaxPosteriorSampling``); the ``q``
    rows are distinct (a sample whose best row is taken gives its next best). More than
    5000 rows: a random 5000 of them.
    """
    limit = THOMPSON_POINTS[2]
    if len(choices) > limit:
        choices = choices[torch.randperm(len(choices))[:limit]]
    objective = None if target is None else _closeness_to(target)
    sampler = MaxPosteriorSampling(model, objective=objective, replacement=False)
    with torch.no_grad():
        return sampler(choices, num_samples=min(q, len(choices))).detach()


def thompson_points(
    encoding: SpaceEncoding, constraints: Sequence[LinearConstraint], dtype: torch.dtype
) -> torch.Tensor:
    """``m x d`` encoded points spread over the space for Thompson sampling to choose among.

    Uniform samples of the feasible space (:func:`~tansaku.proposer.sampling.space_points`,
    a fresh seed each call), with integer, discrete and categorical parameters at allowed
    values and fixed parameters at their values; a point that rounding moves outside the
    constraints is left out.
    """
    low, per_dimension, high = THOMPSON_POINTS
    n = min(high, max(low, per_dimension * encoding.dim))
    points = space_points(encoding, constraints, int(torch.randint(2**31, ())), n)
    if constraints:
        decoded = [encoding.decode(row) for row in points.tolist()]
        rows = [encoding.encode(point) for point in decoded if satisfies(point, constraints)]
        if not rows:
            raise ThompsonSetError(
                "no point of the space's sample meets the constraints once integer or "
                "discrete values are rounded; choose another acquisition"
            )
        return torch.tensor(rows, dtype=dtype)
    return points.to(dtype)


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
    Sobol points in the box, moved onto the equalities (``onto_equalities``), are as
    good a sample where at least one in ``OVERSAMPLING`` then lies inside the bounds and
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
        points = onto_equalities(points, unit, equalities, fixed, bounds[0])
    inside = feasible(points, bounds[0], bounds[1], inequalities, equalities)
    if int(inside.sum()) < wanted:
        return None
    raw = points[inside][:wanted].reshape(raw_samples, q, -1)
    with torch.no_grad():
        values = torch.cat([acquisition(batch) for batch in raw.split(64)])
    starts, _ = initialize_q_batch(raw, values, n=num_restarts)
    return starts


def choose_from_pool(
    acquisition: AcquisitionFunction, choices: torch.Tensor, q: int
) -> torch.Tensor:
    """The ``q`` distinct rows of the ``m x d`` ``choices`` that maximise ``acquisition``."""
    candidates, _ = optimize_acqf_discrete(acquisition, q=q, choices=choices, unique=True)
    return candidates.detach()


def batch_value(acquisition: AcquisitionFunction, candidates: torch.Tensor) -> float:
    """The acquisition value of the whole ``q x d`` batch (a log value for the log
    acquisitions: qLogNEI, ei, logei and the closed-form pi)."""
    with torch.no_grad():
        return float(acquisition(candidates.unsqueeze(0)).item())
