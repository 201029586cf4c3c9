"""Active learning (``purpose: learn``): experiments that make the model surest everywhere.

A learning campaign maps its objective over the whole space instead of chasing its best
value. Each proposal minimises the model's posterior variance integrated over the space,
the criterion of BoTorch's ``qNegIntegratedPosteriorVariance``: the integral is a
Monte-Carlo mean over points drawn uniformly from the feasible space (inside every mixture
and linear constraint), or over the rows of the candidate pool, which *are* the space.

:class:`IntegratedVariance` computes the same value as BoTorch's class (a test holds them
to 1e-9 of each other) in closed form. BoTorch's builds a fantasy model per candidate and
the full posterior covariance of the integration points, whose cost grows with their
square; the closed form needs one product with the integration points' cross-covariance
per candidate.

The same points measure how sure the model is: its mean predictive standard deviation
over them, relative to the spread of what was measured, is what ``stop.uncertainty_below``
compares against.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models.model import Model
from botorch.utils.transforms import concatenate_pending_points, t_batch_mode_transform

from tansaku.campaign.expressions import LinearConstraint
from tansaku.proposer.encoding import SpaceEncoding
from tansaku.proposer.sampling import space_points

MC_POINTS = 1024
"""Points the integrated variance is averaged over: quasi-random, so the integral's error
falls faster than with random points; every acquisition evaluation's cost grows in
proportion to their number."""

POOL_POINTS = 4096
"""At most this many pool rows (a seeded random subset of a larger pool) stand for the space."""

SEQUENCE = 0x1EA2
"""Offsets the campaign seed, so the integration points are a sequence of their own and not
the initial design's (whose points the model knows best)."""


def integration_points(
    encoding: SpaceEncoding,
    constraints: Sequence[LinearConstraint],
    seed: int,
    n: int = MC_POINTS,
) -> torch.Tensor:
    """``n x d`` encoded points spread uniformly over the feasible space (inside every
    mixture and linear constraint), that a learning campaign integrates over.

    The same campaign ``seed`` gives the same points, so every proposal of a campaign
    integrates over the same points; their sequence is offset from the initial design's.
    """
    return space_points(encoding, constraints, seed + SEQUENCE, n)


def pool_points(rows: torch.Tensor, seed: int) -> torch.Tensor:
    """The ``m x d`` encoded pool rows that stand for the space: all of them, or a seeded
    random subset of ``POOL_POINTS`` of a larger pool."""
    if rows.shape[0] <= POOL_POINTS:
        return rows
    chosen = np.random.default_rng(seed + SEQUENCE).choice(
        rows.shape[0], POOL_POINTS, replace=False
    )
    return rows[torch.as_tensor(np.sort(chosen))]


class IntegratedVariance(AcquisitionFunction):
    """Minus the posterior variance of the property (without measurement noise), averaged
    over ``N x d`` encoded ``mc_points``, that the model would have once a ``q``-batch and
    the ``p x d`` pending points were measured; larger is better, in the objective's unit
    squared. For a GP with its hyperparameters held this does not depend on the values
    that will be measured, so it is exact, not an expectation.

    With ``T`` the training inputs, ``K`` the kernel, ``S = K(T, T) + noise`` and ``B`` the
    batch with the pending points, the variance at ``z`` drops by
    ``c(z)^T (C(B, B) + noise)^{-1} c(z)``, where ``C`` is the posterior covariance and
    ``c(z) = C(B, z) = K(B, z) - K(B, T) S^{-1} K(T, z)``; ``S^{-1/2} K(T, Z)`` is computed
    once. A new measurement's noise is the mean of the training noise, as in BoTorch's
    fantasies.

    Args:
        model: a fitted single-output ``SingleTaskGP`` (inferred or fixed noise).
        mc_points: ``N x d`` encoded points standing for the space.
        x_pending: ``p x d`` encoded points proposed but not yet measured.
    """

    def __init__(
        self, model: Model, mc_points: torch.Tensor, x_pending: torch.Tensor | None = None
    ) -> None:
        super().__init__(model=model)
        self.set_X_pending(x_pending)
        model.eval()
        with torch.no_grad():
            train = model.train_inputs[0]
            self._points = model.input_transform(mc_points)
            noise = model.likelihood.noise.detach().reshape(-1)
            self._noise = noise.mean()
            gram = model.covar_module(train).to_dense() + torch.diag(noise.expand(train.shape[0]))
            self._cholesky = torch.linalg.cholesky(gram)
            self._whitened = torch.linalg.solve_triangular(
                self._cholesky, model.covar_module(train, self._points).to_dense(), upper=False
            )
            prior = model.covar_module(self._points, diag=True)
            self._before = (prior - self._whitened.pow(2).sum(0)).clamp_min(0).mean()
        transform = getattr(model, "outcome_transform", None)
        stdvs = getattr(transform, "stdvs", None)
        self._scale = 1.0 if stdvs is None else float(stdvs.reshape(-1)[0]) ** 2

    @concatenate_pending_points
    @t_batch_mode_transform()
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """``b`` values for a ``b x q x d`` batch of encoded candidates."""
        model = self.model
        batch = model.input_transform(X)
        train = model.train_inputs[0]
        cross = torch.linalg.solve_triangular(
            self._cholesky, model.covar_module(train, batch).to_dense(), upper=False
        )  # b x n x q
        covariance = model.covar_module(batch).to_dense() - cross.transpose(-1, -2) @ cross
        eye = torch.eye(X.shape[-2], dtype=X.dtype, device=X.device)
        covariance = covariance + self._noise * eye
        towards = model.covar_module(batch, self._points).to_dense()  # b x q x N
        towards = towards - cross.transpose(-1, -2) @ self._whitened
        factor = torch.linalg.cholesky(covariance)
        reduced = torch.linalg.solve_triangular(factor, towards, upper=False)
        after = self._before - reduced.pow(2).sum(-2).mean(-1)
        return -self._scale * after


def mean_relative_sd(model: Model, mc_points: torch.Tensor, spread: float) -> float | None:
    """The model's predictive standard deviation of the property (without measurement
    noise), averaged over the ``N x d`` ``mc_points``, divided by ``spread`` (the standard
    deviation of the measured values, in the same unit); ``None`` without a spread."""
    if not spread > 0:
        return None
    with torch.no_grad():
        variance = model.posterior(mc_points).variance
    return float(variance.clamp_min(0).sqrt().mean()) / spread
