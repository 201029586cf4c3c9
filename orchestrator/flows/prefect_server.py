"""A Prefect server that outlives single runs, so a run does not start one of its own.

Without an API URL, Prefect starts a temporary server inside every run (6 to 13 s here).
Instead, the first ``tansaku run`` starts ``prefect server start`` in the background and
later runs reuse it; its UI shows every campaign's flow runs. A user who has set
``PREFECT_API_URL`` (a lab's shared server, Prefect Cloud) keeps it: tansaku then starts
nothing.

Prefect 3.9.1's own ``prefect server start --background`` does not serve (measured): it
pipes the server's output to the exiting CLI, so no log is kept (a server that died at
start-up on a corrupt database left nothing to read), returns in ~1.7 s while health
answered only ~12 s later, leaves its ``server.pid`` behind after a crash so every later
start refuses until ``prefect server stop``, and that stop SIGTERMs without waiting.

A facility runs the server on PostgreSQL (``tansaku server start --database``, or Prefect's
own ``PREFECT_API_DATABASE_CONNECTION_URL``) instead of SQLite, which locks under many
writers. The database is checked before the server starts, because a server that cannot
use it dies with a traceback in its log only. First start on an empty database (Prefect
creates its tables) took 12 s here, a start on a set-up one 5.6 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from filelock import FileLock
from sqlalchemy.engine import URL

from tansaku.database_url import DatabaseUrlError, masked, parse_postgres_url
from tansaku.errors import InputError, PrefectError

STATE_FILE = "tansaku-server.json"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
START_TIMEOUT_S = 90.0
DATABASE_TIMEOUT_S = 10.0
DATABASE_VARIABLES = (
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
)
"""Prefect's two names for its database URL; the first one set wins, as in Prefect."""
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class ServerStartError(PrefectError):
    """The background Prefect server did not come up."""


class ServerDatabaseError(InputError):
    """The database named for the Prefect server is malformed, unreachable or refuses it."""


class ServerBusyError(InputError):
    """A background server already runs, on another database or address than asked for."""


@dataclass(frozen=True)
class ServerState:
    pid: int
    url: str
    """Where clients on this machine reach it."""
    log: str
    host: str = DEFAULT_HOST
    """The address it listens on (``0.0.0.0``: every interface, for other machines)."""
    database: str | None = None
    """Its PostgreSQL database, password masked; ``None``: Prefect's SQLite in its home."""

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


def database_url(text: str, where: str = "the Prefect server's database") -> URL:
    """The ``postgresql+asyncpg://`` URL Prefect needs, from a plain ``postgresql://`` one.

    Raises :class:`ServerDatabaseError`, naming ``where`` it came from, for anything else.
    """
    try:
        url = parse_postgres_url(text)
    except DatabaseUrlError as error:
        raise ServerDatabaseError(f"{where} {error} (leave it out for Prefect's SQLite)") from None
    return url.set(drivername="postgresql+asyncpg")


def configured_database() -> URL | None:
    """The PostgreSQL database the user configured for Prefect's server, if any.

    ``None`` for Prefect's SQLite default, or a SQLite URL of the user's: Prefect's own.
    """
    from prefect.settings import get_current_settings

    secret = get_current_settings().server.database.connection_url
    text = secret.get_secret_value() if secret is not None else ""
    if not text or text.startswith("sqlite"):
        return None
    return database_url(text, where="PREFECT_API_DATABASE_CONNECTION_URL")


