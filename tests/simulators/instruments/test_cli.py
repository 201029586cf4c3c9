"""``python -m tansaku.simulators.instruments`` as a user runs it: a process serving two links."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.simulators.instruments.serial_clients import NAMUR_LINE, SCPI_LINE, ask, open_port

ANNOUNCEMENT = re.compile(r"^(?P<name>\w+): (?P<link>\S+) -> (?P<pty>/dev/pts/\d+)$")


def start_lab(folder: Path, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tansaku.simulators.instruments", "--folder", str(folder), *options],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )


def read_announcements(lab: subprocess.Popen[bytes]) -> dict[str, tuple[str, str]]:
    """Device name -> (link, pty), from the two lines the lab prints once it is up."""
    output = b""
    while output.count(b"\n") < 2:
        # Unbuffered reads under select, so a silent lab fails the test instead of hanging it.
        ready, _, _ = select.select([lab.stdout], [], [], 10.0)
        assert ready, f"the lab printed only {output!r} within 10 s"
        chunk = lab.stdout.read(4096)
        assert chunk, f"the lab exited after printing {output!r}"
        output += chunk
    announced = {}
    for line in output.decode().splitlines():
        match = ANNOUNCEMENT.match(line)
        assert match, line
        announced[match["name"]] = (match["link"], match["pty"])
    return announced


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_the_lab_serves_both_devices_until_signalled(tmp_path: Path, stop: signal.Signals) -> None:
    folder = tmp_path / "lab"
    lab = start_lab(folder, "--seed", "3", "--noise-sd", "0.01")
    try:
        announced = read_announcements(lab)
        assert announced["hotplate"][0] == str(folder / "hotplate")
        assert announced["smu"][0] == str(folder / "smu")
        for link, pty in announced.values():
            assert os.readlink(link) == pty

        hotplate = open_port(folder / "hotplate", NAMUR_LINE, timeout=2.0)
        smu = open_port(folder / "smu", SCPI_LINE, timeout=2.0)
        try:
            assert ask(hotplate, "IN_NAME") == "RCT digital"
            assert ask(smu, "*IDN?", terminator="\n").startswith("KEITHLEY INSTRUMENTS INC.")
        finally:
            hotplate.close()
            smu.close()

        lab.send_signal(stop)
        assert lab.wait(timeout=10) == 0
        assert lab.stderr.read() == b""
        assert not os.path.lexists(folder / "hotplate")
        assert not os.path.lexists(folder / "smu")
    finally:
        lab.kill()
        lab.wait()


def test_fault_options_reach_the_devices(tmp_path: Path) -> None:
    lab = start_lab(tmp_path, "--error-rate", "1")
    try:
        read_announcements(lab)
        hotplate = open_port(tmp_path / "hotplate", NAMUR_LINE, timeout=2.0)
        try:
            assert ask(hotplate, "IN_NAME") == "E 1"
        finally:
            hotplate.close()
        lab.terminate()
        assert lab.wait(timeout=10) == 0
    finally:
        lab.kill()
        lab.wait()


def test_nonsense_options_are_refused(tmp_path: Path) -> None:
    arguments = ["--folder", str(tmp_path), "--drop-rate", "2"]
    refused = subprocess.run(
        [sys.executable, "-m", "tansaku.simulators.instruments", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2
    assert "drop_rate must be between 0 and 1" in refused.stderr
