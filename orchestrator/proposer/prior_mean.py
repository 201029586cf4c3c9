"""Physics as the prior: a user's function of the parameters as the GP's prior mean.

``model: {prior_mean: package.module:function}`` names a function (an Arrhenius law, a
DFT estimate, a quick simulation) that maps a parameter mapping to the objective's
expected value, in its unit. Without data the GP then predicts that function instead
of a constant, so the first model-based proposals already follow the trend it gives.

The mean is ``scale * (g(x) - mu) / sigma + offset`` in the model's standardised
outcome space, where ``g`` is the function on the model's scale (negated for a
minimised objective, through the bilog when screening, as ``Proposer._training_data``
transforms the measurements) and ``mu``, ``sigma`` are the outcome standardisation's
(``Standardize``). ``scale = 1, offset = 0`` is the function exactly as given; both are
fitted by marginal likelihood with the kernel's hyperparameters. A right prior keeps
``scale`` near 1; a wrong one is scaled towards 0 as the data contradict it, so the model
falls back towards the default constant mean instead of being misled. What the prior
leaves unexplained is smaller than the standardised outcome's unit variance, so the
kernel of such a model gets a fitted amplitude too (``fit_model``).

Where the function is evaluated. The GP's forward receives its inputs after the input
transform: categorical indices replaced by descriptor or one-hot features, element
mixtures by element-property features, everything normalised. Those steps do not invert
in general (a mixture may keep only its element averages, truncated principal components
may merge two descriptor rows), so the mean cannot recover the parameters from what it
receives. Instead :class:`PriorColumn` wraps the model's input transform: it evaluates
the function on the *encoded* inputs it is given, decoded to parameter values
(``SpaceEncoding.decode``), and appends the result as one more column, which the mean
reads and the kernel ignores (its ``active_dims`` leave it out). Training inputs carry
the column from the start (the function is called once per measured point per fit).

Gradients. The function is plain Python, opaque to torch's autograd, and the acquisition
optimiser follows gradients in the continuous columns. With a zero gradient of the mean
the optimiser would climb the kernel part alone and stop short of where the prior's trend
points, which matters most early, when the prior dominates; so the column's gradient is
taken by central finite differences in each continuous column (:data:`STEP` of its
range, one-sided at a bound): ``2 x continuous parameters`` extra calls per point, paid
only when a gradient is asked for. Integer, discrete and categorical columns get zero:
the mixed optimiser searches them over their values, not by gradient. Values are cached
by point, so a candidate pool costs one call per row for the whole campaign.

The function is called thousands of times per proposal: it should take well under a
millisecond (a closed form, or an interpolation of a precomputed table).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import torch
from botorch.models.transforms.input import InputTransform
from gpytorch.means import Mean
from torch import Tensor

from tansaku.callables import import_function
from tansaku.campaign.model_settings import prior_value
from tansaku.campaign.parameters import ContinuousParameter
from tansaku.proposer.encoding import SpaceEncoding

STEP = 1e-4
"""Finite-difference half-step, as a fraction of a continuous column's encoded range."""

CACHED_POINTS = 1 << 16
"""Points whose prior value is kept: a pool of tens of thousands of rows, or the points of
a few proposals' optimisation."""


