"""The Gaussian-process surrogate: build and fit.

Each fit starts from BoTorch's default hyperparameter initialisation, as BoTorch
recommends. Starting from the previous fit instead (tried until this version) needed
more experiments to find the best candidates on all four PV-Lab pools
(benchmarks/RESULTS.md): a fit warm-started from a model of fewer points tends to keep
that model's lengthscales.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.transforms import ChainedInputTransform, Normalize, Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood

from orchestrator.proposer.descriptors import DescriptorLookup


def fit_model(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    bounds: torch.Tensor,
    categorical_columns: Sequence[int],
    descriptors: Mapping[int, torch.Tensor] | None = None,
) -> SingleTaskGP:
    """Fit a GP to the observations by maximising the marginal likelihood.

    Args:
        train_x: ``n x d`` encoded inputs.
        train_y: ``n x m`` outcomes (one column: signed so that larger is better).
        bounds: ``2 x d`` bounds of the encoded inputs; continuous and integer columns
            are scaled to [0, 1] with them.
        categorical_columns: columns holding category indices; a categorical kernel
            (``MixedSingleTaskGP``) handles those without descriptors.
        descriptors: categorical column → ``n_values x k`` descriptor features in [0, 1]
            (``proposer/descriptors.py``); the model sees these instead of the index.
            The returned model still takes ``d``-column encoded inputs.
    """
    lookup = DescriptorLookup(descriptors or {})
    kept = lookup.kept_columns(train_x.shape[-1])
    model_x = lookup.transform(train_x)
    categorical = [kept.index(c) for c in categorical_columns if c in kept]
    numeric = [i for i in range(model_x.shape[-1]) if i not in categorical]
    unit = torch.tensor([[0.0], [1.0]], dtype=bounds.dtype)
    model_bounds = torch.cat(
        [bounds[:, kept]] + [unit.expand(2, table.shape[-1]) for table in lookup.tables()],
        dim=-1,
    )
    normalize = Normalize(d=model_x.shape[-1], indices=numeric or None, bounds=model_bounds)
    transform = ChainedInputTransform(descriptors=lookup, normalize=normalize)
    if categorical:
        model: SingleTaskGP = MixedSingleTaskGP(
            model_x,
            train_y,
            cat_dims=categorical,
            input_transform=transform if numeric else lookup,
            outcome_transform=Standardize(m=train_y.shape[-1]),
        )
    else:
        model = SingleTaskGP(
            model_x,
            train_y,
            input_transform=transform,
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
