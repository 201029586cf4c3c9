"""What every campaign section shares: its base model, names, computable numbers, distinctness."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Annotated, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
    Field(description="A name made of letters, digits and underscores, not starting with a digit."),
]

MAX_MAGNITUDE = 1e150
"""Numbers in a campaign are 0 or between 1/MAX_MAGNITUDE and MAX_MAGNITUDE in size, so that
the sum, difference, product or quotient of any two stays finite and non-zero in floating
point (widths, scalings and constraint terms are computed from them). Physical quantities
lie far inside: Avogadro's number is 6e23."""


class Section(BaseModel):
    """A section of the campaign file: unknown keys are mistakes, and a campaign never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def shown(value: float) -> str:
    """A number as people write it in the file: ``1e150`` rather than Python's ``1e+150``.

    Args:
        value: The number to show.

    Returns:
        ``value`` in ``%g`` form with the exponent's sign and zeros dropped.
    """
    mantissa, e, exponent = f"{value:g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if e else mantissa


def _computable(value: float) -> float:
    if math.isnan(value):
        raise ValueError("nan is not a number; write a finite number")
    limit = shown(MAX_MAGNITUDE)
    if math.isinf(value):
        raise ValueError(f"{value} is not a finite number; write a number within ±{limit}")
    if abs(value) > MAX_MAGNITUDE:
        raise ValueError(
            f"{shown(value)} is too large to compute with: numbers in a campaign must lie "
            f"within ±{limit} (give it in a larger unit)"
        )
    if value != 0 and abs(value) < 1 / MAX_MAGNITUDE:
        raise ValueError(
            f"{shown(value)} is too small to compute with: a number in a campaign is 0 or at "
            f"least {shown(1 / MAX_MAGNITUDE)} in size (give it in a smaller unit)"
        )
    return value


Number = Annotated[float, AfterValidator(_computable)]
"""A finite number within ±:data:`MAX_MAGNITUDE`."""

T = TypeVar("T", bound=Hashable)


def repeated(items: Iterable[T]) -> list[T]:
    """The items given more than once.

    Counted in one pass, as a categorical may list tens of thousands of values.

    Args:
        items: Names or values, of one type so that they sort.

    Returns:
        Every item that occurs more than once, once each, sorted.
    """
    return sorted(item for item, count in Counter(items).items() if count > 1)


def check_distinct(what: str, items: Iterable[T], show: Callable[[T], str] = str) -> None:
    """Refuse a list that gives an item twice, naming the repeats.

    Args:
        what: What the items are, e.g. ``"parameter names"``; the message's subject.
        items: The names or values to check.
        show: How the message writes an item.

    Raises:
        ValueError: ``"<what> must be distinct; repeated: ..."`` when an item repeats.
    """
    found = repeated(items)
    if found:
        raise ValueError(f"{what} must be distinct; repeated: {', '.join(map(show, found))}")


class Named(Protocol):
    """A section with a name: a parameter, an objective, an outcome."""

    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def distinct_names(what: str) -> AfterValidator:
    """A validator for a list of named sections that refuses a name given twice.

    Args:
        what: What the names are, e.g. ``"objective names"``; the message's subject.

    Returns:
        An ``AfterValidator`` to put in the list field's ``Annotated`` metadata, so the
        problem is placed on that field.
    """

    def check(sections: Sequence[N]) -> Sequence[N]:
        check_distinct(what, [section.name for section in sections])
        return sections

    return AfterValidator(check)
