"""Find drivers by the name a campaign gives them, through the ``tansaku.drivers`` entry points.

A lab ships its own driver as a separate package that declares, in its ``pyproject.toml``::

    [project.entry-points."tansaku.drivers"]
    my_robot = "my_lab.robot:RobotDriver"
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import cast

from tansaku.drivers.base import DriverFactory
from tansaku.errors import InputError

ENTRY_POINT_GROUP = "tansaku.drivers"


class UnknownDriverError(InputError):
    """A campaign names a driver type no installed package provides."""


def driver_types() -> list[str]:
    """Names of every installed driver, sorted."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def load_driver(type_name: str) -> DriverFactory:
    """The driver class registered as ``type_name``."""
    matches = entry_points(group=ENTRY_POINT_GROUP, name=type_name)
    if not matches:
        known = ", ".join(driver_types()) or "none"
        raise UnknownDriverError(f"unknown driver type {type_name!r}; installed drivers: {known}")
    (entry_point,) = tuple(matches)[:1]
    return cast(DriverFactory, entry_point.load())
