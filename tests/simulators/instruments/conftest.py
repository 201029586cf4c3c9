"""A virtual lab per test, and clients on its two devices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from tansaku.simulators.instruments import VirtualLab
from tests.simulators.instruments.serial_clients import NAMUR_LINE, SCPI_LINE, open_port


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[VirtualLab]:
    with VirtualLab(tmp_path / "lab", seed=0) as lab:
        yield lab


@pytest.fixture
def hotplate(lab: VirtualLab) -> Iterator[serial.SerialBase]:
    """A 9600 7E1 client on the hotplate's link."""
    client = open_port(lab.hotplate.link_path, NAMUR_LINE)
    yield client
    client.close()


@pytest.fixture
def smu(lab: VirtualLab) -> Iterator[serial.SerialBase]:
    """A 9600 8N1 client on the source meter's link."""
    client = open_port(lab.smu.link_path, SCPI_LINE)
    yield client
    client.close()
