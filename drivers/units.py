"""Durations as people write them in campaign files: ``90s``, ``15 min``, ``2h``, ``1.5d``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_UNIT_SECONDS = {
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}  # fmt: skip
_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]+)\s*$")


def parse_duration(value: object) -> object:
    """Turn ``"2h"``-style text or a number of seconds into a :class:`timedelta`.

    Anything else is handed on unchanged, for pydantic to accept (a ``timedelta``,
    ISO 8601 ``PT2H``) or reject with its own message.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str) and (match := _DURATION.match(value.lower())):
        unit = match["unit"]
        if unit not in _UNIT_SECONDS:
            raise ValueError(
                f"unknown time unit {unit!r} in {value!r}; use s, min, h or d (e.g. '90s', '2h')"
            )
        return timedelta(seconds=float(match["number"]) * _UNIT_SECONDS[unit])
    return value


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("a duration cannot be negative")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_non_negative)]
"""A non-negative duration: seconds as a number, ``"2h"``-style text or ISO 8601."""


def format_duration(value: timedelta) -> str:
    """``timedelta(hours=50)`` → ``"2d 2h"``: the two largest non-zero units."""
    seconds = round(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2]) or "0s"
