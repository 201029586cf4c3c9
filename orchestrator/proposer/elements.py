"""Compositions as the model sees them: element properties, weighted by the fractions.

A mixture whose components are chemical elements (``elements: {ni_load: Ni, ...}``) is,
to a GP on raw fractions, six unrelated axes: it cannot tell that swapping nickel for
cobalt changes less than swapping it for lanthanum. Here each composition also becomes,
for each element property (electronegativity, covalent radius, first ionisation energy,
valence electrons, atomic mass), the fraction-weighted mean and the fraction-weighted
mean absolute deviation of its elements: the "Magpie" recipe (Ward et al., npj Comput.
Mater. 2, 16028, 2016). Both are scaled to [0, 1] over the range the mixture's elements
allow, so the features mean the same whatever the pool holds.

The features depend only on the element symbols and the fractions, not on which
campaign the elements come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from botorch.models.transforms.input import InputTransform
from torch import Tensor

from tansaku.campaign.elements import element_table
from tansaku.campaign.parameters import Mixture
from tansaku.proposer.encoding import SpaceEncoding


@dataclass(frozen=True)
class ElementBlock:
    """One element mixture: where its fractions are and what its elements are.

    ``columns[i]`` is the encoded column of the component whose element has
    ``properties[i]`` (``n_components x p``); ``low`` and ``high`` (``p``) are each
    property's range over these elements, used for scaling.
    """

    columns: tuple[int, ...]
    properties: Tensor
    low: Tensor
    high: Tensor
    keep_fractions: bool


def element_blocks(
    mixtures: Sequence[Mixture],
    encoding: SpaceEncoding,
    dtype: torch.dtype,
    also: Sequence[str] = (),
) -> list[ElementBlock]:
    """The campaign's element mixtures, ready for :class:`ElementFeatures`.

    Args:
        mixtures: the campaign's ``mixtures:``; those without ``elements`` are skipped.
        encoding: the space's encoding, which places each component's column.
        dtype: of the property tensors.
        also: symbols of other elements whose properties the scaling ranges must cover
            (those of other systems' measurements, ``proposer/transfer.py``).
    """
    table = element_table()
    blocks = []
    for mixture in mixtures:
        if mixture.elements is None:
            continue
        symbols = [mixture.elements[name] for name in mixture.components]
        properties = torch.tensor(table.rows(symbols), dtype=dtype)
        ranged = torch.tensor(table.rows([*symbols, *also]), dtype=dtype)
        low, high = ranged.min(dim=0).values, ranged.max(dim=0).values
        blocks.append(
            ElementBlock(
                tuple(encoding.column(name) for name in mixture.components),
                properties,
                low,
                high,
                mixture.keep_fractions,
            )
        )
    return blocks


def composition_features(
    fractions: Tensor, properties: Tensor, low: Tensor, high: Tensor
) -> Tensor:
    """Weighted means and mean absolute deviations of element properties, in [0, 1].

    Args:
        fractions: ``... x k`` amounts of ``k`` elements; each row is divided by its sum,
            so percent and fractions give the same features.
        properties: ``k x p`` properties of the elements.
        low, high: ``p`` ranges of the properties; a property with ``high == low``
            (all elements alike) is left out.

    Returns:
        ``... x 2p'`` features: the ``p'`` varying properties' means, then their
        deviations. A mean lies in ``[low, high]`` and a deviation in
        ``[0, (high - low) / 2]``, which scale each to [0, 1].
    """
    varying = high > low
    properties, low, high = properties[:, varying], low[varying], high[varying]
    amounts = fractions.clamp_min(0)
    # An all-zero row (which no mixture allows) would divide by zero; it gets zero weights.
    weights = amounts / amounts.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    mean = weights @ properties
    deviation = (weights.unsqueeze(-1) * (properties - mean.unsqueeze(-2)).abs()).sum(dim=-2)
    span = high - low
    return torch.cat([(mean - low) / span, deviation / (span / 2)], dim=-1)


class ElementFeatures(InputTransform):
    """Appends each element mixture's features to the model's inputs (and, unless the
    mixture keeps them, drops its fraction columns).

    Applied on evaluation only, like :class:`~tansaku.proposer.descriptors.DescriptorLookup`
    (after which it comes): the model is built on training inputs that
    :meth:`transform` has already expanded.

    Args:
        blocks: the element mixtures, with ``columns`` as positions in this transform's
            input.
    """

    def __init__(self, blocks: Sequence[ElementBlock]) -> None:
        super().__init__()
        self.transform_on_train = False
        self.transform_on_eval = True
        self.transform_on_fantasize = True
        self.blocks = list(blocks)
        self.dropped = sorted(
            {c for block in self.blocks if not block.keep_fractions for c in block.columns}
        )
        for position, block in enumerate(self.blocks):
            self.register_buffer(f"properties_{position}", block.properties)
            self.register_buffer(f"low_{position}", block.low)
            self.register_buffer(f"high_{position}", block.high)

    def kept_columns(self, d: int) -> list[int]:
        """The input columns passed through unchanged, in order."""
        return [i for i in range(d) if i not in self.dropped]

    def bounds(self, bounds: Tensor) -> Tensor:
        """``2 x d`` bounds of this transform's input → ``2 x d'`` bounds of its output."""
        unit = torch.tensor([[0.0], [1.0]], dtype=bounds.dtype)
        width = sum(2 * int((block.high > block.low).sum()) for block in self.blocks)
        return torch.cat(
            [bounds[:, self.kept_columns(bounds.shape[-1])], unit.expand(2, width)], dim=-1
        )

    def transform(self, X: Tensor) -> Tensor:
        """``batch x n x d`` inputs → ``batch x n x d'``: the kept columns, then each
        mixture's features."""
        parts = [X[..., self.kept_columns(X.shape[-1])]]
        for position, block in enumerate(self.blocks):
            parts.append(
                composition_features(
                    X[..., list(block.columns)],
                    getattr(self, f"properties_{position}"),
                    getattr(self, f"low_{position}"),
                    getattr(self, f"high_{position}"),
                )
            )
        return torch.cat(parts, dim=-1)


def after_lookup(blocks: Sequence[ElementBlock], kept: Sequence[int]) -> ElementFeatures:
    """The transform for blocks of encoded columns, placed after a descriptor lookup
    that passes the encoded columns ``kept`` through in order (categoricals are never
    mixture components, so every component column is among them)."""
    return ElementFeatures(
        [replace(block, columns=tuple(kept.index(c) for c in block.columns)) for block in blocks]
    )
