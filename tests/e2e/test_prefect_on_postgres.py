"""The Prefect server on PostgreSQL, as a facility runs it: ``tansaku server start
--database``, a run on the server's machine and one from a "worker" that only has
``PREFECT_API_URL``, the flow runs in PostgreSQL's tables and in the API; and every bad
database refused in one sentence, with nothing left running."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import small_branin, tansaku
from tests.e2e.test_cli import ledger_rows

STATE = "tansaku-server.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def servers_of(home: Path) -> list[int]:
    """The live processes started with ``home`` as their Prefect home (Linux's /proc)."""
    wanted = f"PREFECT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Prefect home of the test's own: the suite's shared server is never touched.
    Whatever happens in the test, no server started in it outlives it."""
    from tansaku.flows.prefect_server import stop_server

    home = tmp_path / "prefect"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    for variable in (
        "PREFECT_API_DATABASE_CONNECTION_URL",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    ):
        monkeypatch.delenv(variable, raising=False)
    yield home
    stop_server(home)
    for pid in servers_of(home):
        os.kill(pid, 9)


def wait_until_gone(home: Path, seconds: float = 15) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := servers_of(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.timeout(120)
def test_a_facility_server_on_postgresql(
    tmp_path: Path, own_home: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    began = time.monotonic()
    start = tansaku(
        "server", "start", "--database", postgres_database, "--host", "0.0.0.0",
        "--port", port, cwd=tmp_path,
    )  # fmt: skip
    took = time.monotonic() - began
    assert start.returncode == 0, start.stderr
    print(f"first start on an empty PostgreSQL database: {took:.1f} s")
    assert f"database {postgres_database}" in " ".join(start.stdout.split())
    assert "PREFECT_API_URL=http://" in start.stdout
    state = json.loads((own_home / STATE).read_text())
    assert state["database"] == postgres_database and state["host"] == "0.0.0.0"
    api = f"http://127.0.0.1:{port}/api"
    # A browser on another machine gets a UI that calls this machine, not its own 127.0.0.1.
    ui = httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=10).json()
    assert ui["api_url"] == f"http://{socket.gethostname()}:{port}/api"

    # On the server's machine a run finds the server through PREFECT_HOME; a worker
    # elsewhere has only PREFECT_API_URL, and starts no server of its own.
    here = small_branin(tmp_path, name="here", budget=5)
    run = tansaku("run", here, "--dry-run", "--run-dir", "runs/here", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    worker_home = tmp_path / "worker-prefect"
    monkeypatch.setenv("PREFECT_HOME", str(worker_home))
    monkeypatch.setenv("PREFECT_API_URL", api)
    there = small_branin(tmp_path, name="there", budget=5)
    run = tansaku("run", there, "--dry-run", "--run-dir", "runs/there", cwd=tmp_path)
    monkeypatch.setenv("PREFECT_HOME", str(own_home))
    monkeypatch.delenv("PREFECT_API_URL")
    assert run.returncode == 0, run.stderr
    assert not (worker_home / STATE).exists()

    flow_runs = {
        name: ledger_rows(tmp_path / "runs" / name, "SELECT flow_run_id FROM sessions")[0][0]
        for name in ("here", "there")
    }
    with psycopg.connect(postgres_database) as db:
        stored = db.execute(
            "SELECT id::text, name, state_type::text FROM flow_run ORDER BY start_time"
        ).fetchall()
    assert stored == [
        (flow_runs["here"], "here@here", "COMPLETED"),
        (flow_runs["there"], "there@there", "COMPLETED"),
    ]
    for flow_run_id in flow_runs.values():
        answer = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()
        assert answer["state_type"] == "COMPLETED"

    status = tansaku("server", "status", cwd=tmp_path)
    assert f"database {postgres_database}" in " ".join(status.stdout.split())
    stop = tansaku("server", "stop", cwd=tmp_path)
    assert stop.returncode == 0 and "stopped the Prefect server" in stop.stdout
    assert wait_until_gone(own_home) == []
    assert not (own_home / STATE).exists()


def assert_refused(result, own_home: Path, *words: str, secret: str = "hunter2") -> None:
    """Exit 2, one sentence naming the cause, the password masked, nothing left behind."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert message.startswith("error: the Prefect server's database"), message
    for word in words:
        assert word in message, (word, message)
    assert secret not in result.stderr
    assert not (own_home / STATE).exists()
    assert servers_of(own_home) == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://me:hunter2@db.lab:x/prefect", ["'postgresql://me:***@db.lab:x/prefect'",
                                                      "is not a database URL"]),
        ("mysql://me:hunter2@db.lab/prefect", ["mysql://me:***@db.lab/prefect",
                                               "is not a PostgreSQL URL"]),
        ("postgresql://me:hunter2@/prefect", ["names no host"]),
        ("postgresql://me:hunter2@127.0.0.1:{port}/prefect",
         ["postgresql://me:***@127.0.0.1:{port}/prefect", "does not answer"]),
    ],
    ids=["malformed", "not-postgresql", "no-host", "unreachable"],
)  # fmt: skip
def test_a_bad_database_url_is_refused(
    tmp_path: Path, own_home: Path, url: str, words: list[str]
) -> None:
    port = free_port()  # nothing listens there
    url, words = url.format(port=port), [word.format(port=port) for word in words]
    result = tansaku("server", "start", "--database", url, cwd=tmp_path, timeout=60)
    assert_refused(result, own_home, *words)


