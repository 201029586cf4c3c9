"""`tansaku run --ledger postgresql://...`: a campaign kept in a shared database, read by
`status`, `export` and `report` from any directory pointing at it, one runner at a time,
resumed after kill -9; and `tansaku ledger copy` of a SQLite run into it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TANSAKU, small_branin, tansaku, write_campaign

pytestmark = pytest.mark.timeout(240)


def shared_rows(url: str, schema: str, sql: str) -> list[tuple]:
    """What the campaign's schema holds (empty before the runner created it)."""
    with psycopg.connect(url, options=f"-c search_path={schema}") as connection:
        exists = connection.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = 'results'",
            (schema,),
        ).fetchone()
        return connection.execute(sql).fetchall() if exists else []


def start_run(campaign: Path, run_dir: Path, url: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(TANSAKU),
            "run",
            str(campaign),
            "--dry-run",
            "--run-dir",
            str(run_dir),
            "--ledger",
            url,
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def wait_for_results(url: str, schema: str, process: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        done = shared_rows(url, schema, "SELECT count(*) FROM results")
        if done and done[0][0] >= at_least:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} results after 120 s")


def test_a_campaign_on_a_shared_ledger_is_read_from_anywhere(
    tmp_path: Path, prefect_server: str, postgres_database: str
) -> None:
    campaign = small_branin(tmp_path, name="film", budget=6)
    run_dir = tmp_path / "runs" / "film"
    ran = tansaku(
        "run", campaign, "--dry-run", "--run-dir", run_dir, "--ledger", postgres_database,
        cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "budget reached: 6 of 6 experiments" in ran.stdout
    assert (run_dir / "ledger.json").is_file() and not (run_dir / "ledger.sqlite").exists()
    assert (run_dir / "tansaku.log").is_file()  # logs stay in the run directory
    rows = shared_rows(postgres_database, "tansaku_film", "SELECT id, status FROM experiments")
    assert sorted(rows) == [(i, "done") for i in range(1, 7)]

    # A colleague's machine: only the pointer, none of the run's files.
    laptop = tmp_path / "laptop" / "film"
    laptop.mkdir(parents=True)
    shutil.copy(run_dir / "ledger.json", laptop / "ledger.json")
    status = tansaku("status", laptop, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "6 of 6" in status.stdout or "6/6" in status.stdout, status.stdout
    exported = tansaku("export", laptop, "--format", "csv", "-o", tmp_path / "e.csv", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "e.csv").read_text().splitlines()) == 7
    report = tansaku("report", laptop, "-o", tmp_path / "page.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "page.html").stat().st_size > 10_000


def test_kill_9_on_a_shared_ledger_resumes_and_a_second_runner_is_refused(
    tmp_path: Path, prefect_server: str, postgres_database: str
) -> None:
    campaign = small_branin(tmp_path, name="crash", budget=12)
    run_dir = tmp_path / "runs" / "crash"
    process = start_run(campaign, run_dir, postgres_database, tmp_path)
    elsewhere = tmp_path / "other-pc" / "crash"
    try:
        wait_for_results(postgres_database, "tansaku_crash", process, at_least=4)
        # The same campaign from another machine's directory: refused while it runs.
        elsewhere.mkdir(parents=True)
        shutil.copy(run_dir / "ledger.json", elsewhere / "ledger.json")
        second = tansaku("run", campaign, "--dry-run", "--run-dir", elsewhere, cwd=tmp_path)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "is being run by another tansaku" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = dict(
        shared_rows(
            postgres_database, "tansaku_crash", "SELECT experiment_id, recorded_at FROM results"
        )
    )
    assert len(before) >= 4

    # Resumed from the other machine's directory: the database is the campaign's record.
    resumed = tansaku("run", campaign, "--dry-run", "--run-dir", elsewhere, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    results = shared_rows(
        postgres_database, "tansaku_crash", "SELECT experiment_id, recorded_at FROM results"
    )
    assert sorted(i for i, _ in results) == list(range(1, 13))  # none lost, none twice
    assert {i: t for i, t in results if i in before} == before
    outcomes = shared_rows(
        postgres_database, "tansaku_crash", "SELECT outcome FROM sessions ORDER BY id"
    )
    assert outcomes == [("died",), ("finished",)]


def test_an_unusable_ledger_is_one_sentence_and_nothing_is_created(
    tmp_path: Path, postgres_database: str
) -> None:
    campaign = small_branin(tmp_path, name="film", budget=4)
    run_dir = tmp_path / "runs" / "film"
    unreachable = "postgresql://postgres:hunter2@127.0.0.1:1/test"
    ran = tansaku(
        "run", campaign, "--dry-run", "--run-dir", run_dir, "--ledger", unreachable, cwd=tmp_path
    )
    assert ran.returncode == 2
    assert "cannot use the ledger postgresql://postgres:***@127.0.0.1:1/test" in ran.stderr
    assert "hunter2" not in ran.stdout + ran.stderr and "Traceback" not in ran.stderr
    assert not run_dir.exists()


@pytest.mark.parametrize(
    ("ledger", "words"),
    [
        ("mysql://root@db/lab", "is not a PostgreSQL URL"),
        ("postgresql://lab@db.example.org:5432/ledger?x=1&", None),
        ("postgresql://lab:secret@db/ledger", "holds a password"),
        ("postgresql://db.example.org", "names no database"),
    ],
)
def test_a_ledger_in_the_campaign_file_is_checked_by_validate(
    tmp_path: Path, ledger: str, words: str | None
) -> None:
    text = small_branin(tmp_path).read_text().replace("seed: 4\n", f"seed: 4\nledger: {ledger}\n")
    campaign = write_campaign(tmp_path, text, name="shared.yaml")
    checked = tansaku("validate", campaign, cwd=tmp_path)
    if words is None:
        assert checked.returncode == 0, checked.stdout + checked.stderr
        return
    assert checked.returncode == 2
    assert f"{campaign}:3:1: ledger:" in checked.stdout + checked.stderr
    assert words in checked.stdout + checked.stderr
    assert "secret" not in checked.stdout + checked.stderr


def test_a_sqlite_run_is_copied_into_postgresql_and_goes_on_there(
    tmp_path: Path, prefect_server: str, postgres_database: str
) -> None:
    campaign = small_branin(tmp_path, name="move", budget=5)
    run_dir = tmp_path / "runs" / "move"
    ran = tansaku("run", campaign, "--dry-run", "--run-dir", run_dir, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    before = tansaku("export", run_dir, "--format", "csv", cwd=tmp_path).stdout

    copied = tansaku("ledger", "copy", run_dir, postgres_database, cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert "copied 5 experiments" in copied.stdout
    assert not (run_dir / "ledger.sqlite").exists()
    assert (run_dir / "ledger-before-copy.sqlite").is_file()
    assert tansaku("export", run_dir, "--format", "csv", cwd=tmp_path).stdout == before

    again = tansaku("ledger", "copy", run_dir, postgres_database, cwd=tmp_path)
    assert again.returncode == 2 and "already keeps its ledger" in again.stderr

    # A raised budget goes on in PostgreSQL, numbering on from the copied experiments.
    campaign.write_text(campaign.read_text().replace("experiments: 5", "experiments: 7"))
    resumed = tansaku("run", campaign, "--dry-run", "--run-dir", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    ids = shared_rows(postgres_database, "tansaku_move", "SELECT id FROM experiments ORDER BY id")
    assert ids == [(i,) for i in range(1, 8)]
    sessions = shared_rows(postgres_database, "tansaku_move", "SELECT id FROM sessions ORDER BY id")
    assert sessions == [(1,), (2,)]  # the copied session's id is not handed out again


def cut_connections(url: str) -> int:
    """What a database restart does to its clients: every connection to it is cut."""
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(url, autocommit=True) as connection:
        return len(
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        )


def test_a_run_goes_on_when_its_database_connections_are_cut(
    tmp_path: Path, prefect_server: str, postgres_database: str
) -> None:
    campaign = small_branin(tmp_path, name="restart", budget=10)
    run_dir = tmp_path / "runs" / "restart"
    process = start_run(campaign, run_dir, postgres_database, tmp_path)
    try:
        wait_for_results(postgres_database, "tansaku_restart", process, at_least=3)
        assert cut_connections(postgres_database) >= 1  # the runner's lock among them
        wait_for_results(postgres_database, "tansaku_restart", process, at_least=5)
        cut_connections(postgres_database)
        stdout, stderr = process.communicate(timeout=180)
    finally:
        process.kill()
    if process.returncode != 0:
        # A cut that lands inside a write is reported, never repeated (a write cut off
        # while committing may have been recorded): the run stops saying so, and the same
        # command resumes it. A cut between writes is ridden out.
        assert process.returncode == 1, stderr
        assert "what was recorded before stands. Run the same command again" in stderr
        again = tansaku(
            "run", campaign, "--dry-run", "--run-dir", run_dir, "--ledger", postgres_database,
            cwd=tmp_path,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        stdout = again.stdout
    assert "budget reached: 10 of 10 experiments" in stdout
    ids = shared_rows(postgres_database, "tansaku_restart", "SELECT experiment_id FROM results")
    assert sorted(i for (i,) in ids) == list(range(1, 11))