def check_database(url: URL) -> None:
    """Refuse, in one sentence, a database the server could not start on.

    The server itself would die with only a traceback in its log, after seconds of
    retries; asyncpg is the driver it would use, so it meets the same refusals.
    """
    import asyncio

    import asyncpg

    async def probe() -> tuple[bool, bool, bool]:
        connection = await asyncpg.connect(
            url.set(drivername="postgresql").render_as_string(hide_password=False),
            timeout=DATABASE_TIMEOUT_S,
        )
        try:
            # Prefect creates its tables, and the pg_trgm extension, in the first start;
            # later starts find them and only check the schema version.
            row = await connection.fetchrow(
                "SELECT to_regclass('alembic_version') IS NOT NULL,"
                " coalesce(has_schema_privilege(current_schema(), 'CREATE'), false),"
                " EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm')"
                " OR has_database_privilege(current_database(), 'CREATE')"
            )
        finally:
            await connection.close()
        return bool(row[0]), bool(row[1]), bool(row[2])

    where = f"the Prefect server's database {masked(url)}"
    try:
        set_up, may_create_tables, may_add_extension = asyncio.run(probe())
    except asyncpg.InvalidCatalogNameError:
        raise ServerDatabaseError(
            f"{where} does not exist; create it first "
            f"(createdb -h {url.host} -U {url.username or 'postgres'} {url.database})"
        ) from None
    except asyncpg.PostgresError as error:  # authentication, CONNECT privilege, ...
        raise ServerDatabaseError(
            f"{where} refuses the connection ({_words(error)}); check the user, its "
            "password and its rights on that database"
        ) from None
    except (OSError, TimeoutError, asyncpg.InterfaceError) as error:
        raise ServerDatabaseError(
            f"{where} does not answer ({_words(error) or 'no answer'}); check the host "
            "and port, and that PostgreSQL runs there"
        ) from None
    if not set_up and not (may_create_tables and may_add_extension):
        raise ServerDatabaseError(
            f"{where} is empty and user {url.username!r} may not create Prefect's tables "
            "there (CREATE on its schema and database); grant them, or have its owner "
            "start the server once"
        )


def _words(error: BaseException) -> str:
    return " ".join(str(error).split())


def prefect_home() -> Path:
    """Prefect's home folder, as Prefect's own settings resolve it."""
    from prefect.settings import get_current_settings

    return Path(get_current_settings().home).expanduser()


