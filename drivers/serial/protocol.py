"""A serial instrument's protocol, described in YAML: how to talk to it, set it, read it.

The description is data: a lab engineer puts an instrument on the loop by writing one of
these, not Python. See ``campaigns/protocols/`` for the IKA NAMUR hotplate and the
Keithley 2400-style source meter.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    NonNegativeInt,
    PositiveFloat,
    model_validator,
)

from tansaku.errors import InputError
from tansaku.units import Duration
from tansaku.values import ParameterValue

PARITIES = {"none": "N", "even": "E", "odd": "O", "mark": "M", "space": "S"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"invalid regular expression {pattern!r}: {error}") from None
    return pattern


def _has_value_group(pattern: str) -> str:
    if "value" not in re.compile(pattern).groupindex:
        raise ValueError(f"pattern {pattern!r} needs a named group (?P<value>...)")
    return pattern


def _is_template(template: str) -> str:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise ValueError(
            f"template {template!r} is not a valid format template ({error}); "
            "write a literal brace twice, {{ or }}"
        ) from None
    for name in names:
        if name == "" or name[0].isdigit():
            raise ValueError(
                f"template {template!r} has a positional field {{{name}}}; name the "
                "parameter instead, e.g. {temp}"
            )
    return template


Regex = Annotated[str, AfterValidator(_compiles)]
"""A Python regular expression, checked when the protocol is validated."""
ValueRegex = Annotated[Regex, AfterValidator(_has_value_group)]
"""A regular expression whose named group ``value`` captures a number."""
Template = Annotated[str, AfterValidator(_is_template)]
"""A ``str.format`` template whose fields name campaign parameters."""


class LineSettings(_Section):
    """How bytes travel: the port settings and how lines end."""

    baudrate: int = 9600
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["none", "even", "odd", "mark", "space"] = "none"
    stopbits: Literal[1, 1.5, 2] = 1
    xonxoff: bool = False
    rtscts: bool = False
    timeout: Duration = Field(timedelta(seconds=1), description="Read timeout per reply.")
    write_timeout: Duration = Field(timedelta(seconds=1))
    write_terminator: str = "\r\n"
    read_terminator: str = "\r\n"
    encoding: str = "ascii"
    query_retries: NonNegativeInt = Field(
        2,
        description="How often a query is asked again after a timeout, a garbled or "
        "unexpected reply or a device error reply, before the attempt fails.",
    )


class Command(_Section):
    """A line to send, optionally answered by a reply that must match ``expect``."""

    send: str
    expect: Regex | None = Field(
        None, description="The reply must match this; a command with no expect reads no reply."
    )


class ParameterCommand(_Section):
    """How one campaign parameter is applied: a template, a value map, hard limits."""

    send: Template = Field(description="Template, e.g. 'OUT_SP_1 {anneal_temp_c:.1f}'.")
    map: dict[str, str] | None = Field(
        None, description="Categorical value → the device's own word, used as the value."
    )
    limits: tuple[float, float] | None = Field(
        None,
        description="Hard safety limits on the value sent (after `map`): a value outside, or "
        "a mapped word that is not a number, is never sent.",
    )
    expect: Regex | None = None

    @model_validator(mode="after")
    def _check_limits(self) -> ParameterCommand:
        if self.limits is not None and self.limits[0] > self.limits[1]:
            raise ValueError(f"limits {list(self.limits)}: the low limit is above the high one")
        return self

    def device_value(self, parameter: str, value: ParameterValue) -> ParameterValue:
        """What is sent for ``parameter=value``: its map entry (if mapped), which must lie
        within the hard limits (if any); raise :class:`UnsafeValueError` otherwise."""
        sent: ParameterValue = value
        if self.map is not None:
            if str(value) not in self.map:
                raise UnsafeValueError(
                    f"{parameter}={value!r} has no entry in the protocol's map "
                    f"({', '.join(self.map)})"
                )
            sent = self.map[str(value)]
        if self.limits is not None and not within(sent, self.limits):
            low, high = self.limits
            shown = f"{parameter}={value!r}" + (f" (sent as {sent!r})" if self.map else "")
            where = "outside" if as_number(sent) is not None else "not a number within"
            raise UnsafeValueError(f"{shown} is {where} the hard limits [{low:g}, {high:g}]")
        return sent


class UnsafeValueError(InputError, ValueError):
    """A value the protocol forbids sending: outside hard limits, or with no mapping."""


def as_number(value: ParameterValue) -> float | None:
    """``value`` as a finite number (a device word such as ``"250"`` included), else ``None``."""
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def within(value: ParameterValue, limits: tuple[float, float]) -> bool:
    """Whether ``value`` is a number between the limits, both included."""
    number = as_number(value)
    return number is not None and limits[0] <= number <= limits[1]


class Reading(_Section):
    """How one objective is read: a query, a regex with a ``value`` group, scaling, range."""

    query: str
    pattern: ValueRegex
    scale: float = 1.0
    offset: float = 0.0
    valid: tuple[float, float] | None = Field(
        None, description="Readings outside this range (after scaling) are failures."
    )
    unit: str | None = None


class Poll(_Section):
    """Ask a query until its reply meets a condition, and keeps meeting it for a while.

    Either a band — the number in ``pattern``'s ``value`` group is ``within`` of
    ``target`` — or a condition: the reply matches ``until`` (e.g. ``'^READY'``).
    """

    query: str
    pattern: ValueRegex | None = None
    target: str | FiniteFloat | None = Field(
        None, description="A parameter name, or a number, the value must reach."
    )
    within: PositiveFloat | None = Field(None, description="Allowed distance from the target.")
    until: Regex | None = Field(None, description="A reply matching this meets the condition.")
    stable_for: Duration = Field(timedelta(0), description="How long it must keep holding.")
    every: Duration = Field(timedelta(seconds=1), description="Time between queries.")
    time_limit: Duration = Field(description="Give up (instrument error) after this long.")

    @model_validator(mode="after")
    def _one_condition(self) -> Poll:
        band = (self.pattern, self.target, self.within)
        if self.until is None and None in band:
            raise ValueError(
                "give either `until` (a regex) or all of `pattern`, `target` and `within` (a band)"
            )
        if self.until is not None and any(part is not None for part in band):
            raise ValueError(
                "`until` and a band (`pattern`, `target`, `within`) exclude each other"
            )
        return self


class Wait(_Section):
    """How long to wait after applying parameters, before reading."""

    settle: Duration = Field(timedelta(0), description="A fixed wait.")
    poll: Poll | None = None


class ErrorHandling(_Section):
    """How the device says something went wrong."""

    reply_pattern: Regex | None = Field(
        None, description="A reply matching this is a device error."
    )
    query: str | None = Field(None, description="Asks the device's error queue.")
    no_error: Regex | None = Field(None, description="The error-queue reply meaning 'none'.")


class KeepAlive(Command):
    """A command sent at a fixed interval while waiting for an experiment (a watchdog)."""

    every: Duration


class Protocol(_Section):
    """Everything tansaku needs to drive one serial device."""

    line: LineSettings = LineSettings()
    setup: list[Command] = Field(default_factory=list, description="Sent on every connect.")
    parameters: dict[str, ParameterCommand] = Field(default_factory=dict)
    start: list[Command] = Field(default_factory=list, description="Sent after the parameters.")
    wait: Wait = Wait()
    objectives: dict[str, Reading] = Field(default_factory=dict)
    errors: ErrorHandling = ErrorHandling()
    safe_state: list[Command] = Field(
        default_factory=list,
        description="Sent on failure, on abort (Ctrl-C, SIGTERM) and at campaign end.",
    )
    keepalive: KeepAlive | None = None


def template_fields(template: str) -> set[str]:
    """The names a ``str.format`` template refers to."""
    return {field_root(name) for _, name, _, _ in string.Formatter().parse(template) if name}


def field_root(name: str) -> str:
    """The parameter a template field names: ``temp`` for ``temp.real`` or ``temp[0]``."""
    return name.split(".")[0].split("[")[0]


TEMPLATE_ERRORS = (KeyError, IndexError, AttributeError, TypeError, ValueError, OverflowError)
"""What ``str.format`` raises for a template its values do not fit."""


class TemplateError(InputError, ValueError):
    """A template that cannot be filled with the values at hand."""


def fill(template: str, values: Mapping[str, object]) -> str:
    """``template`` formatted with ``values``; raise :class:`TemplateError` if they do not fit."""
    try:
        return template.format(**values)
    except TEMPLATE_ERRORS as error:
        raise TemplateError(f"template {template!r} cannot be filled: {error}") from None
