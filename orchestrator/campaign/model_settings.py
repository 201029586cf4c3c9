"""The ``model:`` section: what the model knows before any experiment.

``prior_mean`` names a function of the parameters (an Arrhenius law, a DFT estimate, a
quick simulation) that the Gaussian process takes as its prior mean, so that it knows
the trend before the first result (``proposer/prior_mean.py``). It has the signature of
a ``type: function`` simulator: a mapping of parameter name → value in, one number in
the objective's unit out.

Validating a campaign imports the function and calls it on a few points of the space
(plain Python: no torch), so that a function that cannot run is refused before a run.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from tansaku.callables import FUNCTION_PATTERN, FunctionImportError, import_function
from tansaku.campaign.fields import Section, shown
from tansaku.campaign.parameters import (
    CategoricalParameter,
    ContinuousParameter,
    DiscreteParameter,
    IntegerParameter,
    Parameter,
)
from tansaku.errors import InputError
from tansaku.values import ParameterValue

if TYPE_CHECKING:
    from tansaku.campaign.schema import Campaign

PriorFunction = Callable[[Mapping[str, ParameterValue]], float]
"""A prior mean: parameter name → value in, the objective's expected value out."""


class ModelSettings(Section):
    """``model: {prior_mean: package.module:function, transfer: tasks}``."""

    prior_mean: str | None = Field(
        None,
        pattern=FUNCTION_PATTERN,
        description=(
            "A function of the parameters, 'package.module:function', taking a mapping of "
            "parameter name to value and returning the objective's expected value in its "
            "unit: the model's trend before any data (it learns how far to trust it)."
        ),
    )
    transfer: Literal["prior_mean", "tasks", "pooled"] = Field(
        "prior_mean",
        description=(
            "How `transfer_from` sources join the campaign's results: 'prior_mean' (a model "
            "of the sources is the prior mean, its weight fitted), 'tasks' (each source a "
            "related task whose correlation with the campaign is fitted) or 'pooled' (as "
            "if measured in the campaign)."
        ),
    )


class PriorMeanError(InputError):
    """The prior-mean function failed at a point, or returned something other than a
    finite number."""


def check_prior_mean_applies(campaign: Campaign) -> None:
    """Refuse a prior mean where the model fits more than the one objective.

    Raises:
        ValueError: with several objectives or with outcome constraints (their models fit
            several quantities, of which the function predicts one).
    """
    if campaign.model.prior_mean is None:
        return
    if campaign.multi_objective:
        raise ValueError(
            "model.prior_mean predicts a single objective, and this campaign has "
            f"{len(campaign.objectives)}: keep one objective, or remove prior_mean"
        )
    if campaign.outcome_constraints:
        raise ValueError(
            "model.prior_mean predicts the objective alone, and outcome constraints make "
            "the model fit other quantities beside it: remove outcome_constraints or "
            "prior_mean"
        )


def prior_value(function: PriorFunction, name: str, point: Mapping[str, ParameterValue]) -> float:
    """``function(point)`` as a float, or a :class:`PriorMeanError` saying what went wrong.

    Args:
        function: the imported prior mean.
        name: how the campaign names it (``package.module:function``), for messages.
        point: parameter name → value.

    Raises:
        PriorMeanError: when the function raises, or returns anything but one finite
            real number (a bool, a list, an array and NaN are all refused).
    """
    try:
        value = function(dict(point))
    # The function is the user's code and may raise anything; its failure must reach
    # them as one sentence naming the function and the point, not a traceback.
    except Exception as error:
        raise PriorMeanError(
            f"{name} raised {type(error).__name__}: {error} at {_shown_point(point)}"
        ) from error
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PriorMeanError(
            f"{name} returned {_short(value)} ({type(value).__name__}) at "
            f"{_shown_point(point)}; it must return one number in the objective's unit"
        )
    number = float(value)
    if not math.isfinite(number):
        raise PriorMeanError(
            f"{name} returned {number} at {_shown_point(point)}; it must return a finite "
            "number everywhere the model may look"
        )
    return number


def check_prior_mean(
    campaign: Campaign, pool: Sequence[Mapping[str, ParameterValue]] | None = None
) -> str | None:
    """Why the campaign's prior mean cannot be used, or ``None`` when it can.

    The function is imported and called at :func:`probe_points` of the space, or with a
    candidate pool at a few of its rows (the only points the model is asked about then).

    Args:
        campaign: a campaign whose ``model.prior_mean`` is set.
        pool: the candidate pool's rows, for a campaign that has one.

    Returns:
        One sentence: the import failure, or the first point where the function fails.
    """
    name = campaign.model.prior_mean
    assert name is not None
    try:
        function = import_function(name)
    except FunctionImportError as error:
        return f"{error}; name a function of an importable package, module:function"
    points = _pool_probes(pool) if pool is not None else probe_points(campaign.space)
    for point in points:
        try:
            prior_value(function, name, point)
        except PriorMeanError as error:
            return str(error)
    return None


PROBES = 3
"""Points of a low-discrepancy sequence probed besides the centre and the two corners."""


def probe_points(space: Sequence[Parameter]) -> list[dict[str, ParameterValue]]:
    """A few deterministic points of the space's box: its centre, its low and high
    corners, and :data:`PROBES` points of a Kronecker sequence; fixed parameters at their
    values, categoricals at one of their values. Constraints are not applied: the
    optimiser's steps may leave them slightly, so the function must hold on the box."""
    golden = (math.sqrt(5) - 1) / 2
    fractions = [[0.5] * len(space), [0.0] * len(space), [1.0] * len(space)]
    fractions += [
        [(0.5 + k * (i + 1) * golden) % 1.0 for i in range(len(space))]
        for k in range(1, PROBES + 1)
    ]
    return [{p.name: _at(p, u) for p, u in zip(space, row, strict=True)} for row in fractions]


def _pool_probes(pool: Sequence[Mapping[str, ParameterValue]]) -> list[dict[str, ParameterValue]]:
    """The pool's first and last rows and a few evenly spaced between."""
    positions = sorted({round(k * (len(pool) - 1) / (PROBES + 2)) for k in range(PROBES + 3)})
    return [dict(pool[i]) for i in positions] if pool else []


def _at(parameter: Parameter, u: float) -> ParameterValue:
    """The parameter's value a fraction ``u`` of the way through its range."""
    if parameter.fixed is not None:
        return parameter.fixed
    if isinstance(parameter, CategoricalParameter):
        values = parameter.values
        return values[min(int(u * len(values)), len(values) - 1)]
    if isinstance(parameter, DiscreteParameter):
        allowed = parameter.allowed
        return allowed[round(u * (len(allowed) - 1))]
    if isinstance(parameter, IntegerParameter):
        low, high = parameter.bounds
        return low + round(u * (high - low))
    assert isinstance(parameter, ContinuousParameter)
    low, high = parameter.bounds
    if parameter.log_scale:
        return low * (high / low) ** u
    return low + u * (high - low)


def _shown_point(point: Mapping[str, ParameterValue]) -> str:
    return ", ".join(
        f"{name}={shown(value) if isinstance(value, float) else value}"
        for name, value in point.items()
    )


def _short(value: object) -> str:
    written = repr(value)
    return written if len(written) <= 40 else written[:37] + "..."
