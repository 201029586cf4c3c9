"""Virtual lab instruments that speak real serial protocols over pseudo-terminals.

A driver opens ``<folder>/hotplate`` or ``<folder>/smu`` with pyserial exactly as it
would open ``/dev/ttyUSB0``; behind the links an IKA NAMUR hotplate/stirrer and a
Keithley 2400-style SCPI source meter share one simulated film. Start them with
``python -m tansaku.simulators.instruments --folder DIR`` or, in tests, with :class:`VirtualLab`.
"""

from tansaku.simulators.instruments.lab import VirtualLab
from tansaku.simulators.instruments.namur import NamurHotplate
from tansaku.simulators.instruments.pty_device import Direction, Faults, HistoryEntry, PtyDevice
from tansaku.simulators.instruments.scpi import ScpiSourceMeter
from tansaku.simulators.instruments.world import World

__all__ = [
    "Direction",
    "Faults",
    "HistoryEntry",
    "NamurHotplate",
    "PtyDevice",
    "ScpiSourceMeter",
    "VirtualLab",
    "World",
]
