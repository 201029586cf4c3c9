"""Campaigns that share an instrument take turns on it (a Prefect concurrency limit).

Real ``tansaku run`` processes on simulated instruments whose experiments take real
seconds (a simulator function that sleeps): a simulated experiment otherwise takes no
wall-clock time at all, and the ledger's running → done times, which these tests
compare, are wall-clock.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import textwrap
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import TANSAKU, tansaku, write_campaign

pytestmark = pytest.mark.usefixtures("prefect_server")

SLOW_SIMULATOR = """
import math
import os
import time


def branin(point):
    # Branin, after SLOW_SECONDS of real time on the instrument.
    time.sleep(float(os.environ["SLOW_SECONDS"]))
    x1, x2 = point["x1"], point["x2"]
    return (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (
        1 - 1 / (8 * math.pi)
    ) * math.cos(x1) + 10
"""

CAMPAIGN = """
    name: {name}
    budget: {{experiments: {budget}}}
    space:
      - {{name: x1, type: continuous, bounds: [-5, 10]}}
      - {{name: x2, type: continuous, bounds: [0, 15]}}
    objectives:
      - {{name: y, goal: minimize}}
    proposer:
      initial: {{n: {budget}}}
    driver:
      type: simulated
      instrument: {instrument}
      simulator: {{type: function, function: "slow_simulator:branin"}}
"""


def campaign(folder: Path, name: str, instrument: str) -> Path:
    """A campaign of four Sobol experiments (no model fit) on ``instrument``."""
    (folder / "slow_simulator.py").write_text(SLOW_SIMULATOR)
    text = CAMPAIGN.format(name=name, budget=4, instrument=instrument)
    return write_campaign(folder, text, name=f"{name}.yaml")


def start(
    folder: Path, campaign_file: Path, seconds: float = 1.0, lease_seconds: int | None = None
) -> subprocess.Popen:
    """``tansaku run`` in the background, each experiment ``seconds`` long, its simulator
    importable from ``folder``."""
    env = {**os.environ, "PYTHONPATH": str(folder), "SLOW_SECONDS": str(seconds)}
    if lease_seconds is not None:
        env["TANSAKU_INSTRUMENT_LEASE_SECONDS"] = str(lease_seconds)
    return subprocess.Popen(
        [str(TANSAKU), "run", str(campaign_file), "--run-dir", f"runs/{campaign_file.stem}"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 120) -> None:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr


def intervals(run_dir: Path) -> list[tuple[datetime, datetime]]:
    """Each experiment's wall-clock time on the instrument: from ``running`` (the
    slot already held) to its result (the slot still held)."""
    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT experiment_id, status, at FROM transitions "
            "WHERE status IN ('running', 'done', 'failed') ORDER BY id"
        ).fetchall()
    started: dict[int, datetime] = {}
    spans = []
    for experiment_id, status, at in rows:
        moment = datetime.fromisoformat(at)
        if status == "running":
            started.setdefault(experiment_id, moment)
        else:
            spans.append((started.pop(experiment_id), moment))
    return spans


def first_proposal(run_dir: Path) -> datetime:
    """When the campaign's first experiment was proposed: ready for the instrument."""
    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        (at,) = db.execute("SELECT min(at) FROM transitions WHERE status = 'proposed'").fetchone()
    return datetime.fromisoformat(at)


def results(run_dir: Path) -> int:
    if not (run_dir / "ledger.sqlite").exists():
        return 0
    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE name = 'results'").fetchall()
        return db.execute("SELECT count(*) FROM results").fetchone()[0] if tables else 0


def status_text(folder: Path, run_dir: Path) -> str:
    if not (run_dir / "ledger.sqlite").exists():
        return ""
    return tansaku("status", run_dir, cwd=folder).stdout


def wait_for_status(folder: Path, run_dir: Path, text: str, within: float) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        shown = status_text(folder, run_dir)
        if text in " ".join(shown.split()):
            return shown
        time.sleep(0.5)
    raise AssertionError(f"status never showed {text!r}; last:\n{shown}")


def test_two_campaigns_on_one_instrument_never_measure_at_the_same_moment(
    tmp_path: Path,
) -> None:
    # The second starts once the first measures, with 24 s or more of measuring ahead of
    # the first: even a start-up slowed by a loaded machine (15 s seen) meets it.
    first = start(tmp_path, campaign(tmp_path, "first", "shared-plate"), seconds=8)
    wait_for_status(tmp_path, tmp_path / "runs/first", "running 1", 60)
    second = start(tmp_path, campaign(tmp_path, "second", "shared-plate"), seconds=3)
    finish(first)
    finish(second)
    a, b = intervals(tmp_path / "runs/first"), intervals(tmp_path / "runs/second")
    assert len(a) == len(b) == 4
    # They contended: the second had an experiment ready for the instrument while the
    # first still measured (whether it got the slot in one of the first's short gaps
    # between experiments, or only after the first's last, depends on timing) ...
    assert first_proposal(tmp_path / "runs/second") < a[-1][1]
    # ... yet no experiment of one overlaps any experiment of the other.
    overlapping = [(x, y) for x in a for y in b if x[0] < y[1] and y[0] < x[1]]
    assert overlapping == []
    logs = (tmp_path / "runs/first/tansaku.log").read_text()
    logs += (tmp_path / "runs/second/tansaku.log").read_text()
    assert "waiting for instrument shared-plate, held by another campaign" in logs


