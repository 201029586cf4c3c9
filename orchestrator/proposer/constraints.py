"""Linear constraints in the encoded space, as BoTorch's optimisers and samplers take them.

BoTorch writes a constraint as ``(indices, coefficients, rhs)`` meaning
``sum(coefficients * x[indices]) >= rhs`` (or ``== rhs``). Constraints only ever name
linear-scale numeric parameters (checked at validation), whose encoded column is the
value itself, so the coefficients carry over unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from tansaku.campaign.expressions import LinearConstraint
from tansaku.proposer.encoding import SpaceEncoding
from tansaku.values import ParameterValue

BotorchConstraint = tuple[torch.Tensor, torch.Tensor, float]
FEASIBILITY_TOLERANCE = 1e-6
"""Violation allowed, relative to the constraint's scale: the optimisers' own precision."""


@dataclass(frozen=True)
class EncodedConstraints:
    """A campaign's constraints over the encoded columns."""

    inequalities: list[BotorchConstraint]
    equalities: list[BotorchConstraint]

    def __bool__(self) -> bool:
        return bool(self.inequalities or self.equalities)


def encode_constraints(
    constraints: Sequence[LinearConstraint],
    encoding: SpaceEncoding,
    dtype: torch.dtype,
    free_columns: Sequence[int] | None = None,
) -> EncodedConstraints:
    """BoTorch constraints over all columns, or over ``free_columns`` only.

    With ``free_columns`` the fixed parameters' values are moved to the right-hand side
    and indices refer to positions within ``free_columns``: the form a sampler over the
    free columns needs.
    """
    fixed = encoding.fixed_columns
    position = {column: i for i, column in enumerate(free_columns or range(encoding.dim))}
    inequalities, equalities = [], []
    for constraint in constraints:
        indices, coefficients, rhs = [], [], constraint.rhs
        for name, coefficient in constraint.coefficients.items():
            column = encoding.column(name)
            if free_columns is not None and column in fixed:
                rhs -= coefficient * fixed[column]
            else:
                indices.append(position[column])
                coefficients.append(coefficient)
        if not indices:
            continue
        sign = -1.0 if constraint.sense == "<=" else 1.0
        encoded = (
            torch.tensor(indices, dtype=torch.long),
            torch.tensor([sign * c for c in coefficients], dtype=dtype),
            sign * rhs,
        )
        (equalities if constraint.sense == "==" else inequalities).append(encoded)
    return EncodedConstraints(inequalities, equalities)


def satisfies(point: Mapping[str, ParameterValue], constraints: Sequence[LinearConstraint]) -> bool:
    """Whether a decoded point meets every constraint, within the optimisers' precision."""
    for constraint in constraints:
        values = {name: float(point[name]) for name in constraint.coefficients}
        scale = max(1.0, abs(constraint.rhs), *(abs(c) for c in constraint.coefficients.values()))
        if constraint.violation(values) > FEASIBILITY_TOLERANCE * scale:
            return False
    return True
