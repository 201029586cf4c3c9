"""The Gaussian-process surrogate: build and fit.

Each fit starts from BoTorch's default hyperparameter initialisation, as BoTorch
recommends. Starting from the previous fit instead (tried until this version) needed
more experiments to find the best candidates on all four PV-Lab pools
(benchmarks/RESULTS.md): a fit warm-started from a model of fewer points tends to keep
that model's lengthscales.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood


def fit_model(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    bounds: torch.Tensor,
    categorical_columns: Sequence[int],
) -> SingleTaskGP:
    """Fit a GP to the observations by maximising the marginal likelihood.

    Args:
        train_x: ``n x d`` encoded inputs.
        train_y: ``n x m`` outcomes (one column: signed so that larger is better).
        bounds: ``2 x d`` bounds of the encoded inputs; continuous and integer columns
            are scaled to [0, 1] with them.
        categorical_columns: columns holding category indices; a categorical kernel
            (``MixedSingleTaskGP``) handles them when present.
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
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


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
