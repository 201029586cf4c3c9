"""Facility scale: many campaigns deployed to one process work pool, run by two workers.

What a facility runs: a Prefect server on PostgreSQL, a process work pool, ``--workers``
``prefect worker start --pool P`` processes, and campaigns deployed with ``tansaku deploy
--start``, their ledgers on PostgreSQL (one schema each) or SQLite (in the run directory
on the worker). The script makes a fresh PostgreSQL database for the server and one for
the ledgers (both dropped at the end), starts the server on a free port with a Prefect
home of its own, then:

1. runs one campaign alone through the pool (the baseline), then ``--campaigns`` at
   once: each batch is deployed with the workers stopped, so every flow run waits in
   the pool, and timed from the workers' start to the last flow run's end;
2. samples, every 0.5 s, the resident memory of the server's and the workers' process
   trees (each flow run is a child process of its worker), the flow runs running at
   once (processes and the API's RUNNING count) and the connections to each database;
3. checks every campaign: its flow run completed; its ledger holds exactly its budget of
   experiments, ids 1..budget, all done, one result each, each result Branin's value at
   the experiment's parameters; the campaign name in its own ledger (schema) is its own,
   and the ledger's sessions are subflows of that campaign's flow run; the ledger
   database holds no other schema and no other row; every log (workers, server, each
   run's ``tansaku.log``) is free of "database is locked", "timed out", "TimeoutError",
   "ReadTimeout" and "Traceback".

``--shared-instrument`` instead deploys two live campaigns on one simulated instrument
with ``slots: 1`` whose experiments sleep ``--experiment-seconds`` of real time (a
simulated experiment otherwise takes no wall-clock time), and checks that the ledgers'
wall-clock running → done intervals of the two never overlap. The ledgers'
instrument-clock times (results.started_at/finished_at) are each campaign's own virtual
clock, so they say nothing about the shared instrument and are not compared.

Exits 1 if any check fails. The report (Markdown) goes to ``--output`` and stdout.

Usage::

    .venv/bin/python benchmarks/facility_scale.py --campaigns 20 --experiments 10
    .venv/bin/python benchmarks/facility_scale.py --campaigns 20 --experiments 10 --ledger sqlite
    .venv/bin/python benchmarks/facility_scale.py --campaigns 100 --experiments 10 --pool-limit 10
    .venv/bin/python benchmarks/facility_scale.py --shared-instrument --experiments 6
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from reporting import command_line, log, markdown_table, package_versions, versions_text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TANSAKU = BIN / "tansaku"
PREFECT = BIN / "prefect"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
BAD_LOG_WORDS = ("database is locked", "timed out", "TimeoutError", "ReadTimeout", "Traceback")
INSTRUMENT = "facility-shared-sim"
SAMPLE_SECONDS = 0.5
PAGE = os.sysconf("SC_PAGE_SIZE")

CAMPAIGN = """
    name: {name}
    seed: {seed}
    budget: {{experiments: {budget}}}
    space:
      - {{name: x1, type: continuous, bounds: [-5, 10]}}
      - {{name: x2, type: continuous, bounds: [0, 15]}}
    objectives:
      - {{name: y, goal: minimize}}
    proposer:
      initial: {{n: {initial}}}
      num_restarts: 2
      raw_samples: 64
    driver:
      type: simulated
      {instrument}
      simulator: {simulator}
"""
"""A small Branin campaign (cheap acquisition optimisation, as the suite's
``small_branin``): the benchmark measures the facility, not the proposer."""

DRY_RUN_SIMULATOR = "{type: benchmark, function: branin, duration: 2h}"
SLOW_SIMULATOR_MODULE = "facility_slow_simulator"
SLOW_SIMULATOR = '''
"""Branin, after FACILITY_EXPERIMENT_SECONDS of real time on the instrument."""

import math
import os
import time


def branin(point):
    time.sleep(float(os.environ["FACILITY_EXPERIMENT_SECONDS"]))
    x1, x2 = point["x1"], point["x2"]
    return (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (
        1 - 1 / (8 * math.pi)
    ) * math.cos(x1) + 10
'''


def branin(x1: float, x2: float) -> float:
    """What the simulator must have measured at (x1, x2): no noise is configured."""
    return (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )


@dataclass
class Settings:
    """One configuration of the benchmark, as the command line gives it."""

    campaigns: int
    experiments: int
    ledger: str
    """``postgresql`` or ``sqlite``."""
    pool_limit: int | None
    workers: int
    poll_seconds: float
    shared_instrument: bool
    experiment_seconds: float
    baseline: bool
    postgres: str
    timeout: float
    deploy_parallel: int
    keep: bool
    output: Path


@dataclass
class Check:
    what: str
    passed: bool
    detail: str = ""


@dataclass
class Peaks:
    """Maxima over the samples taken while the workers ran."""

    server_rss: int = 0
    workers_rss: int = 0
    """The workers' process trees together (flow runs included)."""
    worker_rss: dict[int, int] = field(default_factory=dict)
    """Each worker's tree, by pid."""
    worker_own_rss: int = 0
    """The workers' processes themselves (``prefect worker start`` runs the worker in a
    child process), all workers together, without their flow runs."""
    flow_run_rss: int = 0
    """The largest single flow-run process tree."""
    flow_run_processes: int = 0
    running_in_api: int = 0
    connections: dict[str, int] = field(default_factory=dict)
    samples: int = 0