def configured_api_url() -> str | None:
    """The API URL the user configured for Prefect (environment or profile), if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def running_server(home: Path) -> ServerState | None:
    """The background server tansaku started, if it is up and answering."""
    try:
        state = ServerState(**json.loads((home / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return state if _healthy(state.api_url) else None


def ensure_server(
    home: Path,
    port: int | None = None,
    host: str | None = None,
    database: str | None = None,
) -> ServerState:
    """The running background server, started first if needed (one per Prefect home).

    A new server listens on ``host`` (127.0.0.1 by default; ``0.0.0.0`` lets workers on
    other machines in) and ``port`` (by default Prefect's ``PREFECT_SERVER_API_PORT`` if
    set, else 4200 if it is free, else any free port),
    and keeps its data in ``database`` (a ``postgresql://`` URL), else in the database
    Prefect's settings name, else in Prefect's SQLite in ``home``. A server already
    running is reused, unless it runs elsewhere than the ``port``, ``host`` or
    ``database`` asked for: then :class:`ServerBusyError`.
    """
    with start_server(home, port, host, database) as starting:
        return starting.wait()


class StartingServer:
    """The background server, running or on its way up; :meth:`wait` hands it over.

    A server takes seconds to answer (here 4 s, 10 s on a new database, which Prefect sets
    up first):
    the caller does other work meanwhile and waits only when it needs the server. Until
    then this process holds the Prefect home's start lock, so no other run starts a second
    server. Used as a context manager, a server not yet waited for when the caller fails
    is waited for on the way out, so that the next run finds it running: killing it could
    interrupt Prefect setting up its new database.
    """

    def __init__(
        self,
        home: Path,
        state: ServerState,
        process: subprocess.Popen[bytes] | None,
        lock: FileLock,
    ) -> None:
        self.home, self.state, self.process, self._lock = home, state, process, lock

    @property
    def started_here(self) -> bool:
        """Whether this call started the server (it was not already running)."""
        return self.process is not None

    def wait(self) -> ServerState:
        """The server's state once its API answers; :class:`ServerStartError` if it died
        or did not answer within ``START_TIMEOUT_S``."""
        process = self.process
        try:
            if process is None:
                return self.state
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _healthy(self.state.api_url):
                if process.poll() is not None or time.monotonic() > deadline:
                    self._kill()
                    raise ServerStartError(
                        f"the background Prefect server did not start; see {self.state.log}. "
                        "Or point PREFECT_API_URL at a Prefect server you run yourself."
                    )
                time.sleep(0.1)
            # Written whole or not at all: a reader never finds half a state file.
            partial = self.home / f"{STATE_FILE}.partial"
            partial.write_text(json.dumps(asdict(self.state)))
            partial.replace(self.home / STATE_FILE)
            self.process = None
            return self.state
        finally:
            if self._lock.is_locked:
                self._lock.release()

    def _kill(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def __enter__(self) -> StartingServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(ServerStartError):
            self.wait()


def start_server(
    home: Path,
    port: int | None = None,
    host: str | None = None,
    database: str | None = None,
) -> StartingServer:
    """Start the background server without waiting for it (see :func:`ensure_server`
    for the arguments); a server already running is handed over as it is."""
    asked = database_url(database) if database is not None else None
    home.mkdir(parents=True, exist_ok=True)
    # Held until the server answers (StartingServer.wait), unless it already does.
    lock = FileLock(home / f"{STATE_FILE}.lock", timeout=START_TIMEOUT_S)
    lock.acquire()
    try:
        state = running_server(home)
        if state is not None:
            _check_reuse(state, port, host, asked)
            lock.release()
            return StartingServer(home, state, None, lock)
        return StartingServer(home, *_start(home, port, host, asked), lock)
    except BaseException:
        lock.release()
        raise


def _start(
    home: Path, port: int | None, host: str | None, asked: URL | None
) -> tuple[ServerState, subprocess.Popen[bytes]]:
    """Launch ``prefect server start`` for :func:`start_server`, under its lock: the state
    the server will have once it answers, and its process."""
    url = asked or configured_database()
    if url is not None:
        check_database(url)
    host = host or DEFAULT_HOST
    if port is None and "PREFECT_SERVER_API_PORT" in os.environ:
        from prefect.settings import get_current_settings

        port = get_current_settings().server.api.port
    if port is None:
        port = DEFAULT_PORT if _port_free(DEFAULT_PORT) else _any_free_port()
    log = home / "tansaku-server.log"
    # The server keeps its own logs: the run's logging settings stay with the run.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PREFECT_LOGGING_")
        and name not in ("PREFECT_API_URL", *DATABASE_VARIABLES)
    }
    # The UI finds its API through these settings, not the --host and --port flags:
    # without them, a server on another port than 4200 serves a UI that talks to port
    # 4200, and one for other machines a UI that talks to 127.0.0.1.
    local = "127.0.0.1" if host in WILDCARD_HOSTS else host
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_HOST=host,
        PREFECT_SERVER_API_PORT=str(port),
    )
    if host in WILDCARD_HOSTS and "PREFECT_UI_API_URL" not in os.environ:
        env["PREFECT_UI_API_URL"] = f"http://{socket.gethostname()}:{port}/api"
    if url is not None:
        env[DATABASE_VARIABLES[0]] = url.render_as_string(hide_password=False)
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                host,
                "--port",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # outlives this run, and its Ctrl-C
        )
    state = ServerState(
        pid=process.pid,
        url=f"http://{_in_url(local)}:{port}",
        log=str(log),
        host=host,
        database=masked(url) if url is not None else None,
    )
    return state, process


def _check_reuse(state: ServerState, port: int | None, host: str | None, url: URL | None) -> None:
    """Refuse to hand back a running server that is not the one the caller asked for."""
    asked = []
    if port is not None and not state.url.endswith(f":{port}"):
        asked.append(f"port {port}")
    if host is not None and host != state.host:
        asked.append(f"host {host}")
    if url is not None and masked(url) != state.database:
        asked.append(f"database {masked(url)}")
    if asked:
        where = state.database or "Prefect's SQLite database"
        raise ServerBusyError(
            f"a Prefect server already runs at {state.url} (listening on {state.host}, "
            f"on {where}), not on {', '.join(asked)}; stop it first with tansaku server stop"
        )


def _in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def stop_server(home: Path) -> ServerState | None:
    """Stop the background server; returns what was stopped, ``None`` if none ran."""
    try:
        state = ServerState(**json.loads((home / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _alive(state.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    (home / STATE_FILE).unlink(missing_ok=True)
    return state


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child we started and that has exited stays a zombie until reaped.
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return reaped == 0


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _any_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
