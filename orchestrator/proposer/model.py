"""The Gaussian-process surrogate: build and fit.

Each fit starts from BoTorch's default hyperparameter initialisation, as BoTorch
recommends. Starting from the previous fit instead (tried until this version) needed
more experiments to find the best candidates on all four PV-Lab pools
(benchmarks/RESULTS.md): a fit warm-started from a model of fewer points tends to keep
that model's lengthscales.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import ChainedInputTransform, Normalize, Standardize
from botorch.models.transforms.input import InputTransform
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from gpytorch.utils.warnings import NumericalWarning

from tansaku.proposer.descriptors import DescriptorLookup
from tansaku.proposer.elements import ElementBlock, after_lookup
from tansaku.proposer.prior_mean import PriorColumn, ScaledPriorMean
from tansaku.proposer.transfer import (
    CampaignTask,
    SourceMean,
    Transfer,
    source_inputs,
    task_correlations,
    task_kernel,
)

NOISE_FREE_VARIANCE = 1e-6
"""Noise variance assumed for exact measurements, relative to each outcome's variance:
gpytorch's floor for a fixed noise in float64 (``settings.min_fixed_noise``), the
smallest that keeps the covariance matrix well conditioned. The outcome standardisation
can round it a hair below the floor, which gpytorch raises back with a warning that
``fit_model`` silences."""

MIN_OUTPUTSCALE = 1e-4
"""The smallest kernel amplitude of a model with a prior mean, relative to the outcome's
variance: a prior that explains every result so far still leaves the model unsure, and
the fit cannot drive the amplitude to a rounded 0, where its log-normal prior fails."""

STAND_IN_VARIANCE = 0.1
"""Noise variance, relative to the outcome's variance, of the stand-in value of a failed
experiment in a noise-free model: a guess, not a measurement, which the model may miss by
about a third of a standard deviation instead of bending to pass through it."""


def fit_model(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    bounds: torch.Tensor,
    categorical_features: Mapping[int, torch.Tensor] | None = None,
    noise_free: bool = False,
    stand_ins: int = 0,
    element_blocks: Sequence[ElementBlock] = (),
    prior_mean: Callable[[torch.Tensor], torch.Tensor] | None = None,
    transfer: Transfer | None = None,
    start_from: SingleTaskGP | None = None,
) -> SingleTaskGP:
    """Fit a GP to the observations by maximising the marginal likelihood.

    Args:
        train_x: ``n x d`` encoded inputs.
        train_y: ``n x m`` outcomes (one column: signed so that larger is better).
        bounds: ``2 x d`` bounds of the encoded inputs; continuous and integer columns
            are scaled to [0, 1] with them.
        categorical_features: categorical column → ``n_values x k`` features in [0, 1] of
            that parameter's values (descriptors or one-hot, ``proposer/descriptors.py``);
            the model sees these instead of the index. The returned model still takes
            ``d``-column encoded inputs.
        noise_free: the outcomes are exact: the noise variance is fixed at
            ``NOISE_FREE_VARIANCE`` of each outcome's variance instead of being inferred.
        stand_ins: the last ``stand_ins`` rows are stand-in values for failed experiments,
            not measurements; with ``noise_free`` their noise is ``STAND_IN_VARIANCE``.
        element_blocks: mixtures of chemical elements (``proposer/elements.py``): the
            model sees their element-property features (and their fractions only where
            a mixture keeps them).
        prior_mean: the campaign's prior mean on the model's outcome scale, a function of
            ``... x d`` encoded inputs (``proposer/prior_mean.py``); the model's mean is
            then a fitted scale and offset of it instead of a constant.
        transfer: measurements of other chemical systems (``proposer/transfer.py``):
            in ``prior_mean`` mode, its sources' model gives the prior mean; else
            their rows, placed before the campaign's through the one element mixture's
            features, each a task of a multi-task kernel (``tasks``, the model predicting
            the campaign's task) or as if the campaign's (``pooled``). With no campaign
            rows (``n = 0``), the model of the sources alone.
        start_from: a model of the same data and settings, but the other noise model,
            whose kernel and mean hyperparameters the fit starts from instead of BoTorch's
            defaults: a fit only to compare the two noise models (``proposer/noise.py``)
            then takes a fraction of the iterations.
    """
    if transfer is not None and transfer.mode == "prior_mean" and transfer.source_model is not None:
        prior_mean, transfer = SourceMean(transfer.source_model), None
    lookup = DescriptorLookup(categorical_features or {})
    kept = lookup.kept_columns(train_x.shape[-1])
    model_x = lookup.transform(train_x)
    unit = torch.tensor([[0.0], [1.0]], dtype=bounds.dtype)
    model_bounds = torch.cat(
        [bounds[:, kept]] + [unit.expand(2, table.shape[-1]) for table in lookup.tables()],
        dim=-1,
    )
    transforms: dict[str, InputTransform] = {"descriptors": lookup}
    if element_blocks:
        elements = after_lookup(element_blocks, kept)
        model_x, model_bounds = elements.transform(model_x), elements.bounds(model_bounds)
        transforms["elements"] = elements
    features = model_x.shape[-1]
    prior_modules = {}
    if transfer is not None:
        sources_x = [
            source_inputs(elements, lookup.transform(s.encoded), s) for s in transfer.sources
        ]
        if transfer.mode == "tasks":
            sources_x = [_with_task(x, task) for task, x in enumerate(sources_x)]
            model_x = _with_task(model_x, transfer.tasks - 1)
            transforms["task"] = CampaignTask(transfer.tasks - 1)
            prior_modules["covar_module"] = task_kernel(
                get_covar_module_with_dim_scaled_prior(
                    ard_num_dims=features, active_dims=list(range(features))
                ),
                features,
                transfer.tasks,
            )
        model_x = torch.cat([*sources_x, model_x])
        train_y = torch.cat([*(s.outcomes for s in transfer.sources), train_y])
    transforms["normalize"] = Normalize(
        d=model_x.shape[-1], bounds=model_bounds, indices=list(range(features))
    )
    input_transform: InputTransform = ChainedInputTransform(**transforms)
    if prior_mean is not None:
        # The prior's values ride along as a last input column that only the mean reads.
        model_x = torch.cat([model_x, prior_mean(train_x).detach().unsqueeze(-1)], dim=-1)
        input_transform = PriorColumn(input_transform, prior_mean)
        prior_modules = {
            "mean_module": ScaledPriorMean(dtype=train_x.dtype),
            # The prior explains part of the variance that Standardize scaled to 1, so
            # what is left for the kernel is smaller: its amplitude is fitted too
            # (benchmarks/prior_mean_benchmark.py: without it, the small residual was fitted
            # with long lengthscales and the proposals stayed at the prior's optimum). A
            # log-normal prior about 1, as wide as BoTorch's lengthscale prior, keeps a
            # prior that explains the first few results from leaving no uncertainty at all.
            "covar_module": ScaleKernel(
                get_covar_module_with_dim_scaled_prior(
                    ard_num_dims=features, active_dims=list(range(features))
                ),
                outputscale_prior=LogNormalPrior(loc=0.0, scale=math.sqrt(3)),
                outputscale_constraint=GreaterThan(MIN_OUTPUTSCALE),
            ),
        }
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Very small noise values detected", category=NumericalWarning
        )
        model = SingleTaskGP(
            model_x,
            train_y,
            train_Yvar=_fixed_noise(train_y, stand_ins) if noise_free else None,
            input_transform=input_transform,
            outcome_transform=Standardize(m=train_y.shape[-1]),
            **prior_modules,
        )
    if isinstance(model.mean_module, ScaledPriorMean):
        model.mean_module.standardise_with(
            model.outcome_transform.means, model.outcome_transform.stdvs
        )
    if start_from is not None:
        model.covar_module.load_state_dict(start_from.covar_module.state_dict())
        model.mean_module.load_state_dict(start_from.mean_module.state_dict())
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


def _with_task(x: torch.Tensor, task: int) -> torch.Tensor:
    return torch.cat([x, torch.full_like(x[..., :1], float(task))], dim=-1)


def _fixed_noise(train_y: torch.Tensor, stand_ins: int) -> torch.Tensor:
    """``n x m`` noise variances: ``NOISE_FREE_VARIANCE`` of each outcome's variance for
    measurements, ``STAND_IN_VARIANCE`` of it for the last ``stand_ins`` rows."""
    variance = torch.ones(1, train_y.shape[-1], dtype=train_y.dtype)
    if train_y.shape[0] > 1:
        spread = train_y.var(dim=0, keepdim=True)
        variance = torch.where(spread > 0, spread, variance)
    relative = torch.full((train_y.shape[0], 1), NOISE_FREE_VARIANCE, dtype=train_y.dtype)
    relative[train_y.shape[0] - stand_ins :] = STAND_IN_VARIANCE
    return relative * variance


def describe(model: SingleTaskGP) -> dict[str, list[float] | float]:
    """Readable hyperparameters for the ledger: lengthscales (normalised units) and noise."""
    summary: dict[str, list[float] | float] = {
        "noise": float(model.likelihood.noise.detach().mean())
    }
    if isinstance(model.mean_module, ScaledPriorMean):
        # 1: the prior mean as given; 0: ignored (in standardised outcome units).
        summary["prior_mean_scale"] = float(model.mean_module.scale.detach())
        summary["prior_mean_offset"] = float(model.mean_module.offset.detach())
    correlations = task_correlations(model.covar_module)
    if correlations is not None:
        # How far each transfer source's trend is the campaign's (1: the same, 0: unrelated).
        summary["transfer_correlation"] = correlations
    if isinstance(model.covar_module, ScaleKernel):
        summary["outputscale"] = float(model.covar_module.outputscale.detach())
    for name, module in model.covar_module.named_modules():
        if getattr(module, "has_lengthscale", False):
            key = f"lengthscale.{name}" if name not in ("", "base_kernel") else "lengthscale"
            summary[key] = module.lengthscale.detach().flatten().tolist()
    return summary
