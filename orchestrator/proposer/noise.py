"""Exact or noisy: the noise model the measurements support, decided as they come in.

A campaign that does not say whether its measurements are exact (``noise_free`` on its
objectives) gets the noise model its data supports. Both GPs are fitted: one inferring the
noise level (BoTorch's default, whose noise prior keeps it around 1 % of the outcome's
variance) and one with the noise fixed near zero (``NOISE_FREE_VARIANCE``). Each is judged
by its leave-one-out predictive log-likelihood (Rasmussen & Williams 2006, section 5.4.2):
how well it predicts every measurement from all the others. Unlike the marginal
likelihood, it does not favour the model with more free hyperparameters, and it is robust
to a kernel that does not fit the function well.

Three rules keep the choice safe for noisy instruments:

- Replicates that disagree (the same inputs measured twice with different results) prove
  the measurements noisy: the noise is then inferred, and no exact model is fitted.
- The choice changes only when the other model predicts the left-out measurements better
  by more than ``SWITCH_MARGIN`` in total and by more than ``SWITCH_STANDARD_ERRORS``
  standard errors of that difference (the per-measurement differences vary: a few
  measurements that happen to lie on a smooth curve are not evidence enough). A campaign
  starts as noisy.
- The comparison is made again once the measurements have grown by ``RECHECK_GROWTH``
  since the last one (at every refit up to ten); in between, only the chosen model is
  fitted, so the choice costs a second fit at a fraction of the refits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from botorch.models import SingleTaskGP

SWITCH_MARGIN = 2.0
"""Total leave-one-out log-likelihood (nats, summed over the measurements) by which the
other noise model must predict better for the choice to change: a likelihood ratio of
e² ≈ 7, "positive evidence" on Kass & Raftery's (1995) scale."""

SWITCH_STANDARD_ERRORS = 2.0
"""How many standard errors of the summed difference the difference must also exceed: the
rule of thumb for comparing models by leave-one-out predictive density (Vehtari, Gelman &
Gabry 2017; Sivula et al. 2020). Like ``SWITCH_MARGIN``, taken from the literature, not
tuned on the benchmarks."""

RECHECK_GROWTH = 1.1
"""The comparison is repeated once there are this many times the measurements it last
saw (and at least one more)."""

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
        measurements: how many measurements the deciding comparison saw.
        loo_exact: leave-one-out log-likelihood of the exact model (nats, summed over
            the training points and outcomes), ``None`` without a comparison.
        loo_inferred: the same for the model that infers the noise.
        standard_error: the standard error of ``loo_exact - loo_inferred``.
    """

    exact: bool
    reason: Reason
    measurements: int
    loo_exact: float | None = None
    loo_inferred: float | None = None
    standard_error: float | None = None


class Fit(Protocol):
    """Fits the campaign's GP, exact or with an inferred noise level, optionally starting
    from another fitted model's kernel and mean (``model.fit_model``'s ``start_from``)."""

    def __call__(self, exact: bool, start_from: SingleTaskGP | None = None) -> SingleTaskGP: ...


def choose_noise(
    fit: Fit,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    measured: int,
    previous: NoiseChoice | None = None,
) -> tuple[SingleTaskGP, NoiseChoice]:
    """Fit the noise model the data supports (see the module docstring).

    Args:
        fit: fits the campaign's GP to ``train_x``, ``train_y`` (see :class:`Fit`).
        train_x: ``n x d`` encoded inputs.
        train_y: ``n x m`` outcomes.
        measured: how many of the first rows are measurements; the rest are stand-ins
            for failed experiments, which no replicate check reads.
        previous: the previous refit's choice: the side the rules hold to, and when the
            comparison is due again.

    Returns:
        The fitted model and the choice (``previous`` itself when no comparison was due).
    """
    if measured < MIN_OBSERVATIONS:
        return fit(False), NoiseChoice(False, "few measurements", measured)
    if replicates_disagree(train_x[:measured], train_y[:measured]):
        return fit(False), NoiseChoice(False, "replicates disagree", measured)
    exact_before = previous is not None and previous.exact
    if previous is not None and previous.reason == "leave-one-out":
        due = max(previous.measurements + 1, math.ceil(RECHECK_GROWTH * previous.measurements))
        if measured < due:
            return fit(exact_before), previous
    # The held model is fitted as every model is; the other one only for the comparison,
    # from the held one's kernel, in a fraction of the iterations.
    held = fit(exact_before)
    other = fit(not exact_before, start_from=held)
    exact, inferred = (held, other) if exact_before else (other, held)
    exact_points, inferred_points = loo_log_likelihoods(exact), loo_log_likelihoods(inferred)
    per_point = exact_points - inferred_points
    margin = float(per_point.sum())
    error = float(per_point.std() * math.sqrt(per_point.numel()))
    evidence = max(SWITCH_MARGIN, SWITCH_STANDARD_ERRORS * error)
    chose_exact = margin > -evidence if exact_before else margin > evidence
    choice = NoiseChoice(
        chose_exact,
        "leave-one-out",
        measured,
        loo_exact=float(exact_points.sum()),
        loo_inferred=float(inferred_points.sum()),
        standard_error=error,
    )
    return (held if chose_exact == exact_before else fit(chose_exact)), choice


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


def loo_log_likelihoods(model: SingleTaskGP) -> torch.Tensor:
    """``log p(y_i | y_-i)`` of every training point (and outcome, flattened) under the
    fitted ``model``, in its standardised outcome units.

    The closed form of Rasmussen & Williams (eq. 5.10-5.12) from one Cholesky factor of
    the training covariance, noise included. It is gpytorch's
    ``LeaveOneOutPseudoLikelihood`` point by point and without the hyperparameters'
    priors, which differ between the two models and would otherwise take part in the
    comparison.
    """
    model.eval()
    with torch.no_grad():
        inputs = model.train_inputs[0]
        targets = model.train_targets
        prior = model.likelihood(model.forward(inputs), inputs)
        # Positive definite: even the exact model's noise (NOISE_FREE_VARIANCE, at gpytorch's
        # floor) lies on the diagonal.
        factor = torch.linalg.cholesky(prior.covariance_matrix)
        precision = torch.cholesky_inverse(factor)
        variance = 1.0 / precision.diagonal(dim1=-2, dim2=-1)
        residual = (precision @ (targets - prior.mean).unsqueeze(-1)).squeeze(-1) * variance
        log_density = -0.5 * (torch.log(2 * torch.pi * variance) + residual**2 / variance)
    return log_density.flatten()
