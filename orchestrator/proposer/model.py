"""The Gaussian-process surrogate: build, warm-start from the previous fit, and fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood

Hyperparameters = dict[str, list[float] | float]
"""A fitted model's raw hyperparameters by name, as JSON-ready lists."""


def fit_model(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    bounds: torch.Tensor,
    categorical_columns: Sequence[int],
    warm_start: Mapping[str, list[float] | float] | None = None,
) -> SingleTaskGP:
    """Fit a GP to the observations, starting from ``warm_start`` hyperparameters if given.

    Args:
        train_x: ``n x d`` encoded inputs.
        train_y: ``n x m`` outcomes (one column: signed so that larger is better).
        bounds: ``2 x d`` bounds of the encoded inputs; continuous and integer columns
            are scaled to [0, 1] with them.
        categorical_columns: columns holding category indices; a categorical kernel
            (``MixedSingleTaskGP``) handles them when present.
        warm_start: hyperparameters of the previous fit, from :func:`hyperparameters`.
    """
    numeric = [i for i in range(train_x.shape[-1]) if i not in set(categorical_columns)]
    normalize = Normalize(d=train_x.shape[-1], indices=numeric or None, bounds=bounds)
    if categorical_columns:
        model: SingleTaskGP = MixedSingleTaskGP(
            train_x,
            train_y,
            cat_dims=list(categorical_columns),
            input_transform=normalize if numeric else None,
            outcome_transform=Standardize(m=train_y.shape[-1]),
        )
    else:
        model = SingleTaskGP(
            train_x,
            train_y,
            input_transform=normalize,
            outcome_transform=Standardize(m=train_y.shape[-1]),
        )
    if warm_start:
        state = {
            name: torch.as_tensor(value, dtype=train_x.dtype) for name, value in warm_start.items()
        }
        model.load_state_dict(state, strict=False)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


def hyperparameters(model: SingleTaskGP) -> Hyperparameters:
    """The model's raw (unconstrained) hyperparameters, to warm-start the next fit."""
    return {name: value.detach().tolist() for name, value in model.named_parameters()}


def describe(model: SingleTaskGP) -> dict[str, list[float] | float]:
    """Readable hyperparameters for the ledger: lengthscales (normalised units) and noise."""
    summary: dict[str, list[float] | float] = {
        "noise": float(model.likelihood.noise.detach().mean())
    }
    for name, module in model.covar_module.named_modules():
        if getattr(module, "has_lengthscale", False):
            key = f"lengthscale.{name}" if name else "lengthscale"
            summary[key] = module.lengthscale.detach().flatten().tolist()
    return summary
