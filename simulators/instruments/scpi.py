"""A virtual source-measure unit in the style of a Keithley 2400, speaking SCPI.

Lines end in LF or CR LF; replies end in CR LF. Headers are case-insensitive, the
leading colon is optional, and each node may be written short or long (``:SOUR`` or
``:SOURCE``, ``:OUTP`` or ``:OUTPUT``). A line may hold several commands separated by
``;``, each read from the root (SCPI's relative paths after ``;`` are not simulated);
their query replies come back in one line joined by ``;``. Supported:

- ``*IDN?``, ``*RST`` (0 V, output off, error queue cleared), ``*CLS`` (queue cleared)
- ``:SOUR:FUNC VOLT`` (only voltage sourcing is simulated)
- ``:SOUR:VOLT[:LEV] <volts>`` (±210 V) and ``:SOUR:VOLT?``
- ``:SENS:FUNC "CURR"`` (also ``"VOLT"``, ``"RES"``; accepted, the reading is unchanged)
- ``:OUTP ON|OFF|1|0`` and ``:OUTP?``
- ``:READ?`` → ``voltage,current,9.910000E+37,timestamp,status`` in ``+1.000000E+00``
  style; current = source voltage * the world's film conductance, timestamp = seconds
  since the unit started, status a constant (not modelled). With the output off it
  queues ``-221,"Settings conflict"`` and sends nothing.
- ``:SYST:ERR?`` → the oldest queued error, or ``0,"No error"``.

As on the instrument, a command that fails sends nothing and queues an error: an unknown
header (including SCPI the simulator does not implement) ``-113``, a missing value
``-109``, an unexpected one ``-108``, a non-number ``-104``, an out-of-range number
``-222``, an unsupported choice ``-224``. The queue holds 10 errors; when full, the
newest becomes ``-350,"Queue overflow"``. When the
``error_rate`` fault strikes, the command is not executed, ``-300,"Device-specific
error"`` is queued and nothing is sent — a driver sees a missing reply and finds the
reason with ``:SYST:ERR?``. No compliance limit is modelled.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tansaku.simulators.instruments.pty_device import Faults, PtyDevice
from tansaku.simulators.instruments.world import World

IDENTITY = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4105329,C32 Oct 4 2010 14:20:11/A02  /S/K"
"""What ``*IDN?`` answers."""

MAX_SOURCE_VOLTAGE = 210.0
"""Largest source voltage magnitude (V) the unit accepts."""

ERROR_QUEUE_CAPACITY = 10
"""Errors the queue holds before the newest is replaced by ``-350``."""

OVERFLOW_READING = 9.91e37
"""What SCPI instruments report for a quantity they did not measure (here: resistance)."""

STATUS_WORD = 19456.0
"""The status field of every reading: a plausible constant, not a modelled status."""


@dataclass(frozen=True)
class ScpiError:
    """An entry of the instrument's error queue."""

    code: int
    message: str

    def __str__(self) -> str:
        return f'{self.code},"{self.message}"'


NO_ERROR = ScpiError(0, "No error")
DATA_TYPE_ERROR = ScpiError(-104, "Data type error")
PARAMETER_NOT_ALLOWED = ScpiError(-108, "Parameter not allowed")
MISSING_PARAMETER = ScpiError(-109, "Missing parameter")
UNDEFINED_HEADER = ScpiError(-113, "Undefined header")
SETTINGS_CONFLICT = ScpiError(-221, "Settings conflict")
DATA_OUT_OF_RANGE = ScpiError(-222, "Data out of range")
ILLEGAL_PARAMETER_VALUE = ScpiError(-224, "Illegal parameter value")
DEVICE_SPECIFIC_ERROR = ScpiError(-300, "Device-specific error")
QUEUE_OVERFLOW = ScpiError(-350, "Queue overflow")

# SCPI mnemonics in the standard's notation: the capitals are the short form.
_MNEMONICS = (
    *("SOURce", "FUNCtion", "MODE", "VOLTage", "LEVel", "IMMediate", "AMPLitude"),
    *("SENSe", "CURRent", "RESistance", "DC", "ON"),
    *("OUTPut", "STATe", "READ", "SYSTem", "ERRor", "NEXT"),
)
_LONG_FORM = {
    form: mnemonic.upper()
    for mnemonic in _MNEMONICS
    for form in ("".join(c for c in mnemonic if c.isupper()), mnemonic.upper())
}
# Nodes SCPI lets a client leave out; the simulator ignores them wherever they appear.
_OPTIONAL_NODES = frozenset({"MODE", "LEVEL", "IMMEDIATE", "AMPLITUDE", "STATE", "NEXT", "ON"})

_SENSE_FUNCTIONS = frozenset(
    {("CURRENT",), ("CURRENT", "DC"), ("VOLTAGE",), ("VOLTAGE", "DC"), ("RESISTANCE",)}
)
_ON_OFF = {"ON": True, "1": True, "OFF": False, "0": False}


def canonical_path(text: str) -> tuple[str, ...] | None:
    """``":sour:volt:lev"`` → ``("SOURCE", "VOLTAGE")``: long forms, optional nodes left
    out; ``None`` when a node is not a mnemonic the simulator knows."""
    nodes: list[str] = []
    for node in text.upper().lstrip(":").split(":"):
        long_form = _LONG_FORM.get(node)
        if long_form is None:
            return None
        if long_form not in _OPTIONAL_NODES:
            nodes.append(long_form)
    return tuple(nodes)


