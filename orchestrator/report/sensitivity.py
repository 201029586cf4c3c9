"""Which parameters matter: Sobol indices of the campaign's fitted model.

A Sobol index is the share of a quantity's variance over the space that one parameter
explains: the first-order index its effect alone, the total index its effect with every
interaction it takes part in. Unlike GP lengthscales they are in one currency for every
kind of parameter (a categorical's lengthscale is not comparable with a temperature's)
and they see nonlinear effects and interactions.

The estimate is of the model's posterior mean, by the Saltelli (2010) first-order and
Jansen (1999) total estimators on scrambled Sobol base points. How sure the model is of
the ranking comes from repeating the estimate on joint posterior draws of the function at
the same points: the spread of the draws' indices is the interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from gpytorch.settings import max_cholesky_size
from linear_operator.utils.warnings import NumericalWarning
from torch.quasirandom import SobolEngine

from tansaku.proposer.encoding import SpaceEncoding
from tansaku.proposer.surrogate import Surrogate
from tansaku.values import ParameterValue

MAX_JOINT_POINTS = 2048
"""Points the posterior draws are taken at together: a joint draw factorises their
covariance (cubic in the count), about half a second at this size on one core."""
MIN_BASE_POINTS = 8
DRAWS = 32
"""Joint posterior draws the interval is read from."""
INTERVAL = (5.0, 95.0)
"""Percentiles of the draws' indices that bound the interval: a 90 % interval."""


@dataclass(frozen=True)
class Sensitivity:
    """How much each searched parameter matters to one modelled quantity.

    Parameters are ordered most important first, by the total index of the posterior
    mean. Indices are fractions of the quantity's variance over the sampled domain,
    clipped to [0, 1] (Monte Carlo error can push an estimate just outside).

    Attributes:
        quantity: the modelled quantity (an objective, or an outcome a constraint bounds).
        names: the searched parameters (fixed ones left out), most important first.
        first: first-order index of each parameter: its effect alone.
        total: total index: its effect including every interaction; ``>= first`` up to
            Monte Carlo error.
        first_interval: ``(low, high)`` of the first-order index across posterior draws.
        total_interval: ``(low, high)`` of the total index across posterior draws.
        base_points: Sobol base points ``N``; the model was evaluated at ``N (k + 2)``.
        draws: posterior draws the intervals come from.
    """

    quantity: str
    names: tuple[str, ...]
    first: tuple[float, ...]
    total: tuple[float, ...]
    first_interval: tuple[tuple[float, float], ...]
    total_interval: tuple[tuple[float, float], ...]
    base_points: int
    draws: int


