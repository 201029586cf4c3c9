"""A virtual lab robot that answers a ``file_drop`` campaign's folders.

It stands in for the foreign software at the other end of the drop folders (a liquid
handler's scheduler, a LabVIEW program, NIMS-OS's robot side): it reads the requests
tansaku drops in the outbox, "runs" them on the campaign's dry-run simulator in wall-clock
time, several at once, and writes results to the inbox, sometimes badly on purpose so that
tansaku's handling of partial, duplicate, unknown, garbage, missing and late files can be
rehearsed. It shares no parsing code with tansaku, only the campaign's configuration.

Run it as ``python -m tansaku.simulators.robot CAMPAIGN.yaml`` or in-process with :class:`Robot`.
"""

from tansaku.simulators.robot.robot import Faults, Robot, RobotOptions

__all__ = ["Faults", "Robot", "RobotOptions"]
