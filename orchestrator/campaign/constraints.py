"""A campaign's linear constraints: its ``constraints:`` texts plus one equality per mixture.

Checked when the campaign is validated (parsed, linear in the searched space, satisfiable
together with the bounds) and handed to the proposer as :class:`LinearConstraint` objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    """Whether the constraints' polytope meets the box of bounds (a linear programme).

    Constraints on disjoint sets of parameters (one mixture, say) are satisfiable together
    exactly when each is on its own, which the range of its left side over the box tells:
    that answer needs no solver, and keeps scipy's import (half a second) out of validate.
    """
    parameters = {p.name: p for p in space}
    if _disjoint(constraints):
        return all(_meets_box(c, parameters) for c in constraints)
    from scipy.optimize import linprog

    names = sorted({name for c in constraints for name in c.coefficients})
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


def _disjoint(constraints: Sequence[LinearConstraint]) -> bool:
    """Whether no parameter appears in two of the constraints."""
    names = [name for c in constraints for name in c.coefficients]
    return len(names) == len(set(names))


def _meets_box(constraint: LinearConstraint, parameters: Mapping[str, Parameter]) -> bool:
    """Whether some point of the parameters' box satisfies ``constraint``."""
    low = high = 0.0
    for name, coefficient in constraint.coefficients.items():
        ends = [coefficient * end for end in _interval(parameters[name])]
        low, high = low + min(ends), high + max(ends)
    # The solver's feasibility tolerance, so that both paths agree on a boundary case.
    slack = 1e-9 * max(1.0, abs(constraint.rhs))
    if constraint.sense == "<=":
        return low <= constraint.rhs + slack
    if constraint.sense == ">=":
        return high >= constraint.rhs - slack
    return low - slack <= constraint.rhs <= high + slack


def _interval(parameter: Parameter) -> tuple[float, float]:
    if parameter.fixed is not None:
        return float(parameter.fixed), float(parameter.fixed)
    if isinstance(parameter, DiscreteParameter):
        allowed = parameter.allowed
        return allowed[0], allowed[-1]
    low, high = parameter.bounds
    return float(low), float(high)