def test_prefects_own_variable_is_honoured(
    tmp_path: Path, own_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PREFECT_API_DATABASE_CONNECTION_URL",
        f"postgresql+asyncpg://me:hunter2@127.0.0.1:{free_port()}/x",
    )
    result = tansaku("server", "start", cwd=tmp_path, timeout=60)
    assert_refused(result, own_home, "does not answer")
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql://me:hunter2@h:x/db")
    result = tansaku("server", "start", cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and "PREFECT_API_DATABASE_CONNECTION_URL" in result.stderr
    assert "hunter2" not in result.stderr and servers_of(own_home) == []


def test_a_database_that_does_not_exist(
    tmp_path: Path, own_home: Path, postgres_database: str
) -> None:
    missing = postgres_database.rsplit("/", 1)[0] + "/tansaku_test_missing_" + uuid.uuid4().hex[:8]
    result = tansaku("server", "start", "--database", missing, cwd=tmp_path, timeout=60)
    assert_refused(result, own_home, missing, "does not exist; create it first")


@pytest.fixture
def powerless_role(postgres_database: str) -> Iterator[str]:
    """A login role with no right to create anything in the test database (or, with
    ``CONNECT`` revoked, to connect to it); dropped after the test."""
    name = f"tansaku_test_role_{uuid.uuid4().hex[:8]}"
    database = postgres_database.rsplit("/", 1)[1]
    with psycopg.connect(postgres_database, autocommit=True) as db:
        db.execute(f'CREATE ROLE "{name}" LOGIN')
        db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        db.execute(f'REVOKE CREATE ON DATABASE "{database}" FROM PUBLIC')
    try:
        yield name
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as db:
            db.execute(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER')
            db.execute(f'DROP OWNED BY "{name}"')
            db.execute(f'DROP ROLE "{name}"')


@pytest.mark.parametrize("revoked", ["create", "connect"])
def test_a_database_the_user_may_not_use(
    tmp_path: Path, own_home: Path, postgres_database: str, powerless_role: str, revoked: str
) -> None:
    from sqlalchemy.engine import make_url

    database = postgres_database.rsplit("/", 1)[1]
    if revoked == "connect":
        with psycopg.connect(postgres_database, autocommit=True) as db:
            db.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
    url = make_url(postgres_database).set(username=powerless_role).render_as_string(False)
    result = tansaku("server", "start", "--database", url, cwd=tmp_path, timeout=60)
    expected = (
        "may not create Prefect's tables" if revoked == "create" else "refuses the connection"
    )
    assert_refused(result, own_home, url, expected)