@dataclass(frozen=True)
class _Command:
    run: Callable[[str], str | None]
    """Called with the parameter text (empty when none); returns the reply, if any."""
    takes_parameter: bool


class ScpiSourceMeter(PtyDevice):
    """A Keithley 2400-style source meter on a pty, measuring the shared :class:`World`'s film."""

    def __init__(
        self,
        world: World,
        link_path: str | os.PathLike[str],
        *,
        faults: Faults | None = None,
        seed: int | str | None = 0,
        keep_history: bool = True,
    ) -> None:
        """``link_path``: the symlink clients open; see :class:`PtyDevice` for the rest."""
        super().__init__(link_path, faults=faults, seed=seed, keep_history=keep_history)
        self.world = world
        self._errors: deque[ScpiError] = deque()
        self._started_at = time.monotonic()
        self._common: dict[str, _Command] = {
            "*IDN?": _Command(lambda _: IDENTITY, takes_parameter=False),
            "*RST": _Command(self._reset, takes_parameter=False),
            "*CLS": _Command(self._clear_errors, takes_parameter=False),
        }
        # (long-form path, is a query) → command
        self._subsystem: dict[tuple[tuple[str, ...], bool], _Command] = {
            (("SOURCE", "FUNCTION"), False): _Command(self._source_function, True),
            (("SOURCE", "VOLTAGE"), False): _Command(self._source_voltage, True),
            (("SOURCE", "VOLTAGE"), True): _Command(
                lambda _: _number(world.source_voltage), takes_parameter=False
            ),
            (("SENSE", "FUNCTION"), False): _Command(self._sense_function, True),
            (("OUTPUT",), False): _Command(self._output, True),
            (("OUTPUT",), True): _Command(
                lambda _: "1" if world.output_on else "0", takes_parameter=False
            ),
            (("READ",), True): _Command(self._read, takes_parameter=False),
            (("SYSTEM", "ERROR"), True): _Command(self._next_error, takes_parameter=False),
        }

    def handle(self, line: str) -> str | None:
        """Execute the ``;``-separated SCPI commands of a line; the query replies come back
        joined by ``;``. A failed command queues an error and adds nothing to the reply."""
        commands = (part.strip() for part in line.split(";"))
        replies = [self._execute(command) for command in commands if command]
        answered = [reply for reply in replies if reply is not None]
        return ";".join(answered) if answered else None

    def _execute(self, text: str) -> str | None:
        header, _, parameter = text.partition(" ")
        parameter = parameter.strip()
        command = self._find(header)
        if command is None:
            return self._fail(UNDEFINED_HEADER)
        if command.takes_parameter and not parameter:
            return self._fail(MISSING_PARAMETER)
        if not command.takes_parameter and parameter:
            return self._fail(PARAMETER_NOT_ALLOWED)
        return command.run(parameter)

    def error_reply(self, line: str) -> str | None:
        """The rejected command is not executed; ``-300`` is queued and nothing sent."""
        return self._fail(DEVICE_SPECIFIC_ERROR)

    def _find(self, header: str) -> _Command | None:
        if header.startswith("*"):
            return self._common.get(header.upper())
        is_query = header.endswith("?")
        path = canonical_path(header.removesuffix("?"))
        if path is None:
            return None
        return self._subsystem.get((path, is_query))

    def _fail(self, error: ScpiError) -> None:
        if len(self._errors) >= ERROR_QUEUE_CAPACITY:
            self._errors[-1] = QUEUE_OVERFLOW
        else:
            self._errors.append(error)

    def _reset(self, _: str) -> None:
        self.world.reset_source_meter()
        self._errors.clear()

    def _clear_errors(self, _: str) -> None:
        self._errors.clear()

    def _source_function(self, parameter: str) -> None:
        if canonical_path(parameter) != ("VOLTAGE",):
            self._fail(ILLEGAL_PARAMETER_VALUE)

    def _source_voltage(self, parameter: str) -> None:
        try:
            volts = float(parameter)
        except ValueError:
            self._fail(DATA_TYPE_ERROR)
            return
        if not (math.isfinite(volts) and abs(volts) <= MAX_SOURCE_VOLTAGE):
            self._fail(DATA_OUT_OF_RANGE)
            return
        self.world.source_voltage = volts

    def _sense_function(self, parameter: str) -> None:
        if canonical_path(parameter.strip("\"'")) not in _SENSE_FUNCTIONS:
            self._fail(ILLEGAL_PARAMETER_VALUE)

    def _output(self, parameter: str) -> None:
        on = _ON_OFF.get(parameter.upper())
        if on is None:
            self._fail(ILLEGAL_PARAMETER_VALUE)
            return
        self.world.output_on = on

    def _read(self, _: str) -> str | None:
        if not self.world.output_on:
            return self._fail(SETTINGS_CONFLICT)
        volts = self.world.source_voltage
        amperes = volts * self.world.measure_conductance()
        timestamp = time.monotonic() - self._started_at
        values = (volts, amperes, OVERFLOW_READING, timestamp, STATUS_WORD)
        return ",".join(_number(value) for value in values)

    def _next_error(self, _: str) -> str:
        return str(self._errors.popleft() if self._errors else NO_ERROR)


def _number(value: float) -> str:
    """The instrument's number format: ``+1.000000E+00``."""
    return f"{value:+.6E}"
