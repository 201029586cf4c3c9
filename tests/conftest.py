"""Shared fixtures. Prefect is pointed at a throw-away home before anything imports it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite gets its own Prefect home (database, profile, background server), so it
# neither needs nor touches the developer's Prefect set-up.
PREFECT_HOME = Path(tempfile.mkdtemp(prefix="tansaku-tests-prefect-"))
os.environ["PREFECT_HOME"] = str(PREFECT_HOME)
for variable in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
    os.environ.pop(variable, None)

REPO = Path(__file__).resolve().parents[1]
TANSAKU = Path(sys.executable).parent / "tansaku"


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One background Prefect server for the whole suite, started the way a run would.

    CLI subprocesses find it through ``PREFECT_HOME`` exactly as a user's second run
    finds the server their first run started.
    """
    from tansaku.flows.prefect_server import ensure_server, stop_server

    # Each pytest-xdist worker has a home and a server of its own; on a port the kernel
    # picks, two workers never race for Prefect's default one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    state = ensure_server(PREFECT_HOME, port=port)
    yield state.api_url
    stop_server(PREFECT_HOME)
    shutil.rmtree(PREFECT_HOME, ignore_errors=True)


def tansaku(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed ``tansaku`` console script and capture what a user would see."""
    return subprocess.run(
        [str(TANSAKU), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def write_campaign(folder: Path, text: str, name: str = "campaign.yaml") -> Path:
    """Write a campaign file from an indented literal."""
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def campaign_beside(folder: Path, campaign: str, data_name: str, data: str, **replace: str) -> Path:
    """A campaign file and the data file it names, with ``replace``'s edits to the
    campaign text (old → new)."""
    (folder / data_name).write_text(data)
    for old, new in replace.items():
        campaign = campaign.replace(old, new)
    return write_campaign(folder, campaign)


def campaign_problems(path: Path) -> str:
    """What loading the campaign at ``path`` reports as wrong (it must fail)."""
    from tansaku.campaign.loading import CampaignError, load_campaign

    with pytest.raises(CampaignError) as error:
        load_campaign(path)
    return str(error.value)


DEMO_CAMPAIGN = """
    name: demo
    seed: 4
    budget: {experiments: 3}
    space:
      - {name: x1, type: continuous, bounds: [-5, 10]}
      - {name: x2, type: continuous, bounds: [0, 15]}
    objectives:
      - {name: y, goal: minimize}
    driver:
      type: simulated
      retry_delay: 1s
      simulator: {type: benchmark, function: branin}
"""
"""The smallest valid campaign, for tests that break one thing in it (``write_campaign``)."""

SMALL_BRANIN = """
    name: {name}
    seed: 4
    budget: {{experiments: {budget}}}
    space:
      - {{name: x1, type: continuous, bounds: [-5, 10]}}
      - {{name: x2, type: continuous, bounds: [0, 15]}}
    objectives:
      - {{name: y, goal: minimize}}
    proposer:
      initial: {{n: 4}}
      num_restarts: 2
      raw_samples: 64
    driver:
      type: simulated
      retries: {retries}
      retry_delay: {retry_delay}
      simulator: {{type: benchmark, function: branin, duration: 2h, fault_rate: {fault_rate},
                   start: 2026-12-01T09:00:00Z}}
"""


def small_branin(
    folder: Path,
    name: str = "small",
    budget: int = 8,
    retries: int = 0,
    retry_delay: str = "1s",
    fault_rate: float = 0.0,
) -> Path:
    """A quick Branin dry-run campaign (4 Sobol points, cheap acquisition optimisation)."""
    return write_campaign(
        folder,
        SMALL_BRANIN.format(
            name=name,
            budget=budget,
            retries=retries,
            retry_delay=retry_delay,
            fault_rate=fault_rate,
        ),
        name=f"{name}.yaml",
    )


POSTGRES_VARIABLE = "TANSAKU_TEST_POSTGRES"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server the PostgreSQL tests use: ``TANSAKU_TEST_POSTGRES`` names it
    (``postgresql://user@host:port/db``, a role that may create databases)."""
    url = os.environ.get(POSTGRES_VARIABLE)
    if not url:
        pytest.skip(
            f"needs PostgreSQL: set {POSTGRES_VARIABLE}=postgresql://user@host:port/db "
            "(a role allowed to create databases) to run it"
        )
    return url


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped after the test: its URL."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    name = f"tansaku_test_{uuid.uuid4().hex[:12]}"
    server = make_url(postgres_server)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
