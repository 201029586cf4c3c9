"""Categorical values as points in feature space, for the GP.

The search (Sobol design, acquisition optimiser, candidate pools) keeps a categorical as
the index of its value; the model alone sees features: a descriptor table's, or one-hot
indicators when the campaign gives none. Descriptor tables are often
wide and redundant (hundreds of DFT quantities for a dozen ligands), which a GP fitted to
a few dozen experiments cannot use one lengthscale per column for: each table is
standardised and reduced to its leading principal components, each scaled to [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from botorch.models.transforms.input import InputTransform
from torch import Tensor

from tansaku.campaign.descriptors import DescriptorTable

DEFAULT_COMPONENTS = 3
"""Principal components per table unless the campaign says otherwise. On the EDBO
direct-arylation benchmark (benchmarks/RESULTS.md) three per molecule found a >= 90 %
yield in 30 experiments in 18 of 20 runs, against 14 of 20 when keeping the components
that explain 95 % of the variance (ten for the twelve ligands): every component is one
more lengthscale to learn from a few dozen experiments."""


def descriptor_features(table: DescriptorTable, dtype: torch.dtype) -> Tensor:
    """The model's inputs for each value of a parameter: ``n_values x k``, in [0, 1].

    Columns are standardised over the parameter's values (so units do not matter), then
    projected on their first ``k`` principal components: ``table.components`` if set,
    else ``DEFAULT_COMPONENTS``; never more than the values span.
    """
    raw = torch.tensor(table.rows, dtype=dtype)
    spread = raw.std(dim=0)
    varying = raw[:, spread > 0]
    if varying.shape[1] == 0 or raw.shape[0] < 2:
        return torch.zeros(raw.shape[0], 1, dtype=dtype)
    standardised = (varying - varying.mean(dim=0)) / varying.std(dim=0)
    u, s, _ = torch.linalg.svd(standardised, full_matrices=False)
    rank = int((s > s[0] * 1e-9).sum())
    k = min(table.components or DEFAULT_COMPONENTS, rank)
    scores = u[:, :k] * s[:k]
    low, high = scores.min(dim=0).values, scores.max(dim=0).values
    return (scores - low) / (high - low)


def one_hot_features(n_values: int, dtype: torch.dtype) -> Tensor:
    """One indicator column per value (``n_values x n_values``): every two values equally
    far apart, each value with its own lengthscale. The features of a categorical
    without a descriptor table.

    On the EDBO direct-arylation benchmark (benchmarks/RESULTS.md, section 5) they found
    a >= 90 % yield in 22 of 50 runs against 10 of 38 for BoTorch's categorical kernel
    (``MixedSingleTaskGP``, random search's rate there), at a third of its time per run.
    """
    return torch.eye(n_values, dtype=dtype)


class DescriptorLookup(InputTransform):
    """Replaces category-index columns by their values' descriptor rows.

    Output columns: the input's other columns in order, then each looked-up block in
    column order. Applied on evaluation only: the model is built on training inputs
    that :meth:`transform` has already expanded, so the fit never sees the indices.

    Args:
        tables: input column → ``n_values x k`` descriptor features of that column's values.
    """

    def __init__(self, tables: Mapping[int, Tensor]) -> None:
        super().__init__()
        self.transform_on_train = False
        self.transform_on_eval = True
        self.transform_on_fantasize = True
        self.columns = sorted(tables)
        for position, column in enumerate(self.columns):
            self.register_buffer(f"table_{position}", tables[column])

    def tables(self) -> list[Tensor]:
        return [getattr(self, f"table_{position}") for position in range(len(self.columns))]

    def kept_columns(self, d: int) -> list[int]:
        """The input columns passed through unchanged, in order."""
        return [i for i in range(d) if i not in self.columns]

    def transform(self, X: Tensor) -> Tensor:
        """``batch x n x d`` encoded inputs → ``batch x n x d'`` model inputs."""
        parts = [X[..., self.kept_columns(X.shape[-1])]]
        for column, table in zip(self.columns, self.tables(), strict=True):
            index = X[..., column].round().long().clamp(0, table.shape[0] - 1)
            parts.append(table[index])
        return torch.cat(parts, dim=-1)
