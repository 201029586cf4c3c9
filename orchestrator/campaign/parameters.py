"""The search space: the kinds of parameter a campaign may vary, and mixtures of them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import BeforeValidator, Discriminator, Field, StrictInt, Tag, model_validator

from tansaku.campaign.descriptors import DescriptorsSpec
from tansaku.campaign.elements import (
    KEEP_FRACTIONS,
    ElementSymbol,
    check_element_mapping,
    check_element_values,
)
from tansaku.campaign.fields import Identifier, Number, Section, check_distinct, shown

MIN_RELATIVE_WIDTH = 1e-9
"""Bounds closer than this fraction of their size leave floating point's 16 digits too
few distinct points between them to search."""
MAX_EXACT_INTEGER = 2**53
"""Integer bounds lie within this, where floating point (the model's inputs) holds every
whole number."""
MAX_DISCRETE_VALUES = 10_000

FIXED_HELP = "Hold the parameter at this value for this campaign; it is not searched."


def _check_range(low: float, high: float, *, resolvable: bool = True) -> None:
    if low >= high:
        raise ValueError(f"bounds [{low}, {high}]: the low bound must be below the high one")
    if resolvable and high - low < MIN_RELATIVE_WIDTH * max(abs(low), abs(high)):
        raise ValueError(
            f"bounds [{low}, {high}] are too close together for numbers of their size: the "
            "width must be at least a billionth of the larger bound (shift or rescale the "
            "parameter)"
        )


def _check_fixed_within(fixed: float | None, low: float, high: float) -> None:
    if fixed is not None and not low <= fixed <= high:
        raise ValueError(f"fixed value {fixed} lies outside the bounds [{low}, {high}]")


class ContinuousParameter(Section):
    """A real-valued knob between two bounds, optionally searched on a log scale."""

    type: Literal["continuous"]
    name: Identifier
    bounds: tuple[Number, Number]
    log_scale: bool = False
    unit: str | None = None
    fixed: Number | None = Field(None, description=FIXED_HELP)

    @model_validator(mode="after")
    def _check_bounds(self) -> ContinuousParameter:
        low, high = self.bounds
        _check_range(low, high)
        if self.log_scale and low <= 0:
            raise ValueError(f"log_scale needs bounds above 0, got low bound {low}")
        _check_fixed_within(self.fixed, low, high)
        return self


class IntegerParameter(Section):
    """A whole-numbered knob between two bounds, both included."""

    type: Literal["integer"]
    name: Identifier
    bounds: tuple[StrictInt, StrictInt]
    unit: str | None = None
    fixed: StrictInt | None = Field(None, description=FIXED_HELP)

    @model_validator(mode="after")
    def _check_bounds(self) -> IntegerParameter:
        low, high = self.bounds
        # Every pair of distinct whole numbers is a step of at least 1 apart, which
        # floating point resolves anywhere below MAX_EXACT_INTEGER.
        _check_range(low, high, resolvable=False)
        if max(abs(low), abs(high)) > MAX_EXACT_INTEGER:
            raise ValueError(
                f"bounds [{low}, {high}]: integer bounds must lie within ±{MAX_EXACT_INTEGER} "
                "(2**53), where floating point holds every whole number"
            )
        _check_fixed_within(self.fixed, low, high)
        return self


class DiscreteParameter(Section):
    """A number restricted to listed values, or to steps of a grid between two bounds."""

    type: Literal["discrete"]
    name: Identifier
    values: Annotated[list[Number], Field(min_length=2)] | None = Field(
        None, description="The allowed values, e.g. [0.5, 1, 2, 5]."
    )
    bounds: tuple[Number, Number] | None = Field(None, description="With `step`: the grid's ends.")
    step: Number | None = Field(None, gt=0, description="With `bounds`: the grid's spacing.")
    unit: str | None = None
    fixed: Number | None = Field(None, description=FIXED_HELP)

    @model_validator(mode="after")
    def _check_values(self) -> DiscreteParameter:
        if (self.values is None) == (self.step is None and self.bounds is None):
            raise ValueError("give either `values`, or `bounds` and `step`")
        if self.values is None:
            if self.bounds is None or self.step is None:
                raise ValueError("a grid needs both `bounds` and `step`")
            low, high = self.bounds
            _check_range(low, high)
            count = math.floor((high - low) / self.step + 1e-9) + 1
            if count > MAX_DISCRETE_VALUES:
                raise ValueError(
                    f"step {self.step} makes {count} values; at most {MAX_DISCRETE_VALUES} "
                    "(use a continuous parameter instead)"
                )
        else:
            check_distinct("values", self.values, shown)
        if self.fixed is not None and not any(
            math.isclose(self.fixed, v, rel_tol=1e-9, abs_tol=1e-12) for v in self.allowed
        ):
            raise ValueError(f"fixed value {self.fixed} is not one of the allowed values")
        return self

    @property
    def allowed(self) -> list[float]:
        """The allowed values, ascending."""
        if self.values is not None:
            return sorted(self.values)
        assert self.bounds is not None and self.step is not None
        low, high = self.bounds
        count = math.floor((high - low) / self.step + 1e-9) + 1
        # Rounded so that 0.1-steps read 0.3, not 0.30000000000000004.
        return [round(low + k * self.step, 12) for k in range(count)]


def _table_or_elements(value: object) -> object:
    if value is None or value == "elements" or isinstance(value, dict | DescriptorsSpec):
        return value
    raise ValueError(
        "give a table of descriptors, {path: file.csv}, or the word `elements` for values "
        "that are element symbols"
    )


Descriptors = Annotated[
    Annotated[DescriptorsSpec, Tag("table")] | Annotated[Literal["elements"], Tag("elements")],
    # Tagged, so that a mistake in a table is reported once, not also as "not 'elements'".
    Discriminator(lambda value: "elements" if value == "elements" else "table"),
    BeforeValidator(_table_or_elements),
]


class CategoricalParameter(Section):
    """One choice among named values (a solvent, a substrate, a recipe)."""

    type: Literal["categorical"]
    name: Identifier
    values: Annotated[list[str | int | float], Field(min_length=1)]
    fixed: str | int | float | None = Field(None, description=FIXED_HELP)
    descriptors: Descriptors | None = Field(
        None,
        description=(
            "A CSV of numeric descriptors per value (e.g. a solvent's polarity and boiling "
            "point) that the model uses instead of treating the values as unrelated; "
            "`elements` when the values are element symbols (tansaku's element table)."
        ),
    )

    @model_validator(mode="after")
    def _check_values(self) -> CategoricalParameter:
        # Compared as written, so that 1 and "1" count as the same value.
        labels = [str(value) for value in self.values]
        check_distinct("values", labels)
        if self.fixed is not None and str(self.fixed) not in labels:
            raise ValueError(f"fixed value {self.fixed!r} is not one of: {', '.join(labels)}")
        if self.descriptors == "elements":
            check_element_values(self.values)
        return self


Parameter = Annotated[
    ContinuousParameter | IntegerParameter | DiscreteParameter | CategoricalParameter,
    Field(discriminator="type"),
]


class Mixture(Section):
    """Components whose amounts add up to a fixed total (fractions to 1, percent to 100)."""

    components: Annotated[list[Identifier], Field(min_length=2)]
    total: Number = Field(1.0, gt=0)
    elements: dict[str, ElementSymbol] | None = Field(
        None,
        description=(
            "Component → the chemical element it is the amount of, e.g. {ni_load: Ni}: the "
            "model then sees the composition's element properties (weighted means and "
            "spreads of electronegativity, radius, ionisation energy, ...)."
        ),
    )
    keep_fractions: bool = Field(
        KEEP_FRACTIONS,
        description=(
            "With `elements`: the model sees the components' fractions as well as the "
            "element properties."
        ),
    )

    @model_validator(mode="after")
    def _check_elements(self) -> Mixture:
        if self.elements is not None:
            check_element_mapping(self.elements, self.components)
        elif "keep_fractions" in self.model_fields_set:
            raise ValueError(
                "keep_fractions says whether the model sees the fractions beside the element "
                "properties: give the mixture `elements` too, or remove keep_fractions"
            )
        return self


def check_mixtures(mixtures: Sequence[Mixture], space: Sequence[Parameter]) -> None:
    """Refuse mixtures whose components cannot add up to their totals.

    Args:
        mixtures: The campaign's ``mixtures:``.
        space: The campaign's parameters.

    Raises:
        ValueError: Naming the first mixture with a component that is not a continuous
            parameter on a linear scale, a component in two mixtures, or bounds that
            cannot reach the total.
    """
    by_name = {parameter.name: parameter for parameter in space}
    seen: set[str] = set()
    for number, mixture in enumerate(mixtures, start=1):
        where = f"mixture {number} ({', '.join(mixture.components)})"
        for name in mixture.components:
            parameter = by_name.get(name)
            if not isinstance(parameter, ContinuousParameter) or parameter.log_scale:
                raise ValueError(
                    f"{where}: {name!r} must be a continuous parameter on a linear scale"
                )
            if name in seen:
                raise ValueError(f"{where}: {name!r} is in more than one mixture or twice")
            seen.add(name)
        low, high = _reachable(mixture.components, by_name)
        if not low - 1e-9 <= mixture.total <= high + 1e-9:
            raise ValueError(
                f"{where}: the components' bounds add up to [{low:g}, {high:g}], which "
                f"cannot reach the total {mixture.total:g}"
            )


def _reachable(names: list[str], space: Mapping[str, Parameter]) -> tuple[float, float]:
    """The smallest and largest sum the named parameters can take within their bounds."""
    lows, highs = [], []
    for name in names:
        parameter = space[name]
        assert isinstance(parameter, ContinuousParameter)
        if parameter.fixed is not None:
            lows.append(parameter.fixed)
            highs.append(parameter.fixed)
        else:
            lows.append(parameter.bounds[0])
            highs.append(parameter.bounds[1])
    return sum(lows), sum(highs)