@dataclass
class Batch:
    """A set of campaigns deployed together and run by the workers from their start."""

    label: str
    names: list[str]
    flow_runs: dict[str, str] = field(default_factory=dict)
    """Campaign name → the flow run ``tansaku deploy --start`` created."""
    deploy_seconds: list[float] = field(default_factory=list)
    started: float = 0.0
    """Epoch seconds at the workers' start."""
    ended: float = 0.0
    """Epoch seconds at the last flow run's end (the server's end_time)."""
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Flow run id → the API's flow run, once final."""
    peaks: Peaks = field(default_factory=Peaks)

    @property
    def wall(self) -> float:
        return self.ended - self.started


# --- processes ------------------------------------------------------------------------


def process_table() -> dict[int, tuple[int, int]]:
    """Every live process: pid → (parent pid, resident bytes), from Linux's /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stream:
                fields = stream.read().rsplit(b")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        table[int(entry)] = (int(fields[1]), int(fields[21]) * PAGE)
    return table


def tree(root: int, table: dict[int, tuple[int, int]]) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
            todo.extend(children.get(pid, ()))
    return found


def rss(pids: Sequence[int], table: dict[int, tuple[int, int]]) -> int:
    return sum(table[pid][1] for pid in pids if pid in table)


class Sampler:
    """Samples memory, flow-run processes and database connections in a thread."""

    def __init__(self, server_pid: int, postgres: str, databases: Sequence[str], api: str):
        self.server_pid, self.api = server_pid, api
        self.workers: list[int] = []
        self._postgres, self._databases = postgres, list(databases)
        self.peaks = Peaks(connections=dict.fromkeys(self._databases, 0))
        self._flow_run_pids: dict[int, bool] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def reset(self, workers: Sequence[int]) -> Peaks:
        """Start a new set of peaks, for these workers; the old ones are returned."""
        old, self.peaks = self.peaks, Peaks(connections=dict.fromkeys(self._databases, 0))
        self.workers = list(workers)
        return old

    def _run(self) -> None:
        with (
            psycopg.connect(self._postgres, autocommit=True) as db,
            httpx.Client(base_url=self.api, timeout=10) as client,
        ):
            tick = 0
            while not self._stop.wait(SAMPLE_SECONDS):
                self._sample_processes()
                tick += 1
                if tick % 4 == 0:  # every 2 s: cheap, but not free for the server
                    self._sample_connections(db)
                    self._sample_api(client)

    def _is_flow_run(self, pid: int) -> bool:
        """Whether ``pid`` is a process a worker started for a flow run (its environment
        names the flow run, and so does its children's)."""
        if pid not in self._flow_run_pids:
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:  # gone meanwhile
                return False
            self._flow_run_pids[pid] = b"PREFECT__FLOW_RUN_ID=" in environ
        return self._flow_run_pids[pid]

    def _sample_processes(self) -> None:
        table = process_table()
        peaks = self.peaks
        peaks.samples += 1
        peaks.server_rss = max(peaks.server_rss, rss(tree(self.server_pid, table), table))
        total = own = flow_runs = 0
        for worker in self.workers:
            pids = tree(worker, table)
            mine = rss(pids, table)
            total += mine
            peaks.worker_rss[worker] = max(peaks.worker_rss.get(worker, 0), mine)
            roots = [
                pid
                for pid in pids
                if self._is_flow_run(pid) and not self._is_flow_run(table[pid][0])
            ]
            in_flow_runs = 0
            for root in roots:
                size = rss(tree(root, table), table)
                in_flow_runs += size
                peaks.flow_run_rss = max(peaks.flow_run_rss, size)
            own += mine - in_flow_runs
            flow_runs += len(roots)
        peaks.workers_rss = max(peaks.workers_rss, total)
        peaks.worker_own_rss = max(peaks.worker_own_rss, own)
        peaks.flow_run_processes = max(peaks.flow_run_processes, flow_runs)

    def _sample_connections(self, db: psycopg.Connection) -> None:
        rows = db.execute(
            "SELECT datname, count(*) FROM pg_stat_activity WHERE datname = ANY(%s) "
            "GROUP BY datname",
            (self._databases,),
        ).fetchall()
        for name, count in rows:
            self.peaks.connections[name] = max(self.peaks.connections.get(name, 0), count)

    def _sample_api(self, client: httpx.Client) -> None:
        with contextlib.suppress(httpx.HTTPError):
            answer = client.post(
                "/flow_runs/count",
                json={
                    "flow_runs": {
                        "state": {"type": {"any_": ["RUNNING"]}},
                        "parent_task_run_id": {"is_null_": True},
                    }
                },
            )
            if answer.status_code == 200:
                self.peaks.running_in_api = max(self.peaks.running_in_api, int(answer.json()))


def kill_tree(process: subprocess.Popen) -> None:
    """Stop a worker: SIGINT, then SIGKILL for it and everything under it after 15 s.

    Prefect starts each flow run in a session of its own, so the worker's process group
    does not hold them: they are found by their parent while the worker still lives.
    """
    below = tree(process.pid, process_table())
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    for pid in below:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()


# --- the facility ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(server: str, prefix: str) -> Iterator[str]:
    """A new, empty database on ``server``, dropped (connections and all) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(server, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Facility:
    """The server, the pool and the workers of one benchmark run, and its folders."""

    def __init__(self, settings: Settings, workdir: Path, api: str, ledger_url: str | None):
        self.settings, self.workdir, self.api = settings, workdir, api
        self.ledger_url = ledger_url
        self.pool = "facility"
        self.runs = workdir / "runs"
        self.campaigns = workdir / "campaigns"
        self.campaigns.mkdir(parents=True)
        self.workers: list[subprocess.Popen] = []
        self.worker_logs: list[Path] = []
        self.starts = 0
        simulators = workdir / "simulators"
        simulators.mkdir()
        (simulators / f"{SLOW_SIMULATOR_MODULE}.py").write_text(SLOW_SIMULATOR.lstrip())
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("PREFECT_", "TANSAKU_"))
        }
        self.env.update(
            PREFECT_API_URL=api,
            PREFECT_HOME=str(workdir / "client-prefect"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_WORKER_QUERY_SECONDS=str(settings.poll_seconds),
            TANSAKU_RUNS=str(self.runs),
            # The live campaigns of --shared-instrument name this module's simulator.
            PYTHONPATH=os.pathsep.join(
                [str(simulators), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            FACILITY_EXPERIMENT_SECONDS=str(settings.experiment_seconds),
            COLUMNS="200",
        )

    def prefect(self, *args: str) -> None:
        result = subprocess.run(
            [str(PREFECT), *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)}: {result.stdout}{result.stderr}")

    def create_pool(self) -> None:
        self.prefect("work-pool", "create", self.pool, "--type", "process")
        if self.settings.pool_limit is not None:
            self.prefect(
                "work-pool", "set-concurrency-limit", self.pool, str(self.settings.pool_limit)
            )

    def write_campaign(self, name: str, seed: int) -> Path:
        settings = self.settings
        if settings.shared_instrument:
            instrument = f"instrument: {INSTRUMENT}\n      slots: 1"
            simulator = f'{{type: function, function: "{SLOW_SIMULATOR_MODULE}:branin"}}'
        else:
            instrument, simulator = "", DRY_RUN_SIMULATOR
        text = CAMPAIGN.format(
            name=name,
            seed=seed,
            budget=settings.experiments,
            initial=min(4, settings.experiments),
            instrument=instrument,
            simulator=simulator,
        )
        path = self.campaigns / f"{name}.yaml"
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def deploy(self, batch: Batch, first_seed: int) -> None:
        """``tansaku deploy --start`` each campaign of ``batch`` (no worker runs yet)."""

        def one(index_name: tuple[int, str]) -> tuple[str, str, float]:
            index, name = index_name
            path = self.write_campaign(name, first_seed + index)
            command = [str(TANSAKU), "deploy", str(path), "--pool", self.pool, "--start"]
            if not self.settings.shared_instrument:
                command.append("--dry-run")
            if self.ledger_url is not None:
                command += ["--ledger", self.ledger_url]
            began = time.monotonic()
            result = subprocess.run(
                command, env=self.env, cwd=self.workdir, capture_output=True, text=True,
                timeout=300,
            )  # fmt: skip
            took = time.monotonic() - began
            found = re.search(r"Flow run ([0-9a-f-]{36})", result.stdout)
            if result.returncode != 0 or found is None:
                raise RuntimeError(f"tansaku deploy {name}: {result.stdout}{result.stderr}")
            return name, found.group(1), took

        with ThreadPoolExecutor(self.settings.deploy_parallel) as pool:
            for name, flow_run, took in pool.map(one, enumerate(batch.names)):
                batch.flow_runs[name] = flow_run
                batch.deploy_seconds.append(took)

    def start_workers(self) -> None:
        self.starts += 1
        for number in range(1, self.settings.workers + 1):
            folder = self.workdir / f"worker-{number}"
            folder.mkdir(exist_ok=True)
            path = folder / f"worker-{self.starts}.log"
            with open(path, "wb") as sink:
                process = subprocess.Popen(
                    [str(PREFECT), "worker", "start", "--pool", self.pool,
                     "--name", f"worker-{number}"],
                    cwd=folder, env=self.env, stdout=sink, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )  # fmt: skip
            self.workers.append(process)
            self.worker_logs.append(path)

    def stop_workers(self) -> None:
        while self.workers:
            kill_tree(self.workers.pop())

    def wait(self, batch: Batch, sampler: Sampler) -> None:
        """Until every flow run of ``batch`` is final, or the timeout."""
        ids = list(batch.flow_runs.values())
        deadline = time.monotonic() + self.settings.timeout
        with httpx.Client(base_url=self.api, timeout=30) as client:
            while True:
                answer = client.post("/flow_runs/filter", json={"flow_runs": {"id": {"any_": ids}}})
                answer.raise_for_status()
                runs = {run["id"]: run for run in answer.json()}
                done = sum(run["state_type"] in FINAL for run in runs.values())
                if done == len(ids):
                    break
                if time.monotonic() > deadline:
                    log(f"{batch.label}: timed out with {done}/{len(ids)} flow runs final")
                    break
                time.sleep(2)
        batch.runs = runs
        ends = [parse_time(run["end_time"]) for run in runs.values() if run["end_time"]]
        batch.ended = max(ends) if ends and done == len(ids) else time.time()
        batch.peaks = sampler.reset([])

    def run_batch(self, batch: Batch, first_seed: int, sampler: Sampler) -> None:
        log(f"{batch.label}: deploying {len(batch.names)} campaign(s)")
        self.deploy(batch, first_seed)
        log(
            f"{batch.label}: deployed in {sum(batch.deploy_seconds):.0f} s of CLI time; "
            "starting the workers"
        )
        batch.started = time.time()
        self.start_workers()
        sampler.reset([worker.pid for worker in self.workers])
        try:
            self.wait(batch, sampler)
        finally:
            self.stop_workers()
        log(f"{batch.label}: {batch.wall:.1f} s from the workers' start to the last end")


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- checks ---------------------------------------------------------------------------


def subflows(api: str, parent: str) -> set[str]:
    """The flow runs started inside flow run ``parent`` (the campaign flow of a deployment)."""
    answer = httpx.post(
        f"{api}/flow_runs/filter",
        json={"flow_runs": {"parent_flow_run_id": {"any_": [parent]}}},
        timeout=30,
    )
    answer.raise_for_status()
    return {run["id"] for run in answer.json()}


def check_campaign(facility: Facility, name: str, flow_run: dict[str, Any]) -> list[str]:
    """What is wrong with campaign ``name`` (nothing: an empty list)."""
    from sqlalchemy import func, select

    from tansaku.ledger import Ledger
    from tansaku.ledger import tables as ledger_tables
    from tansaku.ledger.location import campaign_schema, read_pointer

    budget = facility.settings.experiments
    problems = []
    if flow_run["state_type"] != "COMPLETED":
        problems.append(f"flow run {flow_run['id']} ended {flow_run['state_type']}")
    run_dir = facility.runs / name
    shared = read_pointer(run_dir)
    if (facility.ledger_url is None) != (shared is None):
        problems.append(f"ledger {'SQLite' if shared is None else 'PostgreSQL'}, not as asked")
    elif shared is not None and shared.schema != campaign_schema(run_dir):
        problems.append(f"schema {shared.schema}, not {campaign_schema(run_dir)}")
    try:
        ledger = Ledger.open(run_dir, create=False)
    except Exception as error:  # noqa: BLE001 - any reason is reported, and the rest go on
        return [*problems, f"ledger unreadable: {error}"]
    try:
        record = ledger.campaign()
        experiments = ledger.experiments()
        with ledger.engine.connect() as connection:
            results = connection.execute(select(func.count()).select_from(ledger_tables.results))
            result_rows = int(results.scalar_one())
            sessions = connection.execute(select(ledger_tables.sessions.c.flow_run_id)).all()
    finally:
        ledger.close()
    if record is None or record.name != name:
        problems.append(f"campaign in its ledger is {record and record.name!r}")
    elif not (record.stop_reason and "budget" in record.stop_reason):
        problems.append(f"stopped: {record.stop_reason!r}")
    ids = [experiment.id for experiment in experiments]
    if ids != list(range(1, budget + 1)):
        problems.append(f"experiment ids {ids}, not 1..{budget}")
    not_done = [e.id for e in experiments if e.status != "done"]
    if not_done:
        problems.append(f"experiments not done: {not_done}")
    if result_rows != budget:
        problems.append(f"{result_rows} results, not {budget}")
    wrong = [
        e.id
        for e in experiments
        if e.objective is None
        or not math.isclose(
            e.objective, branin(e.parameters["x1"], e.parameters["x2"]), rel_tol=1e-9, abs_tol=1e-9
        )
    ]
    if wrong:
        problems.append(f"results that are not Branin at their experiment's point: {wrong}")
    recorded = {row[0] for row in sessions}
    expected = subflows(facility.api, flow_run["id"])
    if len(sessions) != 1 or not recorded <= expected:
        problems.append(
            f"ledger sessions {sorted(map(str, recorded))} are not the one campaign flow of "
            f"its flow run {flow_run['id']} ({sorted(expected)})"
        )
    return problems


def check_ledger_database(facility: Facility, names: Sequence[str], ledger_db: str) -> Check:
    """The shared ledger holds the campaigns' schemas and rows, and nothing else."""
    from tansaku.ledger.location import campaign_schema

    url = database_url(facility.settings.postgres, ledger_db)
    with psycopg.connect(url) as db:
        schemas = {
            row[0]
            for row in db.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tansaku%%'"
            ).fetchall()
        }
        rows = {
            schema: db.execute(f'SELECT count(*) FROM "{schema}".results').fetchone()[0]
            for schema in sorted(schemas)
        }
    expected = {campaign_schema(facility.runs / name) for name in names}
    total = sum(rows.values())
    wanted = len(names) * facility.settings.experiments
    passed = schemas == expected and total == wanted
    detail = f"{len(schemas)} schemas, {total} result rows in all (expected {len(expected)}, "
    detail += f"{wanted})"
    if schemas != expected:
        detail += f"; extra {sorted(schemas - expected)}, missing {sorted(expected - schemas)}"
    return Check("ledger database: only the campaigns' schemas and rows", passed, detail)


