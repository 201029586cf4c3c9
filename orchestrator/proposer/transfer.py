"""Other chemical systems' measurements in the campaign's model (``transfer_from``).

Each source's rows enter a GP in the space the campaign's model already sees: the element
features of its element mixture (``proposer/elements.py``), computed from the source's
own elements, beside the mixture's fractions where the campaign keeps them (an element
the campaign does not have contributes to the features only). The sources' values are the
campaign's objective in its unit, as measured there. Three ways to join them to the
campaign's own results (``model.transfer``; benchmarks/transfer_benchmark.py
measures them):

- ``prior_mean``: a GP fitted once to the sources gives the campaign's model its prior
  mean, with a scale and offset fitted by marginal likelihood at each refit
  (``proposer/prior_mean.py``'s ``ScaledPriorMean``: scale 1 is the sources' trend as
  measured, 0 none of it). Where the campaign's results contradict a source its scale
  falls towards 0 and the model towards a constant mean; a source whose values are noise
  gives a flat mean, which cannot mislead. Each refit costs about what one without
  transfer does.
- ``tasks``: one GP over the sources' rows and the campaign's, whose kernel is the usual
  one times a task kernel (gpytorch's ``IndexKernel``, as in BoTorch's ``MultiTaskGP``)
  over a last column that says which system a row is from, the campaign the last task.
  The fitted task correlation says how far a source's trend is the campaign's.
- ``pooled``: every source row as if measured in the campaign (the "shared-feature"
  model, no task column): fast to state, blind to a source that misleads.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import InputTransform
from gpytorch.kernels import IndexKernel, Kernel
from torch import Tensor

from tansaku.campaign.elements import element_table
from tansaku.campaign.parameters import Mixture
from tansaku.campaign.transfer import TransferMeasurement
from tansaku.proposer.elements import ElementFeatures, composition_features
from tansaku.values import ParameterValue


@dataclass(frozen=True)
class SourceRows:
    """One source's rows, ready for the model.

    Args:
        encoded: ``n x d`` the campaign's encoding of each row: its other parameters, and
            the amounts of the elements the campaign's mixture shares with it, on the
            mixture's total (elements it lacks at 0).
        composition: ``n x u`` amounts of each of the element table rows ``properties``
            (the campaign's elements and the source's).
        properties: ``u x p`` element properties of those elements.
        outcomes: ``n x 1`` values on the model's outcome scale (signed so that larger is
            better; bilog when screening).
    """

    encoded: Tensor
    composition: Tensor
    properties: Tensor
    outcomes: Tensor


TransferMode = Literal["prior_mean", "tasks", "pooled"]


@dataclass(frozen=True)
class Transfer:
    """Every source of a campaign and how the model joins them to its own results.

    ``source_model`` (``prior_mean`` mode) is a GP fitted to the sources alone, taking
    ``... x d`` encoded inputs, whose posterior mean is the campaign's prior mean.
    """

    sources: Sequence[SourceRows]
    mode: TransferMode = "prior_mean"
    source_model: SingleTaskGP | None = None

    @property
    def tasks(self) -> int:
        """Tasks of the multi-task model: one per source, then the campaign."""
        return len(self.sources) + 1


def source_rows(
    measurements: Sequence[TransferMeasurement],
    max_rows: int,
    seed: int,
    mixture: Mixture,
    other_elements: Sequence[str],
    encode: Callable[[list[dict[str, ParameterValue]]], Tensor],
    sign: float,
    bilog: bool,
) -> SourceRows:
    """One source's measurements (at most ``max_rows``, a subset drawn with ``seed``) as
    :class:`SourceRows` for the campaign's element ``mixture``.

    Args:
        other_elements: elements of the sources that the mixture lacks, after its own in
            the composition columns.
        encode: the campaign's encoding of parameter mappings (``n x d``).
        sign: ``-1`` for a minimised objective (the model fits ``-y``), else ``1``.
        bilog: whether the model fits ``sign(y) log(1 + |y|)`` (screening).
    """
    rows = list(measurements)
    if len(rows) > max_rows:
        rows = [rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), max_rows))]
    assert mixture.elements is not None
    symbols = [*(mixture.elements[c] for c in mixture.components), *other_elements]
    points, amounts = [], []
    for row in rows:
        total = sum(row.composition.values())
        shares = {
            c: row.composition.get(mixture.elements[c], 0.0) / total for c in mixture.components
        }
        points.append(
            {**row.parameters, **{c: share * mixture.total for c, share in shares.items()}}
        )
        amounts.append([row.composition.get(s, 0.0) / total for s in symbols])
    dtype = torch.float64
    outcomes = torch.tensor([[sign * row.value] for row in rows], dtype=dtype)
    if bilog:
        outcomes = outcomes.sign() * outcomes.abs().log1p()
    return SourceRows(
        encode(points),
        torch.tensor(amounts, dtype=dtype),
        torch.tensor(element_table().rows(symbols), dtype=dtype),
        outcomes,
    )


def source_inputs(elements: ElementFeatures, looked_up: Tensor, source: SourceRows) -> Tensor:
    """``n x d'`` model inputs of a source's rows, laid out as ``elements.transform``'s.

    Args:
        elements: the campaign's element transform (one element mixture).
        looked_up: ``n x k`` the rows' encoding after the descriptor lookup.
        source: the rows, whose compositions give the element features.
    """
    (block,) = elements.blocks
    kept = looked_up[..., elements.kept_columns(looked_up.shape[-1])]
    features = composition_features(source.composition, source.properties, block.low, block.high)
    return torch.cat([kept, features], dim=-1)


class SourceMean:
    """The posterior mean of a GP fitted to the sources alone, at ``... x d`` encoded
    inputs (differentiable): the campaign's prior mean in ``prior_mean`` mode."""

    def __init__(self, model: SingleTaskGP) -> None:
        self.model = model

    def __call__(self, X: Tensor) -> Tensor:
        return self.model.posterior(X).mean[..., 0]


class CampaignTask(InputTransform):
    """Appends the campaign's task index as a last column to inputs being evaluated: the
    model predicts the campaign's system. Training inputs carry their own task column."""

    def __init__(self, task: int) -> None:
        super().__init__()
        self.transform_on_train = False
        self.transform_on_eval = True
        self.transform_on_fantasize = True
        self.task = task

    def transform(self, X: Tensor) -> Tensor:
        return torch.cat([X, torch.full_like(X[..., :1], float(self.task))], dim=-1)


def task_kernel(base: Kernel, features: int, tasks: int) -> Kernel:
    """``base`` over the first ``features`` inputs times a rank-1 task kernel over the
    next (BoTorch's ``MultiTaskGP`` default rank)."""
    return base * IndexKernel(num_tasks=tasks, rank=1, active_dims=[features])


def task_correlations(kernel: Kernel) -> list[float] | None:
    """Each source's fitted correlation with the campaign (the last task), or ``None`` when
    ``kernel`` has no task kernel."""
    index = next((k for k in kernel.modules() if isinstance(k, IndexKernel)), None)
    if index is None:
        return None
    with torch.no_grad():
        covariance = index.covar_matrix.to_dense()
    variance = covariance.diagonal()
    correlation = covariance[:-1, -1] / (variance[:-1] * variance[-1]).sqrt()
    return [round(float(c), 4) for c in correlation]
