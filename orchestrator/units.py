"""Durations as people write them in campaign files: ``90s``, ``15 min``, ``2h``, ``1.5d``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator

_UNIT_SECONDS = {
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}  # fmt: skip
_DURATION = re.compile(r"^\s*(?P<sign>[-+]?)(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]+)\s*$")
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?\s*$", re.IGNORECASE)
_EXAMPLE = "write a duration such as '90s', '15min', '2h' or '1.5d'"
MAX_DURATION = timedelta(days=365)
"""The longest duration a campaign may give: far beyond any experiment, deadline or retry,
and well inside what sleeping and date arithmetic can take (``timedelta`` itself overflows
past 999,999,999 days)."""


def parse_duration(value: object) -> object:
    """Turn ``"2h"``-style text or a number of seconds into a :class:`timedelta`.

    Anything else is handed on unchanged, for pydantic to accept (a ``timedelta``,
    ISO 8601 ``PT2H``) or reject with its own message. A negative, too long or not-a-number
    duration raises ``ValueError`` naming it as written.
    """
    if isinstance(value, bool):
        raise ValueError(f"this is read as true or false, not a duration; {_EXAMPLE}")
    if isinstance(value, int | float):
        return _from_seconds(value, value)
    if isinstance(value, str) and _NUMBER.match(value):
        return _from_seconds(float(value), value)
    if isinstance(value, str) and (match := _DURATION.match(value.lower())):
        unit = match["unit"]
        if unit not in _UNIT_SECONDS:
            raise ValueError(
                f"unknown time unit {unit!r} in {value!r}; use s, min, h or d (e.g. '90s', '2h')"
            )
        sign = -1.0 if match["sign"] == "-" else 1.0
        return _from_seconds(sign * float(match["number"]) * _UNIT_SECONDS[unit], value)
    return value


def _from_seconds(seconds: float, written: object) -> timedelta:
    # Checked before timedelta() sees it, which raises OverflowError past 999999999 days.
    if seconds != seconds:
        raise ValueError(f"{_shown(written)} is not a number; {_EXAMPLE}")
    _check_range(seconds, written)
    return timedelta(seconds=seconds)


def _check_range(seconds: float, written: object) -> None:
    if seconds < 0:
        raise ValueError(f"{_shown(written)} is negative; a duration must be 0 or more")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(
            f"{_shown(written)} is longer than {MAX_DURATION.days} days, the longest duration "
            f"a campaign may give; give at most {MAX_DURATION.days}d"
        )


def _shown(written: object) -> str:
    text = str(written)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _in_range(value: object, handler: ValidatorFunctionWrapHandler) -> timedelta:
    # Text and numbers are checked as they are parsed; this catches ISO 8601 ('-PT5S').
    try:
        duration: timedelta = handler(parse_duration(value))
    except ValidationError:
        raise ValueError(f"{_shown(value)!r} is not a duration; {_EXAMPLE}") from None
    _check_range(duration.total_seconds(), value)
    return duration


Duration = Annotated[timedelta, WrapValidator(_in_range)]
"""A duration from 0 to :data:`MAX_DURATION`: seconds as a number, ``"2h"``-style text or
ISO 8601."""


def format_duration(value: timedelta) -> str:
    """``timedelta(hours=50)`` → ``"2d 2h"``: the two largest non-zero units."""
    seconds = round(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2]) or "0s"
