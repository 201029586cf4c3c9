"""Serial campaigns through real pseudo-terminals against the virtual lab instruments.

The virtual hotplate (IKA NAMUR, 7E1) and source meter (SCPI) run in this process; the
``tansaku run`` subprocess opens their ports exactly as it would open /dev/ttyUSB0.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tansaku.simulators.instruments.lab import VirtualLab
from tansaku.simulators.instruments.pty_device import Faults
from tests.conftest import REPO, TANSAKU, tansaku
from tests.e2e.test_cli import ledger_rows

pytestmark = pytest.mark.usefixtures("prefect_server")

PROTOCOLS = REPO / "campaigns" / "protocols"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[VirtualLab]:
    with VirtualLab(tmp_path / "lab", seed=3) as virtual_lab:
        yield virtual_lab


def serial_campaign(
    folder: Path, lab: VirtualLab, budget: int = 4, temperature: tuple[int, int] = (60, 250)
) -> Path:
    """The shipped film-anneal example with its ports pointed at the virtual lab."""
    text = (REPO / "campaigns" / "film-anneal-serial.yaml").read_text()
    text = (
        text.replace("/dev/ttyUSB0", str(lab.folder / "hotplate"))
        .replace("/dev/ttyUSB1", str(lab.folder / "smu"))
        .replace("protocols/", f"{PROTOCOLS}/")
        .replace("{experiments: 12}", f"{{experiments: {budget}}}")
        .replace("bounds: [60, 250]", f"bounds: [{temperature[0]}, {temperature[1]}]")
    )
    path = folder / "film.yaml"
    path.write_text(text)
    return path


def stopped(received: list[str]) -> bool:
    """The hotplate's last commands were its safe state: heater and stirrer off."""
    return received[-2:] == ["STOP_1", "STOP_4"]


def sent(transcript: Path) -> list[str]:
    return [
        line.split(" > ", 1)[1] for line in transcript.read_text().splitlines() if " > " in line
    ]


def test_a_campaign_runs_on_two_serial_devices(tmp_path: Path, lab: VirtualLab) -> None:
    campaign = serial_campaign(tmp_path, lab)
    result = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4/4" in result.stdout

    rows = ledger_rows(
        tmp_path / "run",
        "SELECT e.parameters, r.objective FROM experiments e "
        "JOIN results r ON r.experiment_id = e.id",
    )
    assert len(rows) == 4 and all(value is not None and value > 0 for _, value in rows)
    first = sent(tmp_path / "run" / "transcripts" / "film-anneal-0001.log")
    assert first[0].startswith("OUT_SP_1 ") and first[1].startswith("OUT_SP_4 ")
    assert ":READ?" in first and "IN_PV_1" in first
    session = sent(tmp_path / "run" / "transcripts" / "session.log")
    assert session[:2] == ["IN_NAME", "*RST"]
    assert session[-3:] == ["STOP_1", "STOP_4", ":OUTP OFF"]  # safe state at the end
    assert lab.hotplate.wait_received(stopped, timeout=5)
    assert not lab.world.heating


def test_a_space_beyond_the_hard_limits_is_refused_before_anything_is_sent(
    tmp_path: Path, lab: VirtualLab
) -> None:
    # The space allows up to 350 degC; the hotplate protocol's hard limit is 300 degC.
    campaign = serial_campaign(tmp_path, lab, budget=2, temperature=(60, 350))
    for command in (["validate", campaign], ["run", campaign, "--run-dir", "run"]):
        result = tansaku(*command, cwd=tmp_path)
        assert result.returncode == 2, result.stdout
        assert (
            f"{PROTOCOLS}/ika-namur-hotplate.yaml:16:57: parameters.anneal_temp_c.limits: the "
            "campaign's space[0].bounds allows values up to 350, beyond these hard limits "
            "[20, 300]; keep space[0].bounds within them"
        ) in result.stderr
    assert lab.hotplate.received == []
    assert not (tmp_path / "run" / "ledger.sqlite").exists()


def test_faulty_lines_are_asked_again_retried_and_reconnected(
    tmp_path: Path, lab: VirtualLab
) -> None:
    faults = Faults(
        drop_rate=0.05, garble_rate=0.05, error_rate=0.03, vanish_after=40, vanish_downtime=0.3
    )
    lab.hotplate.faults = faults
    lab.smu.faults = faults
    campaign = serial_campaign(tmp_path, lab, budget=6)
    result = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ledger_rows(tmp_path / "run", "SELECT count(*) FROM results") == [(6,)]
    transcripts = "".join(p.read_text() for p in (tmp_path / "run" / "transcripts").iterdir())
    assert "asking again" in transcripts  # a dropped or garbled reply was asked again
    assert transcripts.count("! opening") > 2  # a vanished port was reopened
    done = ledger_rows(tmp_path / "run", "SELECT count(*) FROM results WHERE ok")[0][0]
    assert done >= 3
    for (failure,) in ledger_rows(tmp_path / "run", "SELECT failure FROM results WHERE NOT ok"):
        assert failure.startswith(("InstrumentError: ", "ReplyError: ")), failure
        assert "(transcript: " in failure and "/transcripts/film-anneal-" in failure
    assert lab.hotplate.wait_received(stopped, timeout=5)


@pytest.mark.parametrize(
    ("faults", "symptom"),
    [
        (Faults(drop_rate=0.15), "! timeout"),
        (Faults(garble_rate=0.15), "! undecodable reply"),
        (Faults(error_rate=0.1), "device error reply 'E 1'"),
        (Faults(vanish_after=25, vanish_downtime=0.2), "! opening"),
    ],
    ids=["read-timeout", "garbled", "device-error", "port-vanishes"],
)
def test_each_fault_is_survived(
    tmp_path: Path, lab: VirtualLab, faults: Faults, symptom: str
) -> None:
    lab.hotplate.faults = faults
    campaign = serial_campaign(tmp_path, lab, budget=3)
    result = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ledger_rows(tmp_path / "run", "SELECT count(*) FROM results") == [(3,)]
    transcripts = [
        p.read_text()
        for p in sorted((tmp_path / "run" / "transcripts").iterdir())
        if p.name != "session.log"
    ]
    assert any(symptom in text for text in transcripts), symptom
    assert lab.hotplate.wait_received(stopped, timeout=5)


def test_sigterm_during_an_experiment_leaves_the_instruments_safe(tmp_path: Path) -> None:
    # A slow plate (time constant 20 s) keeps the first experiment waiting for the setpoint.
    with VirtualLab(tmp_path / "lab", seed=1, tau=20.0) as lab:
        campaign = serial_campaign(tmp_path, lab)
        process = subprocess.Popen(
            [str(TANSAKU), "run", str(campaign), "--run-dir", "run"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not lab.world.heating and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lab.world.heating, "the first experiment never switched the heater on"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stderr
        assert not lab.world.heating
        received = lab.hotplate.received
        assert received.index("STOP_1") > received.index("START_1")
        assert lab.smu.received[-1] == ":OUTP OFF"
