"""The ledger keeps every proposal and result, once, through crashes: on SQLite in the run
directory and on a shared PostgreSQL database alike (each test of both runs on both)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tansaku.ledger import (
    Ledger,
    LedgerMismatchError,
    RunDirectoryBusyError,
    RunDirectoryLock,
    is_held,
)

CLOCK = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """``None`` for the SQLite ledger in the run directory, else a fresh database's URL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_database")


def new_ledger(
    run_dir: Path, fingerprint: str = "f1", mode: str = "dry-run", url: str | None = None
) -> Ledger:
    """The ledger of ``run_dir`` holding campaign ``c``; ``url`` points a new run
    directory at a shared ledger (a resume finds it through the directory)."""
    ledger = Ledger.open(run_dir, url=url)
    ledger.start_campaign(
        name="c",
        fingerprint=fingerprint,
        mode=mode,
        source_path="c.yaml",
        source_text="name: c\n",
        snapshot={"budget": {"experiments": 3}},
        clock_start=CLOCK,
    )
    return ledger


def propose(ledger: Ledger, *points: dict) -> list[int]:
    return ledger.record_proposals(
        [
            {"parameters": p, "method": "sobol", "proposer": {"sobol_index": i}}
            for i, p in enumerate(points)
        ]
    )


def finish(
    ledger: Ledger,
    experiment_id: int,
    value: float | None,
    failure: str | None = None,
) -> None:
    ledger.record_result(
        experiment_id,
        objective=value,
        values={"y": value},
        raw={},
        failure=failure,
        started_at=CLOCK,
        finished_at=CLOCK + timedelta(hours=1),
        driver_seconds=0.01,
    )


def rows(ledger: Ledger, sql: str) -> list[tuple]:
    """What the ledger's database holds, read past the Ledger's own queries."""
    with ledger.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def test_an_experiment_goes_proposed_running_done_with_timestamps(
    tmp_path: Path, backend: str | None
) -> None:
    ledger = new_ledger(tmp_path, url=backend)
    (first, second) = propose(ledger, {"x": 0.1}, {"x": 0.2})
    assert (first, second) == (1, 2)
    ledger.mark_running(first)
    finish(ledger, first, 1.5)
    ledger.mark_running(second)
    finish(ledger, second, None, failure="sample cracked")
    records = {r.id: r for r in ledger.experiments()}
    assert records[1].status == "done" and records[1].objective == 1.5
    assert records[2].status == "failed" and records[2].failure == "sample cracked"
    assert records[1].finished_at == CLOCK + timedelta(hours=1)
    assert records[1].finished_at.tzinfo is not None
    statuses = rows(ledger, "SELECT status FROM transitions WHERE experiment_id = 1 ORDER BY id")
    assert [s for (s,) in statuses] == ["proposed", "running", "done"]
    if backend is None:
        assert rows(ledger, "PRAGMA journal_mode") == [("wal",)]


def test_a_second_result_for_one_experiment_is_refused(tmp_path: Path, backend: str | None) -> None:
    ledger = new_ledger(tmp_path, url=backend)
    (only,) = propose(ledger, {"x": 0.1})
    finish(ledger, only, 1.0)
    with pytest.raises(IntegrityError):
        finish(ledger, only, 2.0)
    assert [r.objective for r in ledger.experiments()] == [1.0]


def test_non_finite_readings_are_kept_as_text(tmp_path: Path, backend: str | None) -> None:
    ledger = new_ledger(tmp_path, url=backend)
    (only,) = propose(ledger, {"x": 0.1})
    ledger.record_result(
        only,
        objective=None,
        values={"y": float("nan")},
        raw={"v": float("inf")},
        failure="nan",
        started_at=CLOCK,
        finished_at=CLOCK,
        driver_seconds=0,
    )
    stored = rows(ledger, 'SELECT "values", raw FROM results')
    if backend is None:
        assert stored == [('{"y": "nan"}', '{"v": "inf"}')]
    else:  # psycopg decodes PostgreSQL's json
        assert stored == [({"y": "nan"}, {"v": "inf"})]
    assert ledger.experiments()[0].values == {"y": "nan"}


@pytest.mark.parametrize(("policy", "status"), [("rerun", "proposed"), ("fail", "failed")])
def test_interrupted_experiments_are_reconciled(
    tmp_path: Path, policy: str, status: str, backend: str | None
) -> None:
    ledger = new_ledger(tmp_path, url=backend)
    first, second = propose(ledger, {"x": 0.1}, {"x": 0.2})
    finish(ledger, first, 1.0)
    ledger.mark_running(second)  # what a process killed mid-measurement leaves behind
    ledger.close()

    reopened = Ledger.open(tmp_path)
    assert reopened.reconcile_interrupted(policy, CLOCK) == [second]
    records = reopened.experiments()
    assert [r.status for r in records] == ["done", status]
    assert records[1].attempts == 1


def test_a_resume_must_be_the_same_campaign_in_the_same_mode(
    tmp_path: Path, backend: str | None
) -> None:
    new_ledger(tmp_path, url=backend).close()
    with pytest.raises(LedgerMismatchError, match="other settings"):
        new_ledger(tmp_path, fingerprint="f2")
    with pytest.raises(LedgerMismatchError, match="cannot be continued as live"):
        new_ledger(tmp_path, mode="live")
    new_ledger(tmp_path)  # the same campaign resumes


def test_a_run_directory_held_by_another_process_is_refused(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path\n"
            "from tansaku.ledger import RunDirectoryLock\n"
            "with RunDirectoryLock(Path(sys.argv[1])):\n"
            "    print('held', flush=True); time.sleep(60)\n",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert is_held(tmp_path)
        with pytest.raises(
            RunDirectoryBusyError,
            match=rf"in use by another tansaku run \(pid "
            rf"{holder.pid} on",
        ):
            RunDirectoryLock(tmp_path).__enter__()
    finally:
        holder.kill()
        holder.wait()
    assert not is_held(tmp_path)  # a killed holder releases the lock
    with RunDirectoryLock(tmp_path):
        pass
