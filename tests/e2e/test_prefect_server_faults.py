"""A Prefect server that dies during a run: the campaign finishes from the ledger, the
session records its real outcome, and the process exits instead of retrying for hours."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import TANSAKU, small_branin, tansaku
from tests.e2e.test_cli import ledger_rows


def wait_for_results(run_dir: Path, process: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before the server was stopped"
        if (run_dir / "ledger.sqlite").exists():
            tables = ledger_rows(run_dir, "SELECT name FROM sqlite_master WHERE name='results'")
            if tables and ledger_rows(run_dir, "SELECT count(*) FROM results")[0][0] >= at_least:
                return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} results after 120 s")


def test_a_run_whose_prefect_server_dies_finishes_and_exits(tmp_path: Path, monkeypatch) -> None:
    # A server of its own: the suite's shared one must survive this test.
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    started = tansaku("server", "start", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    server = json.loads((tmp_path / "prefect" / "tansaku-server.json").read_text())

    campaign = small_branin(tmp_path, name="orphan", budget=12)
    run_dir = tmp_path / "runs" / "orphan"
    process = subprocess.Popen(
        [str(TANSAKU), "run", str(campaign), "--dry-run", "--run-dir", str(run_dir)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        wait_for_results(run_dir, process, at_least=3)
        os.kill(server["pid"], signal.SIGKILL)
        # A hang guard, not a timing claim: Prefect alone would retry for hours.
        stdout, stderr = process.communicate(timeout=180)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "budget reached: 12 of 12 experiments" in stdout
    for noise in ("Traceback", "Error logging to API", "ConnectError"):
        assert noise not in stdout + stderr, noise
    assert ledger_rows(run_dir, "SELECT count(DISTINCT experiment_id) FROM results") == [(12,)]
    assert ledger_rows(run_dir, "SELECT outcome FROM sessions") == [("finished",)]
    log = (run_dir / "tansaku.log").read_text()
    assert "the Prefect server stopped answering" in log
