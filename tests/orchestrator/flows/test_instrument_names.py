"""Which instrument a campaign holds slots of: its name, each driver's default, checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tansaku.campaign.fingerprint import fingerprint
from tansaku.campaign.loading import CampaignError, parse_campaign
from tansaku.drivers.base import MAX_INSTRUMENT_NAME, instrument_name_from
from tansaku.drivers.file_drop.config import FileDropConfig
from tansaku.drivers.serial.driver import SerialDriverConfig
from tests.conftest import REPO

SIMULATED = """\
name: demo
budget: {experiments: 4}
space:
  - {name: x1, type: continuous, bounds: [-5, 10]}
  - {name: x2, type: continuous, bounds: [0, 15]}
objectives:
  - {name: y, goal: minimize}
driver:
  type: simulated
  simulator: {type: benchmark, function: branin}
"""


def with_instrument(name: str) -> str:
    return SIMULATED.replace("  type: simulated\n", f"  type: simulated\n  instrument: {name}\n")


def problems_of(text: str) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        parse_campaign(text, Path("c.yaml"))
    return [str(problem) for problem in caught.value.problems]


def test_a_simulator_holds_no_instrument_unless_named() -> None:
    driver = parse_campaign(SIMULATED, Path("c.yaml")).campaign.driver
    assert driver.instrument_name(Path(".")) is None
    named = parse_campaign(with_instrument("hotplate-1"), Path("c.yaml")).campaign.driver
    assert named.instrument_name(Path(".")) == "hotplate-1"


def test_naming_the_instrument_leaves_the_campaign_the_same() -> None:
    plain = parse_campaign(SIMULATED, Path("c.yaml"))
    named = parse_campaign(with_instrument("hotplate-1"), Path("c.yaml"))
    other = parse_campaign(with_instrument("hotplate-2"), Path("c.yaml"))
    assert fingerprint(plain) == fingerprint(named) == fingerprint(other)


@pytest.mark.parametrize("name", ["hot plate", "plate/1", "-plate", "tag:x", "a" * 101, "ü"])
def test_a_name_prefect_could_not_take_is_refused_with_its_line(name: str) -> None:
    (problem,) = problems_of(with_instrument(repr(name)))
    assert problem.startswith("c.yaml:10:3: driver.instrument: ")
    assert "Letters, digits" in problem or "at most 100 characters" in problem


def test_a_person_measuring_holds_no_instrument() -> None:
    text = SIMULATED.replace(
        "  type: simulated\n  simulator: {type: benchmark, function: branin}\n",
        "  type: manual\n  instrument: hotplate-1\n",
    )
    (problem,) = problems_of(text)
    assert problem.startswith("c.yaml:10:3: driver.instrument: a person measures by hand")
    manual = parse_campaign(text.replace("  instrument: hotplate-1\n", ""), Path("c.yaml"))
    assert manual.campaign.driver.instrument_name(Path(".")) is None


def serial(*ports: str, instrument: str | None = None) -> SerialDriverConfig:
    devices = {f"d{i}": {"port": port, "protocol": Path("p.yaml")} for i, port in enumerate(ports)}
    return SerialDriverConfig(type="serial", devices=devices, instrument=instrument)


def test_a_serial_instrument_is_named_after_its_ports(tmp_path: Path) -> None:
    assert serial("/dev/ttyUSB0").instrument_name(tmp_path) == "dev-ttyUSB0"
    assert serial("socket://10.0.0.5:4001").instrument_name(tmp_path) == "socket-10.0.0.5-4001"
    # A link names the device it points at, so two names for one port share its slot.
    (tmp_path / "by-id").symlink_to("/dev/ttyUSB0")
    assert serial(str(tmp_path / "by-id")).instrument_name(tmp_path) == "dev-ttyUSB0"
    both = serial("/dev/ttyUSB1", "/dev/ttyACM0").instrument_name(tmp_path)
    assert both == "dev-ttyACM0_-dev-ttyUSB1"
    # Each loop:// connection is its own: nothing to share.
    assert serial("loop://").instrument_name(tmp_path) is None
    assert serial("loop://", instrument="bench").instrument_name(tmp_path) == "bench"
    # --port moves the device, and the default name with it.
    moved = serial("/dev/ttyUSB0").with_ports({"d0": "/dev/ttyUSB3"})
    assert moved.instrument_name(tmp_path) == "dev-ttyUSB3"


def test_a_drop_folder_instrument_is_named_after_its_outbox(tmp_path: Path) -> None:
    config = FileDropConfig(
        type="file_drop", outbox="drop/requests", inbox="drop/results", time_limit="1h"
    )
    expected = instrument_name_from(str((tmp_path / "drop" / "requests").resolve()))
    assert config.instrument_name(tmp_path) == expected
    assert expected.endswith("drop-requests") and "/" not in expected


def test_a_long_derived_name_stays_valid_and_distinct() -> None:
    first = instrument_name_from("/srv/" + "x" * 200 + "/a")
    second = instrument_name_from("/srv/" + "x" * 200 + "/b")
    assert len(first) == len(second) == MAX_INSTRUMENT_NAME
    assert first != second


def test_the_lease_comes_from_the_environment_within_what_prefect_grants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tansaku.flows.instruments import (
        DEFAULT_LEASE_SECONDS,
        LEASE_VARIABLE,
        LeaseSettingError,
        lease_seconds,
    )

    monkeypatch.delenv(LEASE_VARIABLE, raising=False)
    assert lease_seconds() == DEFAULT_LEASE_SECONDS
    monkeypatch.setenv(LEASE_VARIABLE, "75")
    assert lease_seconds() == 75
    for bad in ("30", "soon", "nan", "1e9"):
        monkeypatch.setenv(LEASE_VARIABLE, bad)
        with pytest.raises(LeaseSettingError, match="from 60"):
            lease_seconds()


def test_checking_an_instrument_name_imports_neither_prefect_nor_torch() -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from tansaku.campaign.loading import parse_campaign\n"
        f"parse_campaign({with_instrument('hotplate-1')!r}, Path('c.yaml'))\n"
        "print(sorted(m for m in ('prefect', 'torch') if m in sys.modules))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=os.environ
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "[]"