class PriorOnModelScale:
    """The prior-mean function, evaluated on encoded rows, on the model's outcome scale.

    Args:
        name: ``package.module:function``, as the campaign names it.
        encoding: the space's encoding; rows are decoded to parameter mappings with it.
        sign: ``-1`` for a minimised objective (the model fits ``-y``), else ``1``.
        bilog: whether the model fits ``sign(y) log(1 + |y|)`` (screening).
    """

    def __init__(self, name: str, encoding: SpaceEncoding, sign: float, bilog: bool) -> None:
        function = import_function(name)
        self.encoding = encoding
        self._continuous = [
            i
            for i, p in enumerate(encoding.space)
            if isinstance(p, ContinuousParameter) and p.fixed is None
        ]
        bounds = encoding.bounds

        @lru_cache(maxsize=CACHED_POINTS)
        def on_model_scale(values: tuple[Any, ...]) -> float:
            point = dict(zip([p.name for p in encoding.space], values, strict=True))
            y = sign * prior_value(function, name, point)
            return math.copysign(math.log1p(abs(y)), y) if bilog else y

        self._on_model_scale = on_model_scale
        self._bounds = bounds

    def values(self, rows: Tensor) -> Tensor:
        """``...`` prior values at ``... x d`` encoded rows (no gradient)."""
        flat = rows.detach().reshape(-1, rows.shape[-1]).tolist()
        names = [p.name for p in self.encoding.space]
        found = [
            self._on_model_scale(tuple(point[n] for n in names))
            for point in map(self.encoding.decode, flat)
        ]
        return torch.tensor(found, dtype=rows.dtype).reshape(rows.shape[:-1])

    def gradient(self, rows: Tensor) -> Tensor:
        """``... x d`` derivatives of :meth:`values` by central differences in the
        continuous columns (one-sided at a bound), zero in the others."""
        rows = rows.detach()
        gradient = torch.zeros_like(rows)
        for column in self._continuous:
            low, high = self._bounds[column]
            step = STEP * (high - low)
            below, above = rows.clone(), rows.clone()
            below[..., column] = (rows[..., column] - step).clamp(low, high)
            above[..., column] = (rows[..., column] + step).clamp(low, high)
            width = above[..., column] - below[..., column]
            difference = self.values(above) - self.values(below)
            gradient[..., column] = torch.where(
                width > 0, difference / width.clamp_min(1e-300), torch.zeros_like(width)
            )
        return gradient

    def __call__(self, rows: Tensor) -> Tensor:
        """``...`` prior values at ``... x d`` encoded rows, differentiable in ``rows``."""
        return _FiniteDifferences.apply(rows, self)


class _FiniteDifferences(torch.autograd.Function):
    """The prior's values, with the backward pass by finite differences."""

    @staticmethod
    def forward(rows: Tensor, prior: PriorOnModelScale) -> Tensor:
        return prior.values(rows)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, PriorOnModelScale], output: Tensor) -> None:
        rows, prior = inputs
        ctx.save_for_backward(rows)
        ctx.prior = prior

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        (rows,) = ctx.saved_tensors
        return grad_output.unsqueeze(-1) * ctx.prior.gradient(rows), None


class PriorColumn(InputTransform):
    """The model's input transform, with the prior's value appended as the last column.

    On evaluation (posteriors, acquisition values, fantasies) the wrapped transform
    receives ``... x d`` encoded inputs and the prior is evaluated on them. Training
    inputs are given already expanded, as ``fit_model`` builds them (the wrapped steps
    that expand categoricals and element mixtures apply on evaluation only): the model's
    columns, then the prior column, which passes through unchanged.

    Args:
        inner: the model's own input transform (descriptor lookup, element features,
            normalisation).
        prior: the prior on the model's scale, a function of encoded rows.
    """

    def __init__(self, inner: InputTransform, prior: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.transform_on_train = True
        self.transform_on_eval = True
        self.transform_on_fantasize = True
        self.inner = inner
        self.prior = prior

    def transform(self, X: Tensor) -> Tensor:
        if self.training:
            return self._pass_column(X, self.inner)
        return torch.cat([self.inner(X), self.prior(X).unsqueeze(-1)], dim=-1)

    def preprocess_transform(self, X: Tensor) -> Tensor:
        # The training inputs, transformed once when the model is put in eval mode.
        return self._pass_column(X, self.inner.preprocess_transform)

    @staticmethod
    def _pass_column(X: Tensor, transform: Callable[[Tensor], Tensor]) -> Tensor:
        return torch.cat([transform(X[..., :-1]), X[..., -1:]], dim=-1)


class ScaledPriorMean(Mean):
    """``scale * (g - mu) / sigma + offset``, ``g`` the last input column (the prior on
    the model's scale), in the standardised outcome space.

    ``scale`` starts at 1 and ``offset`` at 0: the prior exactly as given, once
    :meth:`standardise_with` has set ``mu`` and ``sigma`` to the outcome transform's.
    """

    def __init__(self, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.register_parameter("scale", torch.nn.Parameter(torch.ones((), dtype=dtype)))
        self.register_parameter("offset", torch.nn.Parameter(torch.zeros((), dtype=dtype)))
        self.register_buffer("mu", torch.zeros((), dtype=dtype))
        self.register_buffer("sigma", torch.ones((), dtype=dtype))

    def standardise_with(self, mu: Tensor, sigma: Tensor) -> None:
        """Set the standardisation of the outcome (``Standardize.means``, ``.stdvs``)."""
        self.mu = mu.detach().reshape(()).to(self.mu)
        self.sigma = sigma.detach().reshape(()).to(self.sigma)

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * (x[..., -1] - self.mu) / self.sigma + self.offset