def bad_lines(path: Path, start: int = 0, end: int | None = None) -> list[str]:
    """Lines of the log at ``path`` (bytes ``start``..``end``) naming a bad word."""
    with open(path, "rb") as stream:
        stream.seek(start)
        text = stream.read(None if end is None else end - start).decode(errors="replace")
    return [line for line in text.splitlines() if any(word in line for word in BAD_LOG_WORDS)]


def flow_run_logs(api: str) -> list[str]:
    """Every log line the flow runs sent to the Prefect server (its database is this
    benchmark's own, so all of them are the benchmark's)."""
    lines: list[str] = []
    with httpx.Client(base_url=api, timeout=30) as client:
        while True:
            answer = client.post(
                "/logs/filter", json={"limit": 200, "offset": len(lines), "sort": "TIMESTAMP_ASC"}
            )
            answer.raise_for_status()
            page = answer.json()
            lines += [f"{entry['name']} {entry['message']}" for entry in page]
            if len(page) < 200:
                return lines


def check_logs(
    facility: Facility, server_log: Path, server_end: int, api_lines: Sequence[str]
) -> tuple[Check, list[str]]:
    """Bad words in the workers', the server's (up to its shutdown), the runs' logs and the
    flow runs' logs in the Prefect API."""
    found: dict[str, list[str]] = {}
    api_bad = [line for line in api_lines if any(word in line for word in BAD_LOG_WORDS)]
    if api_bad:
        found["flow run logs (API)"] = api_bad
    logs = [*facility.worker_logs, *sorted(facility.runs.glob("*/tansaku.log"))]
    for path in logs:
        lines = bad_lines(path)
        if lines:
            found[str(path.relative_to(facility.workdir))] = lines
    server = bad_lines(server_log, 0, server_end)
    if server:
        found["server log"] = server
    counts = {
        word: sum(word in line for lines in found.values() for line in lines)
        for word in BAD_LOG_WORDS
    }
    in_runs = len(logs) - len(facility.worker_logs)
    detail = (
        f"{len(facility.worker_logs)} worker logs, the server's, {in_runs} run directory logs, "
        f"{len(api_lines)} flow run log lines in the API; "
    ) + ", ".join(f"{w!r}: {n}" for w, n in counts.items())
    examples = [f"{where}: {lines[0].strip()[:300]}" for where, lines in found.items()][:10]
    return Check("no lock, timeout or traceback in any log", not found, detail), examples


