"""A shared ledger on PostgreSQL: campaigns side by side, one runner each, faults."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tansaku.ledger import (
    CampaignBusyError,
    Ledger,
    LedgerPointerError,
    LedgerUnreachableError,
    LedgerUrlError,
    LedgerWriteError,
    is_held,
    postgres,
)
from tansaku.ledger.location import POINTER_FILE, campaign_schema
from tests.orchestrator.ledger.test_ledger import finish, new_ledger, propose, rows

CLOCK = datetime(2026, 12, 1, 9, tzinfo=UTC)


def schemas(url: str) -> list[str]:
    with psycopg.connect(url) as connection:
        return [
            name
            for (name,) in connection.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tansaku%' ORDER BY 1"
            )
        ]


def test_campaigns_side_by_side_never_mix(tmp_path: Path, postgres_database: str) -> None:
    first = new_ledger(tmp_path / "film-a", url=postgres_database)
    second = new_ledger(tmp_path / "film-b", fingerprint="other", url=postgres_database)
    assert propose(first, {"x": 0.1}, {"x": 0.2}) == [1, 2]
    assert propose(second, {"x": 0.9}) == [1]  # ids count per campaign, as in SQLite
    finish(second, 1, 7.0)
    assert [r.parameters for r in first.experiments()] == [{"x": 0.1}, {"x": 0.2}]
    assert [(r.parameters, r.objective) for r in second.experiments()] == [({"x": 0.9}, 7.0)]
    assert schemas(postgres_database) == ["tansaku_film_a", "tansaku_film_b"]
    first.close()
    second.close()
    # The run directory finds its ledger again, without the URL.
    pointer = json.loads((tmp_path / "film-a" / POINTER_FILE).read_text())
    assert pointer == {
        "url": make_url(postgres_database).render_as_string(),
        "schema": "tansaku_film_a",
    }
    reopened = Ledger.open(tmp_path / "film-a", create=False)
    assert len(reopened.experiments()) == 2


def test_a_password_is_never_written_down(tmp_path: Path, postgres_database: str) -> None:
    # Trust authentication ignores the password; what matters is where it ends up.
    with_password = make_url(postgres_database).set(password="s3cret")
    url = with_password.render_as_string(hide_password=False)
    new_ledger(tmp_path / "run", url=url).close()
    pointer = (tmp_path / "run" / POINTER_FILE).read_text()
    assert "s3cret" not in pointer and "***" not in pointer
    with pytest.raises(LedgerPointerError, match=r"\*\*\*") as refused:
        Ledger.open(tmp_path / "run", url=url.replace(make_url(url).database, "elsewhere"))
    assert "s3cret" not in str(refused.value)


def unusable_urls(database: str) -> list[tuple[str, type[Exception], str]]:
    url = make_url(database)
    return [
        ("not a url at all", LedgerUrlError, "is not a database URL"),
        ("mysql://root@127.0.0.1/test", LedgerUrlError, "is not a PostgreSQL URL"),
        ("postgresql://127.0.0.1", LedgerUrlError, "names no database"),
        (
            url.set(port=1, password="pw").render_as_string(hide_password=False),
            LedgerUnreachableError,
            "Connection refused",
        ),
        (
            url.set(database="no_such_db").render_as_string(hide_password=False),
            LedgerUnreachableError,
            'database "no_such_db" does not exist',
        ),
    ]


def test_unusable_urls_are_refused_and_nothing_is_created(
    tmp_path: Path, postgres_database: str
) -> None:
    for number, (url, error, words) in enumerate(unusable_urls(postgres_database)):
        run_dir = tmp_path / f"run-{number}"
        run_dir.mkdir()
        with pytest.raises(error, match=words) as refused:
            Ledger.open(run_dir, url=url)
        assert "pw" not in str(refused.value).replace("***", "")
        assert error.exit_code == 2
        assert list(run_dir.iterdir()) == []
    assert schemas(postgres_database) == []


def test_a_role_that_may_not_create_is_refused(tmp_path: Path, postgres_database: str) -> None:
    role = f"reader_{make_url(postgres_database).database[-8:]}"
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        url = make_url(postgres_database).set(username=role).render_as_string()
        with pytest.raises(LedgerUnreachableError, match="permission denied") as refused:
            Ledger.open(tmp_path, url=url)
        assert "nothing was created" in str(refused.value)
        assert not (tmp_path / POINTER_FILE).exists()
        assert schemas(postgres_database) == []
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            admin.execute(f'DROP ROLE "{role}"')


def test_a_sqlite_run_directory_is_not_silently_switched(
    tmp_path: Path, postgres_database: str
) -> None:
    new_ledger(tmp_path).close()
    with pytest.raises(LedgerPointerError, match="tansaku ledger copy"):
        Ledger.open(tmp_path, url=postgres_database)


HOLDER = """
import sys, time
from pathlib import Path
from tansaku.ledger import Ledger
ledger = Ledger.open(Path(sys.argv[1]))
with ledger.hold_runner():
    print("held", flush=True)
    time.sleep(120)