def sobol_sensitivities(
    surrogate: Surrogate,
    pool: Sequence[Mapping[str, ParameterValue]] | None = None,
    *,
    draws: int = DRAWS,
    seed: int = 0,
) -> list[Sensitivity]:
    """Sobol indices of every quantity ``surrogate`` models, in ``surrogate.quantities``
    order.

    Args:
        surrogate: the campaign's fitted model.
        pool: for a candidate-pool campaign, points that stand for the pool (e.g. the
            measured and proposed rows, each one ``surrogate.encoding`` encodes): each
            parameter is then drawn independently from the values these points take,
            instead of uniformly over its range. ``None`` samples the space: uniform
            over each range (log-uniform on a log scale, each value of an integer,
            discrete or categorical equally often). Either way the parameters are drawn
            independently, as Sobol indices require, so linear constraints and mixture
            totals are not applied.
        draws: joint posterior draws for the intervals.
        seed: seeds the base points and the draws, so a report is reproducible.
    """
    encoding = surrogate.encoding
    searched = [i for i in range(encoding.dim) if i not in encoding.fixed_columns]
    k = len(searched)
    if k == 0:
        return [Sensitivity(q, (), (), (), (), (), 0, 0) for q in surrogate.quantities]
    n = max(MIN_BASE_POINTS, 2 ** math.floor(math.log2(MAX_JOINT_POINTS / (k + 2))))
    # torch's engine, which the proposer's initial design uses: scipy.stats would add
    # more than a second of import to every report.
    unit = SobolEngine(2 * k, scramble=True, seed=seed).draw(n, dtype=torch.float64).numpy()
    a = _onto_domain(encoding, searched, unit[:, :k], pool)
    b = _onto_domain(encoding, searched, unit[:, k:], pool)
    blocks = [a, b]
    for column in searched:
        mixed = a.copy()
        mixed[:, column] = b[:, column]
        blocks.append(mixed)
    x = torch.tensor(np.concatenate(blocks), dtype=torch.float64)
    mean = surrogate.predict_encoded(x).mean  # (k + 2) n x m
    # Exact draws: above max_cholesky_size GPyTorch would draw from a low-rank Lanczos
    # root, which understates how much the function can vary.
    with warnings.catch_warnings(), max_cholesky_size(max(MAX_JOINT_POINTS, len(x))):
        # A smooth kernel's covariance at thousands of points is near-singular; the
        # jitter the factorisation adds is expected, not news for the report's reader.
        warnings.simplefilter("ignore", NumericalWarning)
        sampled = surrogate.sample_encoded(x, draws, seed)  # draws x (k + 2) n x m
    first, total = _indices(mean.T.reshape(-1, k + 2, n))  # m x k
    first_draws, total_draws = _indices(
        np.moveaxis(sampled, 2, 1).reshape(draws, -1, k + 2, n)
    )  # draws x m x k
    first_low, first_high = np.percentile(first_draws, INTERVAL, axis=0)
    total_low, total_high = np.percentile(total_draws, INTERVAL, axis=0)
    names = [encoding.space[i].name for i in searched]
    sensitivities = []
    for q, quantity in enumerate(surrogate.quantities):
        order = sorted(range(k), key=lambda j: -total[q, j])
        sensitivities.append(
            Sensitivity(
                quantity=quantity,
                names=tuple(names[j] for j in order),
                first=tuple(float(first[q, j]) for j in order),
                total=tuple(float(total[q, j]) for j in order),
                first_interval=tuple(
                    (float(first_low[q, j]), float(first_high[q, j])) for j in order
                ),
                total_interval=tuple(
                    (float(total_low[q, j]), float(total_high[q, j])) for j in order
                ),
                base_points=n,
                draws=draws,
            )
        )
    return sensitivities


def _onto_domain(
    encoding: SpaceEncoding,
    searched: list[int],
    unit: np.ndarray,
    pool: Sequence[Mapping[str, ParameterValue]] | None,
) -> np.ndarray:
    """``n x d`` encoded rows for ``n x k`` unit-cube coordinates of the searched columns;
    fixed columns hold their fixed value."""
    full = np.full((unit.shape[0], encoding.dim), 0.5)
    full[:, searched] = unit
    if pool is None:
        return np.array([encoding.encode(encoding.from_unit(row)) for row in full])
    rows = np.array([encoding.encode(point) for point in pool])
    # The empirical quantile function of each column: u in [0, 1) picks one of the pool
    # points' values, each equally often.
    picks = np.minimum((full * len(rows)).astype(int), len(rows) - 1)
    encoded = np.sort(rows, axis=0)[picks, np.arange(encoding.dim)]
    for column, value in encoding.fixed_columns.items():
        encoded[:, column] = value
    return encoded


def _indices(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total indices from ``... x (k + 2) x n`` model values: the blocks
    are f(A), f(B), then f(AB_i) for each searched column i (A with column i from B).

    Returns two ``... x k`` arrays, clipped to [0, 1]; zero for a flat function.
    """
    f_a, f_b, f_ab = values[..., 0, :], values[..., 1, :], values[..., 2:, :]
    variance = np.concatenate([f_a, f_b], axis=-1).var(axis=-1)[..., None]
    first_part = (f_b[..., None, :] * (f_ab - f_a[..., None, :])).mean(axis=-1)
    total_part = 0.5 * ((f_a[..., None, :] - f_ab) ** 2).mean(axis=-1)
    scale = (values**2).mean(axis=(-2, -1))[..., None]
    flat = variance <= 1e-12 * scale
    safe = np.where(flat, 1.0, variance)
    first = np.where(flat, 0.0, first_part / safe)
    total = np.where(flat, 0.0, total_part / safe)
    return np.clip(first, 0.0, 1.0), np.clip(total, 0.0, 1.0)