def test_a_held_instrument_shows_as_waiting_and_another_instrument_goes_on(
    tmp_path: Path, prefect_server: str
) -> None:
    # The test holds the only slot of `busy-plate` itself, as another campaign would.
    httpx.post(
        f"{prefect_server}/v2/concurrency_limits/",
        json={"name": "instrument-busy-plate", "limit": 1},
    ).raise_for_status()
    lease = httpx.post(
        f"{prefect_server}/v2/concurrency_limits/increment-with-lease",
        json={"names": ["instrument-busy-plate"], "slots": 1, "lease_duration": 300},
    )
    lease.raise_for_status()
    waiting = start(tmp_path, campaign(tmp_path, "waiting", "busy-plate"))
    other = start(tmp_path, campaign(tmp_path, "other", "free-plate"))
    try:
        shown = wait_for_status(
            tmp_path, tmp_path / "runs/waiting", "waiting for instrument busy-plate since", 60
        )
        assert "running now" in shown and "running 0" in shown
        finish(other)  # all four experiments while the other campaign still waits
        assert results(tmp_path / "runs/other") == 4
        assert results(tmp_path / "runs/waiting") == 0
        assert "waiting for instrument busy-plate" in " ".join(
            status_text(tmp_path, tmp_path / "runs/waiting").split()
        )
    finally:
        httpx.post(
            f"{prefect_server}/v2/concurrency_limits/decrement-with-lease",
            json={"lease_id": lease.json()["lease_id"]},
        ).raise_for_status()
    finish(waiting)
    assert results(tmp_path / "runs/waiting") == 4
    assert "waiting for instrument" not in status_text(tmp_path, tmp_path / "runs/waiting")

    # The Prefect UI shows the wait in the flow run's logs.
    (flow_run_id,) = (
        sqlite3.connect(tmp_path / "runs/waiting/ledger.sqlite")
        .execute("SELECT flow_run_id FROM sessions")
        .fetchone()
    )
    logs = httpx.post(
        f"{prefect_server}/logs/filter",
        json={"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200},
    ).json()
    messages = [log["message"] for log in logs]
    assert any(
        m.startswith("waiting for instrument busy-plate, held by another campaign")
        for m in messages
    ), messages


@pytest.mark.timeout(240)
def test_a_killed_holder_gives_the_instrument_back_after_its_lease(tmp_path: Path) -> None:
    # Prefect grants no lease shorter than 60 s; its server looks for expired ones every
    # 15 s, so the slot comes back 60 to 75 s after the holder's last renewal.
    holder = start(tmp_path, campaign(tmp_path, "holder", "lab-plate"), 60, lease_seconds=60)
    waiter = None
    try:
        wait_for_status(tmp_path, tmp_path / "runs/holder", "running 1", 60)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed_at = time.monotonic()
        waiter = start(tmp_path, campaign(tmp_path, "waiter", "lab-plate"))
        wait_for_status(
            tmp_path, tmp_path / "runs/waiter", "waiting for instrument lab-plate since", 60
        )
        finish(waiter, timeout=150)
    finally:
        for process in (holder, waiter):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    waited = time.monotonic() - killed_at
    assert results(tmp_path / "runs/waiter") == 4
    assert waited > 30, "the dead holder's slot came back before its lease ran out"


def test_a_campaign_run_again_after_its_process_died_takes_its_own_slot_back_at_once(
    tmp_path: Path,
) -> None:
    campaign_file = campaign(tmp_path, "again", "own-plate")
    first = start(tmp_path, campaign_file, seconds=60)
    try:
        wait_for_status(tmp_path, tmp_path / "runs/again", "running 1", 60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (tmp_path / "runs/again/instrument-leases.json").exists()
    # The rerun, on a quicker instrument, measures at once.
    started = time.monotonic()
    finish(start(tmp_path, campaign_file), timeout=60)
    assert time.monotonic() - started < 40, "the rerun waited out its own dead lease"
    assert results(tmp_path / "runs/again") == 4
    assert not (tmp_path / "runs/again/instrument-leases.json").exists()
    assert "gave back 1 instrument slot" in (tmp_path / "runs/again/tansaku.log").read_text()


def test_a_dry_run_holds_no_slot(tmp_path: Path, prefect_server: str) -> None:
    text = textwrap.dedent(CAMPAIGN).format(
        name="rehearsal", budget=2, instrument="rehearsal-plate"
    )
    (tmp_path / "slow_simulator.py").write_text(SLOW_SIMULATOR)
    campaign_file = write_campaign(tmp_path, text, name="rehearsal.yaml")
    process = subprocess.run(
        [str(TANSAKU), "run", str(campaign_file), "--dry-run", "--run-dir", "runs/rehearsal"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path), "SLOW_SECONDS": "0.1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    found = httpx.get(f"{prefect_server}/v2/concurrency_limits/instrument-rehearsal-plate")
    assert found.status_code == 404