def intervals(facility: Facility, name: str) -> list[tuple[datetime, datetime]]:
    """Each experiment's wall-clock time on the instrument: the ledger's ``running`` (the
    slot already held) to its result (the slot still held)."""
    from sqlalchemy import select

    from tansaku.ledger import Ledger
    from tansaku.ledger import tables as ledger_tables

    t = ledger_tables.transitions
    ledger = Ledger.open(facility.runs / name, create=False)
    try:
        with ledger.engine.connect() as connection:
            rows = connection.execute(
                select(t.c.experiment_id, t.c.status, t.c.at)
                .where(t.c.status.in_(["running", "done", "failed"]))
                .order_by(t.c.id)
            ).all()
    finally:
        ledger.close()
    started: dict[int, datetime] = {}
    spans = []
    for experiment_id, status, at in rows:
        if status == "running":
            started.setdefault(experiment_id, at)
        elif experiment_id in started:
            spans.append((started.pop(experiment_id), at))
    return spans


def check_shared_instrument(
    facility: Facility, names: Sequence[str], api_lines: Sequence[str]
) -> list[Check]:
    a, b = (intervals(facility, name) for name in names)
    overlapping = [(x, y) for x in a for y in b if x[0] < y[1] and y[0] < x[1]]
    together = bool(a and b) and a[0][0] < b[-1][1] and b[0][0] < a[-1][1]
    # A deployed run's log is its flow run's, in the Prefect API (and the worker's output).
    waited = any(f"waiting for instrument {INSTRUMENT}" in line for line in api_lines)
    on_instrument = sum((end - begin).total_seconds() for begin, end in a + b)
    span = (max(e for _, e in a + b) - min(s for s, _ in a + b)).total_seconds() if a and b else 0
    return [
        Check(
            "shared instrument: the two campaigns ran at the same time",
            together,
            f"{len(a)} and {len(b)} wall-clock running→done intervals",
        ),
        Check(
            "shared instrument: no two experiments on it at once (ledger wall-clock intervals)",
            bool(a and b) and not overlapping,
            f"{len(overlapping)} overlapping pairs; instrument busy {on_instrument:.1f} s of "
            f"{span:.1f} s from the first start to the last end",
        ),
        Check(
            "shared instrument: a campaign's flow run logged that it waited for it",
            waited,
            f"{len(api_lines)} flow run log lines searched",
        ),
    ]


