"""The campaign's fitted model, read back in the units of what was measured.

The proposer fits its GP to values transformed for the acquisition (signed so that larger
is better; for screening, the bilog of the signed value). A person asking what the model
believes wants the measured quantity itself, so a :class:`Surrogate` undoes the transform:
exactly for the sign, by Gauss-Hermite quadrature for the bilog (whose inverse is not
linear, so the mean of the transformed posterior is not the transform of its mean).

Predictions are of the underlying function, without the measurement noise: the standard
deviation says how sure the model is of the property, not how much a repeat would scatter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from botorch.models import SingleTaskGP

from tansaku.proposer.encoding import SpaceEncoding
from tansaku.values import ParameterValue

Scale = Literal["signed", "bilog"]

QUADRATURE_NODES = 32
"""Gauss-Hermite nodes for the bilog's inverse: exact to float precision for the smooth
``sign(z) (e^|z| - 1)`` over the few standard deviations that matter."""


@dataclass(frozen=True)
class Prediction:
    """What the model predicts at ``n`` points for ``m`` measured quantities.

    ``mean`` and ``sd`` are ``n x m`` arrays in each quantity's own unit, columns in the
    order of ``quantities``.
    """

    quantities: list[str]
    mean: np.ndarray
    sd: np.ndarray


@dataclass(frozen=True)
class Surrogate:
    """A fitted model of the campaign and how its outputs map to the measured quantities.

    Args:
        model: the GP the proposer fitted, taking ``n x d`` encoded inputs.
        encoding: the space's encoding (``SpaceEncoding``): points to model inputs.
        quantities: the measured quantities the model's outputs are, in output order.
        scale: ``signed`` (output = ``sign`` x value) or ``bilog`` (output =
            bilog(``sign`` x value)); one objective only for ``bilog``.
        sign: ``-1`` where the output is the negated value (a minimised objective).
        spread: ``m`` standard deviations of the measured values (failures' stand-ins
            left out), in each quantity's unit: the scale the model's uncertainty is
            judged against.
        observations: how many measurements the model learned from.
        inputs: ``n x d`` encoded inputs the model was fitted to: the measurements, then
            ``stand_ins`` failed experiments, which it learned as the worst result.
        stand_ins: how many of the last ``inputs`` are failures' stand-ins.
    """

    model: SingleTaskGP
    encoding: SpaceEncoding
    quantities: list[str]
    scale: Scale
    sign: float
    spread: np.ndarray
    observations: int
    inputs: torch.Tensor
    stand_ins: int

    def predict(self, points: Sequence[Mapping[str, ParameterValue]]) -> Prediction:
        """Mean and standard deviation of each quantity at ``points`` (parameter mappings)."""
        return self.predict_encoded(self.encode(points))

    def predict_encoded(self, x: torch.Tensor) -> Prediction:
        """Mean and standard deviation at ``n x d`` encoded points."""
        with torch.no_grad():
            posterior = self.model.posterior(x)
            mean = posterior.mean.reshape(x.shape[0], -1).numpy()
            sd = posterior.variance.clamp_min(0).sqrt().reshape(x.shape[0], -1).numpy()
        if self.scale == "bilog":
            mean, sd = _through_bilog(mean, sd)
        return Prediction(list(self.quantities), self.sign * mean, sd)

    def sample_encoded(self, x: torch.Tensor, samples: int, seed: int) -> np.ndarray:
        """``samples x n x m`` joint draws of the quantities at ``n x d`` encoded points,
        from the posterior of the underlying function, in measured units."""
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            draws = self.model.posterior(x).rsample(torch.Size([samples]))
        values = draws.reshape(samples, x.shape[0], -1).numpy()
        if self.scale == "bilog":
            values = np.sign(values) * np.expm1(np.abs(values))
        return self.sign * values

    def nearest_is_stand_in(self, x: torch.Tensor) -> np.ndarray:
        """For each of ``n x d`` encoded points, whether the nearest input the model was
        fitted to (each column scaled by the space's bounds) is a failure's stand-in: a
        value the model was told, not one that was measured."""
        if self.stand_ins == 0:
            return np.zeros(x.shape[0], dtype=bool)
        low, high = torch.tensor(self.encoding.bounds, dtype=x.dtype).T
        scale = torch.where(high > low, high - low, torch.ones_like(high))
        distances = torch.cdist(x / scale, self.inputs / scale)
        nearest = distances.argmin(dim=-1).numpy()
        return nearest >= self.inputs.shape[0] - self.stand_ins

    def encode(self, points: Sequence[Mapping[str, ParameterValue]]) -> torch.Tensor:
        """``n x d`` model inputs of ``points``."""
        return torch.tensor(
            [self.encoding.encode(p) for p in points], dtype=torch.float64
        ).reshape(len(points), self.encoding.dim)


def _through_bilog(mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of ``sign(z) (e^|z| - 1)`` for ``z ~ N(mean, sd²)``, elementwise."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    weights = weights / weights.sum()
    z = mean[..., None] + sd[..., None] * nodes
    values = np.sign(z) * np.expm1(np.abs(z))
    first = (values * weights).sum(-1)
    second = (values**2 * weights).sum(-1)
    return first, np.sqrt(np.clip(second - first**2, 0.0, None))
