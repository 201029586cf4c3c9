"""What the campaign's model predicts at points a person names, and where not to trust it.

A prediction is flagged as an extrapolation when its point lies outside the space (beyond
a bound, off a fixed value, breaking a constraint), when the model's standard deviation
there exceeds ``EXTRAPOLATION_SD_FRACTION`` of the spread of what was measured, or when
the experiment nearest to it failed (the model learned a stand-in there, not a value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tansaku.campaign.constraints import campaign_constraints
from tansaku.campaign.parameters import (
    CategoricalParameter,
    ContinuousParameter,
    DiscreteParameter,
    Parameter,
)
from tansaku.campaign.schema import Campaign
from tansaku.people.answers import AnswerError, as_number
from tansaku.values import ParameterValue

if TYPE_CHECKING:
    import pandas as pd

    from tansaku.proposer.surrogate import Surrogate

EXTRAPOLATION_SD_FRACTION = 0.5
"""The standard deviation, as a fraction of the measured values' standard deviation, above
which a prediction is an extrapolation.

Far from every measurement a GP's standard deviation returns to its prior's, which the
outcome standardisation sets near the measured spread; at a measured point it falls to
about the noise. Half the spread is where the data have removed three quarters of the
prior variance or less: the model is then mostly telling its prior back.
``tests/orchestrator/people/test_prediction.py`` checks both sides on a campaign measured
in one part of its space only.
"""


class NoModelYetError(AnswerError):
    """The campaign has too few results for a model to predict from."""


class PointError(AnswerError):
    """A point the model cannot take; ``number`` counts the points from 1."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(f"point {number}: {problem}")
        self.number = number
        self.problem = problem


@dataclass(frozen=True)
class NamedPoint:
    """A point a person asked about, and why it lies outside the space (if it does)."""

    parameters: dict[str, ParameterValue]
    outside: list[str]


def read_point(campaign: Campaign, given: Mapping[str, object]) -> NamedPoint:
    """The point ``given`` names (text or Python values), every parameter set.

    Numbers beyond the bounds, off a fixed value, off a discrete parameter's values or
    breaking a constraint are kept, with the reason, since the model can still say
    something there. A missing or unknown parameter, a value that is not a finite number,
    a category the space lacks or a log-scale value at or below zero raise
    :class:`AnswerError`: the model cannot take them.
    """
    names = [p.name for p in campaign.space]
    unknown = [name for name in given if name not in names]
    if unknown:
        raise AnswerError(
            f"{', '.join(unknown)}: not a parameter of this campaign, whose parameters are "
            f"{', '.join(names)}"
        )
    missing = [p.name for p in campaign.space if p.name not in given and p.fixed is None]
    if missing:
        raise AnswerError(f"the point lacks {', '.join(missing)}; give every parameter")
    point: dict[str, ParameterValue] = {}
    outside: list[str] = []
    for p in campaign.space:
        if p.name not in given:
            point[p.name] = p.fixed
            continue
        value, problem = _value(p, given[p.name])
        point[p.name] = value
        if problem:
            outside.append(problem)
    numeric = {
        p.name: float(point[p.name]) for p in campaign.space if p.type != "categorical"
    }
    for constraint in campaign_constraints(campaign):
        if not constraint.is_satisfied(numeric):
            outside.append(f"breaks the constraint {constraint.text}")
    return NamedPoint(point, outside)


def _value(parameter: Parameter, given: object) -> tuple[ParameterValue, str | None]:
    """``parameter``'s value as ``given``, and why it lies outside the space (if it does)."""
    name = parameter.name
    if isinstance(parameter, CategoricalParameter):
        value = next((v for v in parameter.values if str(v) == str(given)), None)
        if value is None:
            choices = ", ".join(str(v) for v in parameter.values)
            raise AnswerError(f"{name} = {given}: not one of its values ({choices})")
        if parameter.fixed is not None and value != parameter.fixed:
            return value, f"{name} = {value}, where the campaign fixes it at {parameter.fixed}"
        return value, None
    number = as_number(name, given, otherwise="")
    if isinstance(parameter, ContinuousParameter) and parameter.log_scale and number <= 0:
        raise AnswerError(f"{name} = {number:g}: on a log scale it must be above 0")
    if parameter.fixed is not None and number != float(parameter.fixed):
        return number, f"{name} = {number:g}, where the campaign fixes it at {parameter.fixed}"
    if isinstance(parameter, DiscreteParameter):
        if number not in parameter.allowed:
            values = ", ".join(f"{v:g}" for v in parameter.allowed[:8])
            more = ", …" if len(parameter.allowed) > 8 else ""
            return number, f"{name} = {number:g} is not one of its values ({values}{more})"
        return number, None
    low, high = parameter.bounds
    if not low <= number <= high:
        return number, f"{name} = {number:g} lies outside its bounds [{low:g}, {high:g}]"
    if parameter.type == "integer":
        if not number.is_integer():
            return number, f"{name} = {number:g} is not a whole number"
        return int(number), None
    return number, None


def predictions(
    campaign: Campaign, surrogate: Surrogate, points: Sequence[NamedPoint]
) -> pd.DataFrame:
    """One row per point and modelled quantity: ``point`` (its number, from 1), the
    parameters, ``quantity``, ``unit``,
    ``mean`` and ``sd`` (in the quantity's unit), ``extrapolating`` and ``reason``."""
    import numpy as np
    import pandas as pd

    encoded = surrogate.encode([p.parameters for p in points])
    predicted = surrogate.predict_encoded(encoded)
    near_failure = surrogate.nearest_is_stand_in(encoded)
    units = {q.name: q.unit for q in [*campaign.objectives, *campaign.outcomes]}
    spread = surrogate.spread
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(spread > 0, predicted.sd / spread, 0.0)
    rows = []
    for i, point in enumerate(points):
        unsure = [
            f"sd of {name} is {relative[i, j]:.0%} of the measured spread"
            for j, name in enumerate(predicted.quantities)
            if relative[i, j] > EXTRAPOLATION_SD_FRACTION
        ]
        if near_failure[i]:
            unsure.append(
                "the nearest experiment failed, and the model takes a failure for the worst "
                "result measured"
            )
        reasons = [*point.outside, *unsure]
        for j, name in enumerate(predicted.quantities):
            rows.append(
                {
                    "point": i + 1,
                    **point.parameters,
                    "quantity": name,
                    "unit": units.get(name),
                    "mean": float(predicted.mean[i, j]),
                    "sd": float(predicted.sd[i, j]),
                    "extrapolating": bool(reasons),
                    "reason": "; ".join(reasons) or None,
                }
            )
    return pd.DataFrame(rows)