# --- the run --------------------------------------------------------------------------


def megabytes(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def per_experiment(batch: Batch, experiments: int) -> float:
    return batch.wall / (len(batch.names) * experiments)


def durations(batch: Batch) -> list[float]:
    """Each flow run's own time, from its start (in its process) to its end."""
    return sorted(
        parse_time(run["end_time"]) - parse_time(run["start_time"])
        for run in batch.runs.values()
        if run["start_time"] and run["end_time"]
    )


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def run(settings: Settings) -> tuple[str, bool]:
    """Run one configuration; the Markdown report and whether every check passed."""
    from tansaku.flows.prefect_server import ensure_server, stop_server

    began_at = datetime.now(UTC)
    load_before = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="tansaku-facility-"))
    home = workdir / "server-prefect"
    checks: list[Check] = []
    examples: list[str] = []
    batches: list[Batch] = []
    deadline_hit = False
    with contextlib.ExitStack() as stack:
        prefect_db = stack.enter_context(fresh_database(settings.postgres, "tansaku_bench_prefect"))
        ledger_db = stack.enter_context(fresh_database(settings.postgres, "tansaku_bench_ledger"))
        log(f"databases {prefect_db}, {ledger_db}; starting the Prefect server")
        started = time.monotonic()
        stack.callback(stop_server, home)
        server = ensure_server(
            home, port=free_port(), database=database_url(settings.postgres, prefect_db)
        )
        server_start = time.monotonic() - started
        uses_postgres = settings.ledger == "postgresql" or settings.shared_instrument
        ledger_url = database_url(settings.postgres, ledger_db) if uses_postgres else None
        facility = Facility(settings, workdir, server.api_url, ledger_url)
        stack.callback(facility.stop_workers)
        facility.create_pool()
        sampler = stack.enter_context(
            Sampler(server.pid, settings.postgres, [prefect_db, ledger_db], server.api_url)
        )
        if settings.shared_instrument:
            batches.append(Batch("shared instrument", ["shared-a", "shared-b"]))
        else:
            if settings.baseline:
                batches.append(Batch("alone", ["scale-alone"]))
            names = [f"scale-{i:03d}" for i in range(1, settings.campaigns + 1)]
            batches.append(Batch(f"{settings.campaigns} campaigns", names))
        for number, batch in enumerate(batches):
            facility.run_batch(batch, first_seed=1000 * number, sampler=sampler)
            deadline_hit |= any(run["state_type"] not in FINAL for run in batch.runs.values())
        server_end = Path(server.log).stat().st_size
        log("checking the ledgers and the logs")
        all_names = [name for batch in batches for name in batch.names]
        failing: dict[str, list[str]] = {}
        for batch in batches:
            for name in batch.names:
                problems = check_campaign(facility, name, batch.runs[batch.flow_runs[name]])
                if problems:
                    failing[name] = problems
        checks.append(
            Check(
                f"every campaign: completed, exactly its {settings.experiments} experiments "
                "(ids 1..budget, all done, one result each, Branin at its point), its own name "
                "and flow run in its own ledger",
                not failing,
                f"{len(all_names) - len(failing)} of {len(all_names)} campaigns sound",
            )
        )
        examples += [f"{name}: {'; '.join(problems)}" for name, problems in failing.items()][:10]
        if ledger_url is not None:
            checks.append(check_ledger_database(facility, all_names, ledger_db))
        api_lines = flow_run_logs(server.api_url)
        if settings.shared_instrument:
            checks += check_shared_instrument(facility, batches[0].names, api_lines)
        else:
            main = batches[-1]
            at_once = min(settings.campaigns, settings.pool_limit or settings.campaigns)
            peak = main.peaks.running_in_api
            if settings.pool_limit is None:
                passed, wanted = peak >= at_once, f"all {at_once}"
            else:
                passed, wanted = 0 < peak <= settings.pool_limit, f"at most {at_once}"
            checks.append(
                Check(
                    f"flow runs running at once (API, sampled every 2 s): {wanted}",
                    passed,
                    f"peak {peak} RUNNING; {main.peaks.flow_run_processes} flow-run processes",
                )
            )
        stop_server(home)
        log_check, log_examples = check_logs(facility, Path(server.log), server_end, api_lines)
        checks.append(log_check)
        examples += log_examples
        shutdown_noise = bad_lines(Path(server.log), server_end)
        if settings.keep:
            log(f"kept {workdir}")
            stack.pop_all()
        else:
            stack.callback(shutil.rmtree, workdir, True)
    if deadline_hit:
        checks.append(Check(f"every flow run ended within {settings.timeout:.0f} s", False))
    report = render(
        settings, batches, checks, examples, began_at, load_before, load_average(),
        server_start, len(shutdown_noise),
    )  # fmt: skip
    return report, all(check.passed for check in checks)


