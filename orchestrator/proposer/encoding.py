"""Between a campaign's parameters and the numeric columns the model works in.

One column per parameter: a continuous value (its log10 on a log scale), an integer or
discrete value as a float, a categorical as the index of its value. Decoding rounds and
clamps, so any row the optimiser returns maps to a point inside the declared space;
a fixed parameter always decodes to its fixed value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tansaku.campaign.parameters import (
    CategoricalParameter,
    ContinuousParameter,
    DiscreteParameter,
    IntegerParameter,
    Parameter,
)
from tansaku.values import ParameterValue

LISTED_INTEGERS = 10_000
"""Integer parameters with up to this many values are optimised over their whole numbers."""


class SpaceEncoding:
    """Encodes parameter mappings as rows of floats and back.

    Args:
        space: the campaign's parameters, in order; column ``i`` is ``space[i]``.
    """

    def __init__(self, space: Sequence[Parameter]) -> None:
        self.space = tuple(space)

    @property
    def dim(self) -> int:
        return len(self.space)

    @property
    def bounds(self) -> list[tuple[float, float]]:
        """``(low, high)`` of each column, in encoded units."""
        return [_column_bounds(parameter) for parameter in self.space]

    @property
    def categorical_columns(self) -> dict[int, list[float]]:
        """Column → allowed encoded values, for categorical parameters."""
        return {
            i: [float(k) for k in range(len(p.values))]
            for i, p in enumerate(self.space)
            if isinstance(p, CategoricalParameter)
        }

    @property
    def discrete_columns(self) -> dict[int, list[float]]:
        """Column → allowed encoded values, for integer and discrete parameters.

        An integer parameter of more than :data:`LISTED_INTEGERS` values is left out: the
        optimiser searches it as a continuous column, and decoding rounds it (BoTorch
        relaxes such columns itself; listing a billion values would not fit in memory).
        """
        columns: dict[int, list[float]] = {}
        for i, p in enumerate(self.space):
            if isinstance(p, IntegerParameter):
                if p.bounds[1] - p.bounds[0] < LISTED_INTEGERS:
                    columns[i] = [float(v) for v in range(p.bounds[0], p.bounds[1] + 1)]
            elif isinstance(p, DiscreteParameter):
                columns[i] = p.allowed
        return columns

    @property
    def fixed_columns(self) -> dict[int, float]:
        """Column → encoded value, for parameters held fixed (and one-value categoricals)."""
        columns = {i: _encode(p, p.fixed) for i, p in enumerate(self.space) if p.fixed is not None}
        for i, p in enumerate(self.space):
            if isinstance(p, CategoricalParameter) and len(p.values) == 1:
                columns[i] = 0.0
        return columns

    def column(self, name: str) -> int:
        """The column of parameter ``name``."""
        return [p.name for p in self.space].index(name)

    def encode(self, parameters: Mapping[str, ParameterValue]) -> list[float]:
        """A parameter mapping as one row of encoded columns."""
        return [_encode(p, parameters[p.name]) for p in self.space]

    def encodes(self, parameters: Mapping[str, ParameterValue]) -> bool:
        """Whether :meth:`encode` can take the point: each categorical value one of the
        declared values, each log-scale value above 0.

        A point measured before a revision (``tansaku revise``) may hold a value the
        revised space dropped. Numbers outside the bounds encode fine: the model's
        normalised inputs then lie outside [0, 1], which a GP extrapolates from.
        """
        for p in self.space:
            value = parameters[p.name]
            if isinstance(p, CategoricalParameter) and str(value) not in map(str, p.values):
                return False
            if isinstance(p, ContinuousParameter) and p.log_scale and float(value) <= 0:
                return False
        return True

    def decode(self, row: Sequence[float]) -> dict[str, ParameterValue]:
        """The point of the space nearest to an encoded row (rounded, clamped)."""
        return {
            p.name: p.fixed if p.fixed is not None else _decode(p, float(x))
            for p, x in zip(self.space, row, strict=True)
        }

    def from_unit(self, row: Sequence[float]) -> dict[str, ParameterValue]:
        """Map a point of the unit cube (e.g. a Sobol point) onto the space, uniformly.

        An integer or categorical with k values gets k equal slices of [0, 1), so each
        value is drawn equally often.
        """
        point: dict[str, ParameterValue] = {}
        for p, u in zip(self.space, row, strict=True):
            u = min(max(float(u), 0.0), 1.0)
            if p.fixed is not None:
                point[p.name] = p.fixed
            elif isinstance(p, CategoricalParameter):
                point[p.name] = p.values[min(int(u * len(p.values)), len(p.values) - 1)]
            elif isinstance(p, IntegerParameter):
                low, high = p.bounds
                point[p.name] = min(low + int(u * (high - low + 1)), high)
            elif isinstance(p, DiscreteParameter):
                allowed = p.allowed
                point[p.name] = allowed[min(int(u * len(allowed)), len(allowed) - 1)]
            else:
                low, high = _column_bounds(p)
                point[p.name] = _decode(p, low + u * (high - low))
        return point


def _column_bounds(parameter: Parameter) -> tuple[float, float]:
    if isinstance(parameter, CategoricalParameter):
        return 0.0, float(len(parameter.values) - 1)
    if isinstance(parameter, DiscreteParameter):
        allowed = parameter.allowed
        return allowed[0], allowed[-1]
    low, high = parameter.bounds
    if isinstance(parameter, ContinuousParameter) and parameter.log_scale:
        return math.log10(low), math.log10(high)
    return float(low), float(high)


def _encode(parameter: Parameter, value: ParameterValue) -> float:
    if isinstance(parameter, CategoricalParameter):
        return float([str(v) for v in parameter.values].index(str(value)))
    if isinstance(parameter, ContinuousParameter) and parameter.log_scale:
        return math.log10(float(value))
    return float(value)


def _decode(parameter: Parameter, x: float) -> ParameterValue:
    low, high = _column_bounds(parameter)
    x = min(max(x, low), high)
    if isinstance(parameter, CategoricalParameter):
        return parameter.values[round(x)]
    if isinstance(parameter, IntegerParameter):
        return round(x)
    if isinstance(parameter, DiscreteParameter):
        return min(parameter.allowed, key=lambda value: abs(value - x))
    if parameter.log_scale:
        # 10**log10(high) can overshoot high by an ulp: clamp in natural units too.
        return min(max(10.0**x, parameter.bounds[0]), parameter.bounds[1])
    return x
