"""A campaign's linear constraints: its ``constraints:`` texts plus one equality per mixture.

Checked when the campaign is validated (parsed, linear in the searched space, satisfiable
together with the bounds) and handed to the proposer as :class:`LinearConstraint` objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tansaku.campaign.expressions import (
    ExpressionError,
    LinearConstraint,
    parse_linear_constraints,
)
from tansaku.campaign.parameters import (
    CategoricalParameter,
    ContinuousParameter,
    DiscreteParameter,
    Mixture,
    Parameter,
)

if TYPE_CHECKING:
    from tansaku.campaign.schema import Campaign


def mixture_constraint(mixture: Mixture) -> LinearConstraint:
    """``a + b + c == total`` for a mixture of a, b and c."""
    text = f"{' + '.join(mixture.components)} == {mixture.total:g}"
    return LinearConstraint(
        coefficients=dict.fromkeys(mixture.components, 1.0),
        sense="==",
        rhs=mixture.total,
        text=text,
    )


def parse_constraints(texts: Sequence[str], space: Sequence[Parameter]) -> list[LinearConstraint]:
    """Parse ``constraints:`` entries; raises ``ValueError`` naming the entry at fault."""
    numeric = {p.name: p for p in space if not isinstance(p, CategoricalParameter)}
    parsed: list[LinearConstraint] = []
    for number, text in enumerate(texts, start=1):
        try:
            constraints = parse_linear_constraints(text, [p.name for p in space])
        except ExpressionError as error:
            raise ValueError(f"constraint {number}: {error}") from None
        for constraint in constraints:
            for name in constraint.coefficients:
                parameter = numeric.get(name)
                if parameter is None:
                    raise ValueError(
                        f"constraint {number} ({text!r}): {name!r} is categorical; "
                        "constraints apply to numeric parameters"
                    )
                if isinstance(parameter, ContinuousParameter) and parameter.log_scale:
                    raise ValueError(
                        f"constraint {number} ({text!r}): {name!r} is searched on a log scale, "
                        "where a linear constraint is not linear; drop log_scale or the "
                        "constraint"
                    )
        parsed += constraints
    return parsed


def campaign_constraints(campaign: Campaign) -> list[LinearConstraint]:
    """Every linear constraint of a (valid) campaign: mixtures first, then ``constraints:``."""
    return [mixture_constraint(m) for m in campaign.mixtures] + parse_constraints(
        campaign.constraints, campaign.space
    )


def check_constraints(
    texts: Sequence[str], space: Sequence[Parameter], mixtures: Sequence[Mixture]
) -> None:
    """Raise ``ValueError`` unless the constraints parse and some point satisfies them all."""
    constraints = [mixture_constraint(m) for m in mixtures] + parse_constraints(texts, space)
    if constraints and not _satisfiable(constraints, space):
        listed = "; ".join(repr(c.text) for c in constraints)
        raise ValueError(
            f"no point within the parameters' bounds satisfies all of: {listed}; "
            "loosen a constraint or widen the bounds"
        )


def _satisfiable(constraints: Sequence[LinearConstraint], space: Sequence[Parameter]) -> bool:
    """Whether the constraints' polytope meets the box of bounds (a linear programme)."""
    from scipy.optimize import linprog

    names = sorted({name for c in constraints for name in c.coefficients})
    parameters = {p.name: p for p in space}
    bounds = [_interval(parameters[name]) for name in names]
    upper_rows, upper_rhs, equal_rows, equal_rhs = [], [], [], []
    for constraint in constraints:
        row = [constraint.coefficients.get(name, 0.0) for name in names]
        if constraint.sense == "==":
            equal_rows.append(row)
            equal_rhs.append(constraint.rhs)
        else:
            sign = 1.0 if constraint.sense == "<=" else -1.0
            upper_rows.append([sign * c for c in row])
            upper_rhs.append(sign * constraint.rhs)
    result = linprog(
        c=[0.0] * len(names),
        A_ub=upper_rows or None,
        b_ub=upper_rhs or None,
        A_eq=equal_rows or None,
        b_eq=equal_rhs or None,
        bounds=bounds,
        method="highs",
    )
    return bool(result.status == 0)


def _interval(parameter: Parameter) -> tuple[float, float]:
    if parameter.fixed is not None:
        return float(parameter.fixed), float(parameter.fixed)
    if isinstance(parameter, DiscreteParameter):
        allowed = parameter.allowed
        return allowed[0], allowed[-1]
    low, high = parameter.bounds
    return float(low), float(high)