def render(
    settings: Settings,
    batches: Sequence[Batch],
    checks: Sequence[Check],
    examples: Sequence[str],
    began_at: datetime,
    load_before: str,
    load_after: str,
    server_start: float,
    shutdown_noise: int,
) -> str:
    """The Markdown report of one configuration."""
    if settings.shared_instrument:
        title = f"two live campaigns of {settings.experiments} on one `slots: 1` instrument"
    else:
        title = f"{settings.campaigns} dry-run campaigns of {settings.experiments} experiments"
    on_postgres = settings.ledger == "postgresql" or settings.shared_instrument
    ledger = "PostgreSQL" if on_postgres else "SQLite"
    lines = [
        f"# Facility scale: {title}, ledger on {ledger}",
        "",
        f"{began_at:%Y-%m-%d %H:%M} UTC, `{command_line()}`",
        "",
        f"Load average (1, 5, 15 min) before: {load_before}; after: {load_after} "
        f"({os.cpu_count()} cores, shared with other work).",
        f"Prefect server on PostgreSQL (started in {server_start:.1f} s on an empty database), "
        f"{settings.workers} `prefect worker start` processes on one process work pool"
        + (
            f" with concurrency limit {settings.pool_limit}"
            if settings.pool_limit
            else " without a concurrency limit"
        )
        + f"; workers ask for work every {settings.poll_seconds:g} s "
        "(PREFECT_WORKER_QUERY_SECONDS; Prefect's default is 10).",
        versions_text(package_versions(["tansaku", "prefect", "botorch", "torch", "psycopg"])),
        "",
    ]
    rows = []
    alone = next((b for b in batches if b.label == "alone"), None)
    for batch in batches:
        own = durations(batch)
        peaks = batch.peaks
        rows.append(
            [
                batch.label,
                str(len(batch.names)),
                f"{batch.wall:.1f}",
                f"{per_experiment(batch, settings.experiments):.2f}",
                f"{median(own):.1f} ({min(own):.1f} to {max(own):.1f})" if own else "-",
                f"{median(batch.deploy_seconds):.1f}",
                megabytes(peaks.server_rss),
                megabytes(peaks.workers_rss),
                megabytes(peaks.worker_own_rss),
                megabytes(peaks.flow_run_rss),
                f"{peaks.running_in_api} / {peaks.flow_run_processes}",
                " / ".join(str(n) for n in peaks.connections.values()) or "-",
            ]
        )
    lines += [
        markdown_table(
            [
                "batch",
                "campaigns",
                "wall s (workers' start → last end)",
                "s per experiment (wall / all experiments)",
                "flow run s, median (range)",
                "deploy CLI s, median",
                "server peak RSS",
                "workers' peak RSS (trees, flow runs included)",
                "workers without flow runs, peak",
                "one flow run, peak",
                "peak running (API / processes)",
                "peak PostgreSQL connections (Prefect / ledger)",
            ],
            rows,
        ),
        "",
    ]
    if alone is not None and len(batches) > 1:
        main = batches[-1]
        budget = settings.experiments
        alone_each = median(durations(alone)) / budget
        main_each = median(durations(main)) / budget
        throughput = per_experiment(main, budget) / per_experiment(alone, budget)
        lines += [
            f"Overhead ratio (time per experiment in a campaign's own flow run, median, "
            f"{main.label} at once against one campaign alone through the same pool): "
            f"**{main_each / alone_each:.2f}** ({main_each:.2f} s against {alone_each:.2f} s). "
            f"Facility throughput (wall time from the workers' start over all experiments): "
            f"{per_experiment(main, budget):.2f} s per experiment against "
            f"{per_experiment(alone, budget):.2f} s alone, a ratio of {throughput:.2f} "
            "(below 1: the facility gets more done per second than one campaign alone; the "
            "workers' start, about 10 s, weighs on the single campaign's figure).",
            "",
        ]
    lines += [
        "RSS sums count pages shared between processes (libraries) once per process, so the "
        "trees' sums overstate what they take together; one flow run's peak is exact.",
        "",
        "## Checks",
        "",
        markdown_table(
            ["check", "result", "detail"],
            [[c.what, "pass" if c.passed else "**FAIL**", c.detail] for c in checks],
        ),
        "",
    ]
    if examples:
        lines += ["What failed (first of each):", "", *[f"- `{e}`" for e in examples], ""]
    lines += [
        f"The server log after the server was told to stop held {shutdown_noise} line(s) "
        "with those words (shutdown, not checked).",
        "",
    ]
    return "\n".join(lines)


