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

from tansaku.errors import PrefectError

STATE_FILE = "tansaku-server.json"
DEFAULT_PORT = 4200
START_TIMEOUT_S = 90.0


class ServerStartError(PrefectError):
    """The background Prefect server did not come up."""


@dataclass(frozen=True)
class ServerState:
    pid: int
    url: str
    log: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


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


def ensure_server(home: Path, port: int | None = None) -> ServerState:
    """The running background server, started first if needed (one per Prefect home).

    A new server listens on ``port``; by default on 4200 if it is free, else on any
    free port.
    """
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(home / f"{STATE_FILE}.lock", timeout=START_TIMEOUT_S):
        state = running_server(home)
        if state is not None:
            return state
        if port is None:
            port = DEFAULT_PORT if _port_free(DEFAULT_PORT) else _any_free_port()
        log = home / "tansaku-server.log"
        # The server keeps its own logs: the run's logging settings stay with the run.
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("PREFECT_LOGGING_") and name != "PREFECT_API_URL"
        }
        # The UI finds its API through the API port setting, not the --port flag: without
        # it, a server on another port than 4200 serves a UI that talks to port 4200.
        env.update(
            PREFECT_HOME=str(home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_API_PORT=str(port),
        )
        with log.open("ab") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # outlives this run, and its Ctrl-C
            )
        state = ServerState(pid=process.pid, url=f"http://127.0.0.1:{port}", log=str(log))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(state.api_url):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise ServerStartError(
                    f"the background Prefect server did not start; see {log}. "
                    "Or point PREFECT_API_URL at a Prefect server you run yourself."
                )
            time.sleep(0.2)
        (home / STATE_FILE).write_text(json.dumps(asdict(state)))
        return state


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