"""


def test_one_runner_per_campaign_and_kill_9_frees_it(
    tmp_path: Path, postgres_database: str
) -> None:
    run_dir = tmp_path / "film"
    new_ledger(run_dir, url=postgres_database).close()
    # Another machine: a copy of the run directory's pointer, no file lock shared.
    elsewhere = tmp_path / "laptop" / "film"
    elsewhere.mkdir(parents=True)
    shutil.copy(run_dir / POINTER_FILE, elsewhere / POINTER_FILE)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert is_held(elsewhere)
        second = Ledger.open(elsewhere)
        with (
            pytest.raises(CampaignBusyError, match=rf"pid {holder.pid} on"),
            second.hold_runner(),
        ):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while is_held(elsewhere):  # the server notices the closed connection
            assert time.monotonic() < deadline, "a killed runner kept the campaign"
            time.sleep(0.1)
        with second.hold_runner():
            assert second.is_running()
        second.close()
    finally:
        holder.kill()
        holder.wait()


def terminate_connections(database: str) -> int:
    """What a database restart does to its clients: every connection is cut."""
    name = make_url(database).database
    admin = make_url(database).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        return len(
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        )


def test_a_runner_reconnects_after_its_connections_are_cut(
    tmp_path: Path, postgres_database: str
) -> None:
    ledger = new_ledger(tmp_path / "film", url=postgres_database)
    with ledger.hold_runner():
        (first,) = propose(ledger, {"x": 0.1})
        assert terminate_connections(postgres_database) >= 1
        finish(ledger, first, 1.0)  # reconnects, and takes its runner lock again
        propose(ledger, {"x": 0.2})
        assert ledger.is_running()
    assert [(r.id, r.status) for r in ledger.experiments()] == [(1, "done"), (2, "proposed")]
    assert rows(ledger, "SELECT count(*) FROM transitions") == [(3,)]
    ledger.close()


def test_a_runner_whose_campaign_was_taken_meanwhile_stops(
    tmp_path: Path, postgres_database: str
) -> None:
    ledger = new_ledger(tmp_path / "film", url=postgres_database)
    with ledger.hold_runner():
        terminate_connections(postgres_database)
        rival = Ledger.open(tmp_path / "film")
        with rival.hold_runner(), pytest.raises(CampaignBusyError):
            propose(ledger, {"x": 0.1})
        rival.close()
    assert ledger.experiments() == []
    ledger.close()


def test_writers_take_turns(tmp_path: Path, postgres_database: str) -> None:
    ledger = new_ledger(tmp_path / "film", url=postgres_database)
    other = Ledger.open(tmp_path / "film")
    ids: list[int] = []

    def add(into: Ledger) -> None:
        for step in range(10):
            ids.append(
                into.add(
                    {"x": step / 10},
                    objective=1.0,
                    values={"y": 1.0},
                    failure=None,
                    by="t@h",
                    budget=100,
                )
            )

    threads = [threading.Thread(target=add, args=(each,)) for each in (ledger, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(ids) == list(range(1, 21))
    ledger.close()
    other.close()


def test_a_lost_database_is_one_sentence(
    tmp_path: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = new_ledger(tmp_path / "film", url=postgres_database)
    ledger.engine.dispose()
    name = make_url(postgres_database).database
    admin = make_url(postgres_database).set(database="postgres").render_as_string()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        terminate_connections(postgres_database)
        monkeypatch.setattr(postgres, "RECONNECT_S", 1.0)
        with pytest.raises(LedgerWriteError, match="Run the same command again"):
            propose(ledger, {"x": 0.1})
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert ledger.experiments() == []
    ledger.close()


def test_schema_names_follow_the_run_directory() -> None:
    assert campaign_schema(Path("runs/film-0412")) == "tansaku_film_0412"
    odd = campaign_schema(Path("runs/Film 0412"))
    assert odd.startswith("tansaku_film_0412_") and odd != campaign_schema(Path("runs/film 0412"))
    assert len(campaign_schema(Path("x" * 100))) == 63


def test_a_port_that_is_no_number_is_a_bad_url(tmp_path: Path) -> None:
    with pytest.raises(LedgerUrlError, match=r"postgresql://lab:\*\*\*@db:x/ledger"):
        Ledger.open(tmp_path, url="postgresql://lab:pw@db:x/ledger")
