"""A virtual IKA hotplate/stirrer (RCT digital) speaking the IKA NAMUR command set.

Real line settings: 9600 baud, 7 data bits, even parity, 1 stop bit, lines terminated
by CR LF (a pty ignores the framing; see :mod:`tansaku.simulators.instruments.pty_port`).

==================  ===============================  ========================
Command             Meaning                          Reply
==================  ===============================  ========================
``IN_NAME``         device name                      ``RCT digital``
``IN_PV_1``         plate temperature (°C)           ``23.4 1``
``IN_SP_1``         temperature setpoint (°C)        ``120.0 1``
``OUT_SP_1 <v>``    set the temperature setpoint     none
``IN_PV_4``         stirrer speed now (rpm)          ``600.0 4``
``IN_SP_4``         stirrer speed setpoint (rpm)     ``600.0 4``
``OUT_SP_4 <v>``    set the stirrer speed setpoint   none
``START_1/STOP_1``  heater on / off                  none
``START_4/STOP_4``  stirrer on / off                 none
``RESET``           heater and stirrer off           none
==================  ===============================  ========================

Commands are case-sensitive, upper case as IKA documents them. An unknown command, a malformed or
missing value, or a value outside the unit's range (temperature setpoints 0 to 340 °C,
speeds 0 to 1500 rpm) gets no reply and changes nothing, as real IKA units do; the line is
still recorded in the device's history. When the ``error_rate`` fault strikes, the unit
does not execute the command and answers ``E 1`` whatever the command was — so a
driver may find an ``E 1`` waiting even after a set command that normally has no reply.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from tansaku.simulators.instruments.pty_device import Faults, PtyDevice
from tansaku.simulators.instruments.world import World

NAME = "RCT digital"
"""What ``IN_NAME`` answers."""

ERROR_REPLY = "E 1"
"""What the unit sends instead of executing a command it rejects (``error_rate`` fault)."""

MAX_TEMPERATURE_SETPOINT = 340.0
"""Highest temperature setpoint (°C) the unit accepts; higher ones are ignored."""

MAX_STIRRER_SETPOINT = 1500.0
"""Highest stirrer speed setpoint (rpm) the unit accepts; higher ones are ignored."""

# Command → the World attribute it sets, and the value (switches) or the highest value
# accepted (setpoints).
_SWITCHES: dict[str, tuple[str, bool]] = {
    "START_1": ("heating", True),
    "STOP_1": ("heating", False),
    "START_4": ("stirring", True),
    "STOP_4": ("stirring", False),
}
_SETPOINTS: dict[str, tuple[str, float]] = {
    "OUT_SP_1": ("temperature_setpoint", MAX_TEMPERATURE_SETPOINT),
    "OUT_SP_4": ("stirrer_setpoint", MAX_STIRRER_SETPOINT),
}


class NamurHotplate(PtyDevice):
    """An IKA RCT digital on a pty, heating and stirring the shared :class:`World`."""

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
        self._queries: dict[str, Callable[[], str]] = {
            "IN_NAME": lambda: NAME,
            "IN_PV_1": lambda: f"{world.plate_temperature:.1f} 1",
            "IN_SP_1": lambda: f"{world.temperature_setpoint:.1f} 1",
            "IN_PV_4": lambda: f"{world.stirrer_speed:.1f} 4",
            "IN_SP_4": lambda: f"{world.stirrer_setpoint:.1f} 4",
        }

    def handle(self, line: str) -> str | None:
        """Execute one NAMUR command; only queries (``IN_…``) are answered."""
        command, *arguments = line.split()
        if command in self._queries and not arguments:
            return self._queries[command]()
        if command == "RESET" and not arguments:
            self.world.switch_off_hotplate()
        elif command in _SWITCHES and not arguments:
            attribute, on = _SWITCHES[command]
            setattr(self.world, attribute, on)
        elif command in _SETPOINTS and len(arguments) == 1:
            attribute, maximum = _SETPOINTS[command]
            value = _parse_value(arguments[0])
            if value is not None and 0.0 <= value <= maximum:
                setattr(self.world, attribute, value)
        return None

    def error_reply(self, line: str) -> str | None:
        """The rejected command is not executed; the unit answers :data:`ERROR_REPLY`."""
        return ERROR_REPLY


def _parse_value(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
