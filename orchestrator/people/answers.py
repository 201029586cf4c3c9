"""What a person types, checked against the campaign before anything is written.

``conductivity=812``, ``anneal_temp_c=143`` or ``fail: film cracked``: the same words at
the terminal prompt, on the ``tansaku tell`` command line and in a notebook's keywords.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tansaku.campaign.fields import shown
from tansaku.campaign.parameters import Parameter
from tansaku.campaign.schema import Campaign
from tansaku.drivers.base import CampaignContext, ParameterDomain
from tansaku.errors import InputError
from tansaku.values import ParameterValue


class AnswerError(InputError):
    """A value a person gave that the campaign cannot take; nothing was written."""


@dataclass(frozen=True)
class Result:
    """A result as a person gave it, checked: every measured quantity, or a failure."""

    values: dict[str, float]
    failure: str | None = None

    def objective(self, campaign: Campaign) -> float | None:
        """The value of the campaign's (first) objective; ``None`` for a failure."""
        return None if self.failure else self.values[campaign.objective.name]


def parse_assignments(words: Iterable[str], example: str = "conductivity=812") -> dict[str, str]:
    """``["conductivity=812", "rpm=900"]`` → ``{"conductivity": "812", "rpm": "900"}``;
    a malformed word is refused with ``example`` of a good one."""
    given: dict[str, str] = {}
    for word in words:
        name, equals, value = word.partition("=")
        name, value = name.strip(), value.strip()
        if not (name and equals and value):
            raise AnswerError(f"{word!r}: write each value as NAME=VALUE, e.g. {example}")
        if name in given:
            raise AnswerError(f"{name!r} is given twice")
        given[name] = value
    return given


def check_result(campaign: Campaign, given: Mapping[str, object]) -> Result:
    """Every measured quantity of ``campaign``, as finite numbers within their valid range.

    Raises :class:`AnswerError` naming the unknown, missing or unusable quantity.
    """
    quantities = {q.name: q for q in [*campaign.objectives, *campaign.outcomes]}
    unknown = [name for name in given if name not in quantities]
    if unknown:
        raise AnswerError(
            f"{_names(unknown)}: not measured by this campaign, which measures {_names(quantities)}"
        )
    missing = [name for name in quantities if name not in given]
    if missing:
        raise AnswerError(
            f"the result lacks {_names(missing)}; give every measured quantity "
            f"({_names(quantities)}), or report a failure with its reason"
        )
    values: dict[str, float] = {}
    for name, quantity in quantities.items():
        value = as_number(name, given[name])
        problem = quantity.outside_valid(value)
        if problem:
            raise AnswerError(f"{problem}; check the reading, or record a failure")
        values[name] = value
    return Result(values)


def check_failure(reason: str) -> Result:
    """A failed experiment; ``reason`` says what went wrong, for the ledger and the model."""
    if not reason.strip():
        raise AnswerError("say why the experiment failed, e.g. --failed 'film cracked'")
    return Result({}, failure=reason.strip())


def check_point(
    context: CampaignContext,
    given: Mapping[str, object],
    *,
    complete: bool,
) -> dict[str, ParameterValue]:
    """Parameter values a person used, each within what the campaign allows.

    Args:
        context: the campaign's parameters, their kinds and allowed values
            (:meth:`~tansaku.campaign.LoadedCampaign.context`).
        given: parameter name → value (text from a command line, or a Python value).
        complete: every parameter must be given (an experiment of their own); otherwise
            only those that differ from a proposal.
    """
    domains = context.domains
    unknown = [name for name in given if name not in domains]
    if unknown:
        raise AnswerError(
            f"{_names(unknown)}: not a parameter of this campaign, whose parameters are "
            f"{_names(domains)}"
        )
    fixed = {
        name: domain.values[0]
        for name, domain in domains.items()
        if domain.where.endswith(".fixed") and name not in given
    }
    missing = [name for name in domains if name not in given and name not in fixed]
    if complete and missing:
        raise AnswerError(f"the experiment lacks {_names(missing)}; give every parameter")
    point = {
        name: _parameter(name, domains[name], context.parameters[name], value)
        for name, value in given.items()
    }
    return {**fixed, **point} if complete else point


def point_text(space: Sequence[Parameter], point: Mapping[str, object]) -> str:
    """``anneal_temp_c = 143 degC, solvent = toluene``: a point as people read and type it.

    Numbers keep every digit they need (what the ledger holds, not a table's rounding).
    """
    units = {p.name: getattr(p, "unit", None) for p in space}
    return ", ".join(
        f"{name} = {shown(value) if isinstance(value, float) else value}"
        + (f" {units[name]}" if units.get(name) else "")
        for name, value in point.items()
    )


def _parameter(name: str, domain: ParameterDomain, kind: str, value: object) -> ParameterValue:
    if domain.bounds is not None:
        number = as_number(name, value)
        low, high = domain.bounds
        if not low <= number <= high:
            raise AnswerError(
                f"{name} = {number:g} lies outside {domain.where} [{low:g}, {high:g}]"
            )
        if kind == "integer":
            if not number.is_integer():
                raise AnswerError(f"{name} = {value}: it takes whole numbers only")
            return int(number)
        return number
    for allowed in domain.values:
        if value == allowed or str(value) == str(allowed):
            return allowed
        if isinstance(allowed, int | float) and not isinstance(allowed, bool):
            try:
                if float(str(value)) == float(allowed):
                    return allowed
            except ValueError:
                continue
    choices = ", ".join(str(v) for v in domain.values)
    raise AnswerError(f"{name} = {value}: {domain.where} allows only {choices}")


def as_number(name: str, value: object, otherwise: str = ", or record a failure") -> float:
    """``value`` as a finite number, else :class:`AnswerError` naming ``name``."""
    if isinstance(value, bool):
        raise AnswerError(f"{name} = {value}: give a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AnswerError(f"{name} = {value!r} is not a number") from None
    if not math.isfinite(number):
        raise AnswerError(f"{name} = {value}: give a finite number{otherwise}")
    return number


def _names(names: Iterable[str]) -> str:
    return ", ".join(names)
