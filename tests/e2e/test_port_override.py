"""``tansaku run --port DEVICE=PORT``: ports are overridable without copying the campaign,
recorded per session, and a resume on another port needs saying so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tansaku.simulators.instruments.lab import VirtualLab
from tests.conftest import REPO, tansaku
from tests.e2e.test_cli import ledger_rows

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[VirtualLab]:
    with VirtualLab(tmp_path / "lab", seed=3) as virtual_lab:
        yield virtual_lab


def shipped_campaign(folder: Path, budget: int) -> Path:
    """The film-anneal example as shipped: its ports are /dev/ttyUSB0 and /dev/ttyUSB1."""
    text = (REPO / "campaigns" / "film-anneal-serial.yaml").read_text()
    text = text.replace("protocols/", f"{REPO / 'campaigns' / 'protocols'}/").replace(
        "{experiments: 12}", f"{{experiments: {budget}}}"
    )
    path = folder / "film.yaml"
    path.write_text(text)
    return path


def test_ports_are_given_on_the_command_line_and_a_moved_port_needs_saying_so(
    tmp_path: Path, lab: VirtualLab, monkeypatch
) -> None:
    hotplate, smu = f"hotplate={lab.folder / 'hotplate'}", f"smu={lab.folder / 'smu'}"
    campaign = shipped_campaign(tmp_path, budget=1)
    first = tansaku("run", campaign, "--run-dir", "run", "--port", hotplate, "--port", smu,
                    cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    run_dir = tmp_path / "run"
    assert ledger_rows(run_dir, "SELECT device, port, overridden FROM session_ports") == [
        ("hotplate", str(lab.folder / "hotplate"), 1),
        ("smu", str(lab.folder / "smu"), 1),
    ]

    # Resuming without --port would open the campaign file's /dev/ttyUSB0: refused.
    campaign = shipped_campaign(tmp_path, budget=2)
    moved = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert moved.returncode == 2, moved.stdout + moved.stderr
    assert "Traceback" not in moved.stderr
    message = " ".join(moved.stderr.split())
    assert f"hotplate ran on {lab.folder / 'hotplate'}, the campaign now says /dev/ttyUSB0" in (
        message
    )
    assert "--port hotplate=/dev/ttyUSB0" in message and "nothing was run" in message
    assert ledger_rows(run_dir, "SELECT count(*) FROM sessions") == [(1,)]

    # The environment variable carries the same overrides; the resume goes on.
    monkeypatch.setenv("TANSAKU_PORT", f"{hotplate} {smu}")
    resumed = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert ledger_rows(run_dir, "SELECT count(*) FROM results") == [(2,)]
    assert ledger_rows(run_dir, "SELECT count(*) FROM session_ports") == [(4,)]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("oven=/dev/ttyUSB3", "the campaign has no serial device 'oven'"),
        ("hotplate", "write it as DEVICE=PORT"),
    ],
)
def test_a_port_for_no_device_or_without_a_device_is_refused(
    tmp_path: Path, given: str, expected: str
) -> None:
    campaign = shipped_campaign(tmp_path, budget=1)
    result = tansaku("run", campaign, "--run-dir", "run", "--port", given, cwd=tmp_path)
    assert result.returncode == 2
    assert expected in " ".join(result.stderr.split()) and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_driver_without_ports_refuses_a_port(tmp_path: Path) -> None:
    result = tansaku(
        "run", REPO / "campaigns" / "branin.yaml", "--dry-run", "--port", "x=/dev/null",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "a simulated driver has no devices on ports" in " ".join(result.stderr.split())
