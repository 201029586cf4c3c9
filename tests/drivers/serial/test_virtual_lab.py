"""The serial driver on real ports: the virtual lab's pseudo-terminals, and ports that
cannot be opened at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tansaku.drivers.base import CampaignContext, Experiment, InstrumentError
from tansaku.drivers.serial.driver import SerialDriver, SerialDriverConfig
from tansaku.drivers.serial.link import PortUnavailableError
from tansaku.simulators.instruments.lab import VirtualLab
from tansaku.simulators.instruments.pty_device import Faults
from tests.conftest import REPO

PROTOCOLS = REPO / "campaigns" / "protocols"
HOTPLATE = PROTOCOLS / "ika-namur-hotplate.yaml"
SAFE = ["STOP_1", "STOP_4"]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[VirtualLab]:
    with VirtualLab(tmp_path / "lab", seed=2) as virtual_lab:
        yield virtual_lab


def film_driver(run_dir: Path, hotplate: str, smu: str) -> SerialDriver:
    """The shipped film-anneal devices, on the given ports."""
    config = SerialDriverConfig.model_validate(
        {
            "type": "serial",
            "devices": {
                "hotplate": {"port": hotplate, "protocol": str(HOTPLATE)},
                "smu": {"port": smu, "protocol": str(PROTOCOLS / "keithley-2400-smu.yaml")},
            },
        }
    )
    context = CampaignContext(
        name="film",
        parameters={"anneal_temp_c": "continuous", "stir_rpm": "integer"},
        objectives=("conductance_ms",),
        base_dir=run_dir,
        run_dir=run_dir,
    )
    return SerialDriver(config, context)


def test_after_a_port_vanished_the_safe_state_goes_out_before_the_setup(
    tmp_path: Path, lab: VirtualLab
) -> None:
    # Connect (IN_NAME), two setpoints, heater and stirrer on: five commands; the plate
    # vanishes at the sixth, the first temperature poll, with the heater on.
    lab.hotplate.faults = Faults(vanish_after=5, vanish_downtime=0.2)
    driver = film_driver(tmp_path, str(lab.folder / "hotplate"), str(lab.folder / "smu"))
    driver.connect()
    experiment = Experiment("film", 1, {"anneal_temp_c": 60.0, "stir_rpm": 300})
    with pytest.raises(InstrumentError):
        driver.run(experiment)
    transcript = (tmp_path / "transcripts" / "film-0001.log").read_text()
    assert "hotplate ! safe state not confirmed" in transcript
    assert lab.world.heating  # nobody could switch it off while the port was gone

    lab.hotplate.faults = Faults()
    assert lab.hotplate.wait_present(timeout=10)
    before = len(lab.hotplate.received)
    retry = driver.run(Experiment("film", 2, {"anneal_temp_c": 60.0, "stir_rpm": 300}))
    driver.close()
    assert retry.failure is None, retry.failure
    assert lab.hotplate.received[before : before + 4] == [
        "STOP_1",
        "STOP_4",
        "IN_NAME",
        "OUT_SP_1 60.0",
    ]
    assert (
        "the last safe state was not confirmed; sending it first"
        in (tmp_path / "transcripts" / "film-0002.log").read_text()
    )
    # Set commands get no reply: wait until the plate has read the safe state of close().
    assert lab.hotplate.wait_received(lambda received: received[-2:] == SAFE, timeout=5)
    assert not lab.world.heating


@pytest.mark.parametrize(
    ("port", "because"),
    [
        ("/dev/null", "because it is not a serial port; set driver.devices.hotplate.port"),
        (
            "{tmp}/ttyUSB0",
            "because it does not exist; plug the instrument in and switch it on, or set "
            "driver.devices.hotplate.port to the instrument's port (or give it for one run: "
            "--port hotplate=PORT)",
        ),
        ("{tmp}", "because it is a folder, not a serial port; set driver.devices.hotplate.port"),
    ],
    ids=["dev-null", "absent", "folder"],
)
def test_a_port_that_cannot_be_opened_is_one_clear_sentence(
    tmp_path: Path, lab: VirtualLab, port: str, because: str
) -> None:
    port = port.format(tmp=tmp_path)
    driver = film_driver(tmp_path, port, str(lab.folder / "smu"))
    with pytest.raises(PortUnavailableError) as caught:
        driver.connect()
    driver.close()
    assert isinstance(caught.value, InstrumentError)
    message = str(caught.value)
    assert message.startswith(f"hotplate: cannot open the serial port {port} {because}")
    assert "\n" not in message and "Errno" not in message and "ioctl" not in message
