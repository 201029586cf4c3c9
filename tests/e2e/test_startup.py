"""The first `tansaku run` on a machine starts the background Prefect server, and gets on
with the campaign while that server comes up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import TANSAKU, small_branin

STATE = "tansaku-server.json"


def tansaku_in(home: Path, *args: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``tansaku`` with Prefect's home at ``home``, where no server runs yet."""
    return subprocess.run(
        [str(TANSAKU), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={
            **os.environ,
            "PREFECT_HOME": str(home),
            # Not Prefect's default port, which another test may be starting a server on.
            "PREFECT_SERVER_API_PORT": str(free_port()),
            "COLUMNS": "200",
            **env,
        },
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A Prefect home of its own; whatever server a test leaves there is stopped."""
    folder = tmp_path / "prefect"
    yield folder
    state = folder / STATE
    if state.exists():
        pid = json.loads(state.read_text())["pid"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)


def session_started(run_dir: Path) -> datetime:
    with sqlite3.connect(run_dir / "ledger.sqlite") as ledger:
        (started,) = ledger.execute("SELECT started_at FROM sessions ORDER BY id").fetchone()
    return datetime.fromisoformat(started).replace(tzinfo=UTC)


def test_the_first_run_starts_the_server_meanwhile_and_the_next_run_reuses_it(
    tmp_path: Path, home: Path
) -> None:
    campaign = small_branin(tmp_path, name="first", budget=3)
    first = tansaku_in(home, "run", campaign, "--dry-run", "--run-dir", "runs/a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    state = json.loads((home / STATE).read_text())
    assert httpx.get(f"{state['url']}/api/health", timeout=5).status_code == 200
    assert f"Prefect UI: {state['url']}" in first.stdout
    # The run opened its ledger and started its session (imports, simulator and all)
    # before the new server answered, which is when its state file was written.
    written = datetime.fromtimestamp((home / STATE).stat().st_mtime, UTC)
    assert session_started(tmp_path / "runs" / "a") < written

    second = tansaku_in(home, "run", campaign, "--dry-run", "--run-dir", "runs/b", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert json.loads((home / STATE).read_text())["pid"] == state["pid"]
    assert session_started(tmp_path / "runs" / "b") > written


def test_a_server_that_cannot_start_is_named_with_its_log_and_the_run_resumes_later(
    tmp_path: Path, home: Path
) -> None:
    campaign = small_branin(tmp_path, name="nowhere", budget=3)
    # Prefect's server dies starting on a database file that is not one.
    home.mkdir()
    (home / "prefect.db").write_bytes(b"not a database" * 100)
    failed = tansaku_in(home, "run", campaign, "--dry-run", "--run-dir", "runs/r", cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert "the background Prefect server did not start; see " in failed.stderr
    assert str(home / "tansaku-server.log") in " ".join(failed.stderr.split())
    assert "Traceback" not in failed.stderr
    assert not (home / STATE).exists()
    with sqlite3.connect(tmp_path / "runs" / "r" / "ledger.sqlite") as ledger:
        assert ledger.execute("SELECT count(*) FROM results").fetchone() == (0,)
        assert ledger.execute("SELECT outcome FROM sessions").fetchall() == [("failed",)]

    (home / "prefect.db").unlink()
    again = tansaku_in(home, "run", campaign, "--dry-run", "--run-dir", "runs/r", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "budget reached: 3 of 3 experiments" in " ".join(again.stdout.split())
