"""Exact or noisy: the noise model the measurements support, decided at each refit.

A campaign that does not say whether its measurements are exact (``noise_free`` on its
objectives) gets the noise model its data supports. At each refit both GPs are fitted: one
inferring the noise level (BoTorch's default, whose noise prior keeps it around 1 % of the
outcome's variance) and one with the noise fixed near zero (``NOISE_FREE_VARIANCE``). Each
is judged by its leave-one-out predictive log-likelihood (Rasmussen & Williams 2006,
section 5.4.2): how well it predicts every measurement from all the others. Unlike the
marginal likelihood, it does not favour the model with more free hyperparameters, and it
is robust to a kernel that does not fit the function well.

Two rules keep the choice safe for noisy instruments:

- Replicates that disagree (the same inputs measured twice with different results) prove
  the measurements noisy: the noise is then inferred, and no exact model is fitted.
- Hysteresis: the choice changes only when the other model predicts the left-out
  measurements better by more than ``SWITCH_MARGIN`` in total, so one refit's small
  difference does not flip the model back and forth. A campaign starts as noisy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from botorch.models import SingleTaskGP

SWITCH_MARGIN = 2.0
"""Total leave-one-out log-likelihood (nats, summed over the measurements) by which the
other noise model must predict better for the choice to change: a likelihood ratio of
e² ≈ 7, "positive evidence" on Kass & Raftery's (1995) scale. Set from that scale, not
tuned on the benchmarks."""

MIN_OBSERVATIONS = 5
"""Fewer measurements than this say too little to tell noise from signal: inferred."""

Reason = Literal["few measurements", "replicates disagree", "leave-one-out"]


@dataclass(frozen=True)
class NoiseChoice:
    """Which noise model a refit chose, and why.

    Args:
        exact: the model fixes the noise near zero (the measurements are taken as exact).
        reason: what decided: too few measurements, replicates that disagree, or the
            leave-one-out comparison.
        loo_exact: leave-one-out log-likelihood of the exact model (nats, summed over
            the measurements and outcomes), ``None`` when it was not fitted.
        loo_inferred: the same for the model that infers the noise.
    """

    exact: bool
    reason: Reason
    loo_exact: float | None = None
    loo_inferred: float | None = None


def choose_noise(
    fit: Callable[[bool], SingleTaskGP],
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    measured: int,
    exact_before: bool = False,
) -> tuple[SingleTaskGP, NoiseChoice]:
    """Fit the noise model the data supports (see the module docstring).

    Args:
        fit: fits the campaign's GP to ``train_x``, ``train_y``, exact (``True``) or with
            an inferred noise level (``False``).
        train_x: ``n x d`` encoded inputs.
        train_y: ``n x m`` outcomes.
        measured: how many of the first rows are measurements; the rest are stand-ins
            for failed experiments, which no replicate check reads.
        exact_before: the previous refit's choice, the side the hysteresis holds to.

    Returns:
        The fitted model and the choice.
    """
    if measured < MIN_OBSERVATIONS:
        return fit(False), NoiseChoice(False, "few measurements")
    if replicates_disagree(train_x[:measured], train_y[:measured]):
        return fit(False), NoiseChoice(False, "replicates disagree")
    inferred, exact = fit(False), fit(True)
    loo_inferred, loo_exact = loo_log_likelihood(inferred), loo_log_likelihood(exact)
    margin = loo_exact - loo_inferred
    chose_exact = margin > -SWITCH_MARGIN if exact_before else margin > SWITCH_MARGIN
    choice = NoiseChoice(chose_exact, "leave-one-out", loo_exact, loo_inferred)
    return (exact if chose_exact else inferred), choice


def replicates_disagree(train_x: torch.Tensor, train_y: torch.Tensor) -> bool:
    """Whether two rows of ``n x d`` ``train_x`` are the same point with outcomes
    (``n x m``) that differ by more than float rounding."""
    points, inverse = torch.unique(train_x, dim=0, return_inverse=True)
    if points.shape[0] == train_x.shape[0]:
        return False
    scale = train_y.abs().amax(dim=0).clamp_min(1.0)
    for group in range(points.shape[0]):
        outcomes = train_y[inverse == group]
        spread = (outcomes.amax(dim=0) - outcomes.amin(dim=0)) / scale
        if bool((spread > 1e-9).any()):
            return True
    return False


def loo_log_likelihood(model: SingleTaskGP) -> float:
    """Sum over the training points (and outcomes) of ``log p(y_i | y_-i)`` under the
    fitted ``model``, in its standardised outcome units.

    The closed form of Rasmussen & Williams (eq. 5.10-5.12) from one Cholesky factor of
    the training covariance, noise included. It is gpytorch's
    ``LeaveOneOutPseudoLikelihood`` without the hyperparameters' priors, which differ
    between the two models and would otherwise take part in the comparison.
    """
    model.eval()
    with torch.no_grad():
        inputs = model.train_inputs[0]
        targets = model.train_targets
        prior = model.likelihood(model.forward(inputs), inputs)
        covariance = prior.covariance_matrix
        factor = torch.linalg.cholesky(covariance)
        precision = torch.cholesky_inverse(factor)
        variance = 1.0 / precision.diagonal(dim1=-2, dim2=-1)
        residual = (precision @ (targets - prior.mean).unsqueeze(-1)).squeeze(-1) * variance
        log_density = -0.5 * (torch.log(2 * torch.pi * variance) + residual**2 / variance)
    return float(log_density.sum())
