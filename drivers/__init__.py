"""Instrument drivers: the protocol, the registry and the built-in drivers."""

from tansaku.drivers.base import (
    CampaignContext,
    Driver,
    DriverConfig,
    Experiment,
    InstrumentError,
    Measurement,
    ParameterValue,
)
from tansaku.drivers.registry import UnknownDriverError, driver_types, load_driver

__all__ = [
    "CampaignContext",
    "Driver",
    "DriverConfig",
    "Experiment",
    "InstrumentError",
    "Measurement",
    "ParameterValue",
    "UnknownDriverError",
    "driver_types",
    "load_driver",
]