def parse(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=20)
    parser.add_argument("--experiments", type=int, default=10, help="budget of each campaign")
    parser.add_argument("--ledger", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pool-limit", type=int, help="the work pool's concurrency limit")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll-seconds", type=float, default=2.0,
                        help="PREFECT_WORKER_QUERY_SECONDS of the workers")  # fmt: skip
    parser.add_argument("--shared-instrument", action="store_true",
                        help="two live campaigns on one slots: 1 simulated instrument")  # fmt: skip
    parser.add_argument("--experiment-seconds", type=float, default=1.0,
                        help="real seconds of each --shared-instrument experiment")  # fmt: skip
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the campaign run alone first")  # fmt: skip
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="a PostgreSQL server URL whose role may create databases")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds a batch may take before it counts as failed")  # fmt: skip
    parser.add_argument("--deploy-parallel", type=int, default=2,
                        help="tansaku deploy commands at once (no worker runs then)")  # fmt: skip
    parser.add_argument("--output", type=Path, help="the Markdown report (default under "
                        "benchmarks/results/)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs)")
    args = parser.parse_args(argv)
    settings = Settings(
        campaigns=2 if args.shared_instrument else args.campaigns,
        experiments=args.experiments,
        ledger=args.ledger,
        pool_limit=args.pool_limit,
        workers=args.workers,
        poll_seconds=args.poll_seconds,
        shared_instrument=args.shared_instrument,
        experiment_seconds=args.experiment_seconds,
        baseline=args.baseline and not args.shared_instrument,
        postgres=args.postgres,
        timeout=args.timeout,
        deploy_parallel=args.deploy_parallel,
        keep=args.keep,
        output=args.output or default_output(args),
    )
    return settings


def default_output(args: argparse.Namespace) -> Path:
    """``benchmarks/results/facility_scale_<configuration>.md``."""
    if args.shared_instrument:
        name = "shared_instrument"
    else:
        name = f"{args.campaigns}x{args.experiments}_{args.ledger}"
    return REPO / "benchmarks" / "results" / f"facility_scale_{name}.md"


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse(argv)
    output = settings.output
    report, passed = run(settings)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report, encoding="utf-8")
    print(report)
    log(f"report in {output}; {'every check passed' if passed else 'A CHECK FAILED'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
