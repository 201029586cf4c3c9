"""The ledger: every proposal and every result of a campaign, committed before acting.

It is the campaign's single source of truth. The flow writes a proposal before it is
sent, marks it running before the driver starts, and writes the result in the same
transaction that closes the experiment; a restarted campaign reads it back and carries on.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.pool import ConnectionPoolEntry

from tansaku.database_url import masked
from tansaku.errors import FAILED, InputError, RunDirectoryError
from tansaku.ledger import postgres, tables
from tansaku.ledger.location import (
    LedgerPointerError,
    LedgerUnreachableError,
    SharedLedger,
    campaign_schema,
    parse_ledger_url,
    read_pointer,
    same_database,
    write_pointer,
)
from tansaku.ledger.migrations import LedgerTooNewError, migrate

LEDGER_FILE = "ledger.sqlite"

Status = Literal["proposed", "running", "done", "failed", "rejected"]
"""``rejected``: a person refused the proposal (``driver.approve``); it never ran."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class LedgerMismatchError(RunDirectoryError):
    """The run directory holds another campaign, or the same one in another mode."""


class LedgerMissingError(RunDirectoryError, FileNotFoundError):
    """The directory holds no ledger: no campaign has run there."""


class LedgerUnreadableError(RunDirectoryError):
    """The ledger file is there but is no readable ledger: empty, truncated or corrupt.

    Nothing is written over it: it may be the only copy of a campaign's results.
    """


class ExperimentStateError(InputError):
    """A request about an experiment that is not in the state it needs: no such id, not
    waiting for a result, already answered or already decided. Nothing was written."""


class LedgerChangedError(RunDirectoryError):
    """Another process wrote to the ledger between reading it and writing proposals."""


class LedgerWriteError(RunDirectoryError):
    """The ledger cannot be written: a read-only or full disk, a vanished directory.

    The transaction that failed was rolled back; everything committed before it stands.
    """

    exit_code = FAILED  # the run had started: what it recorded stands, it could not go on


@dataclass(frozen=True)
class ExperimentRecord:
    """An experiment as the ledger knows it, with its result once there is one."""

    id: int
    batch: int
    parameters: dict[str, Any]
    method: str
    proposer: dict[str, Any]
    status: Status
    attempts: int
    proposed_at: datetime
    updated_at: datetime
    objective: float | None = None
    values: dict[str, Any] | None = None
    """Every quantity the instrument reported, by name (the objective among them)."""
    failure: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    driver_seconds: float | None = None
    actual: dict[str, Any] | None = None
    """The parameter values really used, where a person told them apart from the proposal."""
    approved: bool | None = None
    """A person's decision on the proposal (``driver.approve``); ``None`` before one."""
    decision_reason: str | None = None
    """Why the person refused it."""

    @property
    def point(self) -> dict[str, Any]:
        """Where the experiment was really made: what the model learns from."""
        return self.actual if self.actual is not None else self.parameters


@dataclass(frozen=True)
class PriorRecord:
    """A measurement made before the campaign: its line in the file, parameters, readings."""

    line: int
    parameters: dict[str, Any]
    values: dict[str, float]
    source_path: str


@dataclass(frozen=True)
class Version:
    """The ledger at one moment (:meth:`Ledger.version`): equal readings, no change between."""

    changes: int
    """The latest experiment transition."""
    revisions: int
    """The latest revision of the plan."""


@dataclass(frozen=True)
class RevisionRecord:
    """A change to the campaign's settings made mid-campaign (``tansaku revise``)."""

    id: int
    at: datetime
    by: str
    source_path: str
    diff: str


@dataclass(frozen=True)
class CampaignRecord:
    name: str
    mode: str
    snapshot: dict[str, Any]
    source_path: str
    created_at: datetime
    clock_start: datetime
    stop_reason: str | None
    stopped_at: datetime | None
    source_text: str = ""
    """The campaign file as last run or revised: what ``tansaku tell`` checks answers by."""


class Ledger:
    """Read and write one campaign's ledger.

    Args:
        engine: a SQLAlchemy engine; :meth:`open` makes the SQLite one for a run directory.
    """

    def __init__(
        self, engine: Engine, run_dir: Path | None = None, shared: SharedLedger | None = None
    ) -> None:
        self.engine = engine
        self.run_dir = run_dir
        """The run directory the ledger belongs to, named in its refusals."""
        self._shared = shared
        self._runner: postgres.RunnerLock | None = None

    @classmethod
    def open(
        cls, run_dir: str | os.PathLike[str], create: bool = True, url: str | None = None
    ) -> Ledger:
        """The ledger of ``run_dir``: the SQLite file in it (WAL mode, durable commits),
        or the shared PostgreSQL ledger it points at (``ledger.json``) or ``url`` names.

        With ``url`` and ``create``, a new run directory is pointed at that ledger. Raises
        :class:`LedgerUnreadableError` for a file that is not a sound ledger (it is left as
        it is), :class:`LedgerWriteError` where a new one cannot be written, and
        :class:`~tansaku.ledger.location.LedgerUnreachableError` for a database that does
        not answer or refuses.
        """
        run_dir = Path(run_dir)
        shared = read_pointer(run_dir)
        if url is not None:
            shared = _shared_for(run_dir, shared, url)
        if shared is not None:
            return cls._open_shared(run_dir, shared, create)
        path = run_dir / LEDGER_FILE
        if not create and not path.is_file():
            raise LedgerMissingError(f"{run_dir} holds no campaign ledger ({LEDGER_FILE})")
        if path.is_file() and path.stat().st_size == 0:
            # SQLite would take an empty file for a new database and start a new campaign
            # over what may be a truncated copy of a real one.
            raise LedgerUnreadableError(
                f"{path} is empty (0 bytes), so it holds no campaign; nothing was written "
                "over it. Restore it from a backup, or move it away to start the campaign "
                "afresh in this directory."
            )
        engine = create_engine(f"sqlite:///{path}")
        event.listen(engine, "connect", _sqlite_pragmas)
        try:
            _prepare(engine, path, create)
        except (LedgerUnreadableError, LedgerWriteError, LedgerTooNewError):
            engine.dispose()
            raise
        return cls(engine, run_dir)

    @classmethod
    def _open_shared(cls, run_dir: Path, shared: SharedLedger, create: bool) -> Ledger:
        engine = postgres.engine_for(shared)
        where = f"the ledger {masked(shared.url)} (schema {shared.schema})"
        try:
            with engine.begin() as connection:
                if not postgres.schema_exists(connection, shared.schema):
                    if not create:
                        raise LedgerMissingError(
                            f"{where} holds no campaign for {run_dir}: nothing has run there"
                        )
                    postgres.create_schema(connection, shared.schema)
                postgres.take_write_lock(connection, shared.schema)
                migrate(connection, where)
        except (OperationalError, ProgrammingError) as error:
            engine.dispose()
            raise LedgerUnreachableError(
                f"cannot use the ledger {masked(shared.url)}: {postgres.reason(error)}. "
                "Check the URL, that the server runs and that this role may create a schema "
                "there; nothing was created."
            ) from None
        except (LedgerMissingError, LedgerTooNewError):
            engine.dispose()
            raise
        if create:
            write_pointer(run_dir, shared)
        return cls(engine, run_dir, shared)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.release()
            self._runner = None
        self.engine.dispose()

    @property
    def shared(self) -> SharedLedger | None:
        """The shared database and schema holding this ledger; ``None`` for SQLite."""
        return self._shared

    @contextmanager
    def hold_runner(self) -> Iterator[None]:
        """Be the campaign's one runner while inside; a second is refused at once.

        On SQLite the run directory's lock already is the runner's lock. On PostgreSQL an
        advisory lock is taken, which the server drops when this process dies; each write
        checks it is still held (a database restart drops it) and takes it again.
        Raises :class:`~tansaku.ledger.postgres.CampaignBusyError` where it is taken.
        """
        if self._shared is None:
            yield
            return
        runner = postgres.RunnerLock(postgres.engine_for(self._shared, pooled=False), self._shared)
        try:
            runner.acquire()
        except OperationalError as error:
            raise self._unavailable(error) from None
        self._runner = runner
        try:
            yield
        finally:
            self._runner = None
            runner.release()
            runner.engine.dispose()

    def is_running(self) -> bool | None:
        """Whether a runner holds this shared ledger's campaign, on any machine;
        ``None`` for SQLite, whose runner holds the run directory's lock instead."""
        if self._shared is None:
            return None
        with self._read() as connection:
            return postgres.is_running(connection, self._shared.schema)

    @property
    def _where(self) -> str:
        return f"{self.run_dir}: " if self.run_dir else ""

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, which writers of this campaign take in turns: what it
        reads (the next id, an experiment's status) holds until it commits, even with
        another process (``tansaku tell`` beside ``tansaku run``) writing too. SQLite
        takes its write lock at the start; PostgreSQL the campaign's write lock."""
        try:
            if self._shared is None:
                with self.engine.begin() as connection:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                    yield connection
                return
            with postgres.connect(self.engine) as connection, connection.begin():
                postgres.take_write_lock(connection, self._shared.schema)
                if self._runner is not None:
                    self._runner.ensure(connection)
                yield connection
        except OperationalError as error:
            if self._shared is None:
                raise LedgerWriteError(
                    _unwritable(Path(str(self.engine.url.database)), error)
                ) from None
            raise self._unavailable(error) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection to read with; a shared ledger waits a while for its database."""
        if self._shared is None:
            with self.engine.connect() as connection:
                yield connection
            return
        try:
            with postgres.connect(self.engine) as connection:
                yield connection
        except OperationalError as error:
            raise self._unavailable(error) from None

    def _unavailable(self, error: OperationalError) -> LedgerWriteError:
        assert self._shared is not None
        return LedgerWriteError(
            f"lost the ledger {masked(self._shared.url)} ({postgres.reason(error)}); what was "
            "recorded before stands. Run the same command again once the database answers."
        )

    # The campaign ----------------------------------------------------------------------

    def campaign(self) -> CampaignRecord | None:
        with self._read() as connection:
            row = connection.execute(select(tables.campaign)).mappings().first()
        if row is None:
            return None
        return CampaignRecord(
            name=row["name"],
            mode=row["mode"],
            snapshot=row["snapshot"],
            source_path=row["source_path"],
            created_at=row["created_at"],
            clock_start=row["clock_start"],
            stop_reason=row["stop_reason"],
            stopped_at=row["stopped_at"],
            source_text=row["source_text"],
        )

    def start_campaign(
        self,
        *,
        name: str,
        fingerprint: str,
        mode: str,
        source_path: str,
        source_text: str,
        snapshot: Mapping[str, Any],
        clock_start: datetime,
    ) -> CampaignRecord:
        """Record the campaign, or check that this directory already holds the same one.

        A resume may change the budget or the description; anything else that shapes the
        data (space, objective, seed, proposer, driver) must match.
        """
        existing = self.campaign_fingerprint()
        with self._write() as connection:
            if existing is None:
                connection.execute(
                    insert(tables.campaign).values(
                        id=1,
                        name=name,
                        schema_version=tables.SCHEMA_VERSION,
                        fingerprint=fingerprint,
                        mode=mode,
                        source_path=source_path,
                        source_text=source_text,
                        snapshot=dict(snapshot),
                        created_at=utcnow(),
                        clock_start=clock_start,
                    )
                )
            else:
                self._refuse_another(existing, name, fingerprint, mode)
                connection.execute(
                    update(tables.campaign).values(
                        source_path=source_path, source_text=source_text, snapshot=dict(snapshot)
                    )
                )
        record = self.campaign()
        assert record is not None
        return record

    def check_same_campaign(self, *, name: str, fingerprint: str, mode: str) -> None:
        """Raise :class:`LedgerMismatchError` unless the ledger holds this very campaign
        (or none yet); writes nothing."""
        existing = self.campaign_fingerprint()
        if existing is not None:
            self._refuse_another(existing, name, fingerprint, mode)

    def _refuse_another(
        self, existing: tuple[str, str, str], name: str, fingerprint: str, mode: str
    ) -> None:
        stored_name, stored_fingerprint, stored_mode = existing
        if stored_name != name or stored_fingerprint != fingerprint:
            raise LedgerMismatchError(
                f"{self._where}this run directory holds campaign {stored_name!r} "
                "with other settings; only the budget, stop rules and description may "
                "change between runs. Use a new --run-dir for a changed campaign, or "
                "`tansaku revise` to change this one's plan on the record."
            )
        if stored_mode != mode:
            raise LedgerMismatchError(
                f"{self._where}this run directory holds a {stored_mode} campaign; "
                f"it cannot be continued as {mode}, or simulated and real results "
                "would mix. Use a new --run-dir."
            )

    def campaign_fingerprint(self) -> tuple[str, str, str] | None:
        with self._read() as connection:
            row = connection.execute(
                select(
                    tables.campaign.c.name, tables.campaign.c.fingerprint, tables.campaign.c.mode
                )
            ).first()
        return None if row is None else (row[0], row[1], row[2])

    def record_stop(self, reason: str) -> None:
        """Close the campaign: it reached its budget or another stopping rule."""
        with self._write() as connection:
            connection.execute(
                update(tables.campaign).values(stop_reason=reason, stopped_at=utcnow())
            )

    def reopen(self) -> None:
        """Clear the stop reason: a raised budget lets a finished campaign go on."""
        with self._write() as connection:
            connection.execute(update(tables.campaign).values(stop_reason=None, stopped_at=None))

    # Prior data: earlier measurements, kept apart from this campaign's experiments ------

    def record_prior(self, measurements: Sequence[PriorRecord]) -> None:
        """Store the campaign's prior data once; a resume keeps what the first run stored."""
        now = utcnow()
        with self._write() as connection:
            stored = select(func.count()).select_from(tables.prior_measurements)
            if connection.execute(stored).scalar():
                return
            for measurement in measurements:
                connection.execute(
                    insert(tables.prior_measurements).values(
                        line=measurement.line,
                        parameters=dict(measurement.parameters),
                        values=dict(measurement.values),
                        source_path=measurement.source_path,
                        recorded_at=now,
                    )
                )

    def prior(self) -> list[PriorRecord]:
        """The earlier measurements this campaign learns from, in file order."""
        p = tables.prior_measurements
        with self._read() as connection:
            rows = connection.execute(
                select(p.c.line, p.c.parameters, p.c["values"], p.c.source_path).order_by(p.c.line)
            ).mappings()
            return [PriorRecord(**dict(row)) for row in rows]

    # Sessions: one per `tansaku run` process ---------------------------------------------

    def start_session(self) -> int:
        with self._write() as connection:
            result = connection.execute(
                insert(tables.sessions).values(
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    started_at=utcnow(),
                )
            )
        return int(result.inserted_primary_key[0])

    def set_session_flow_run(self, session: int, flow_run_id: str) -> None:
        with self._write() as connection:
            connection.execute(
                update(tables.sessions)
                .where(tables.sessions.c.id == session)
                .values(flow_run_id=flow_run_id)
            )

    def end_session(self, session: int, outcome: str) -> None:
        with self._write() as connection:
            connection.execute(
                update(tables.sessions)
                .where(tables.sessions.c.id == session)
                .values(ended_at=utcnow(), outcome=outcome)
            )

    def set_waiting(self, session: int, instrument: str | None) -> None:
        """Note that ``session`` waits for ``instrument`` (another campaign has it), or
        with ``None`` that it no longer waits."""
        with self._write() as connection:
            connection.execute(
                update(tables.sessions)
                .where(tables.sessions.c.id == session)
                .values(waiting_for=instrument, waiting_since=utcnow() if instrument else None)
            )

    def waiting(self) -> tuple[str, datetime] | None:
        """The instrument the live session waits for and since when, if it waits."""
        s = tables.sessions
        with self._read() as connection:
            row = connection.execute(
                select(s.c.waiting_for, s.c.waiting_since)
                .where(s.c.ended_at.is_(None), s.c.waiting_for.is_not(None))
                .order_by(s.c.id.desc())
            ).first()
        return None if row is None else (row[0], row[1])

    def record_ports(
        self, session: int, ports: Mapping[str, str], overridden: Collection[str]
    ) -> None:
        """Where this session found each device of the instrument."""
        with self._write() as connection:
            for device, port in ports.items():
                connection.execute(
                    insert(tables.session_ports).values(
                        session_id=session,
                        device=device,
                        port=port,
                        overridden=device in overridden,
                    )
                )

    def last_ports(self) -> dict[str, str]:
        """Device → port of the latest session that recorded any."""
        p = tables.session_ports
        with self._read() as connection:
            latest = connection.execute(select(func.max(p.c.session_id))).scalar()
            rows = connection.execute(
                select(p.c.device, p.c.port).where(p.c.session_id == latest)
            ).all()
        return {device: port for device, port in rows}

    def close_dead_sessions(self) -> list[str]:
        """Mark sessions that a killed process left open as ``died``.

        Call it only while holding the run directory's lock, when no other session can be
        alive. Returns their Prefect flow run ids, which Prefect still shows as running.
        """
        open_sessions = tables.sessions.c.ended_at.is_(None)
        with self._write() as connection:
            flow_runs = list(
                connection.execute(
                    select(tables.sessions.c.flow_run_id).where(open_sessions)
                ).scalars()
            )
            connection.execute(
                update(tables.sessions)
                .where(open_sessions)
                .values(outcome="died", ended_at=utcnow())
            )
        return [flow_run for flow_run in flow_runs if flow_run]

    # Experiments -----------------------------------------------------------------------

    def record_proposals(
        self,
        proposals: Sequence[Mapping[str, Any]],
        *,
        status: Literal["proposed", "running"] = "proposed",
        unless_changed_since: Version | None = None,
    ) -> list[int]:
        """Commit new experiments as ``proposed`` (or already ``running``); returns their ids.

        Each mapping holds ``parameters``, ``method`` and ``proposer``.
        Proposals recorded together share a batch number. With ``unless_changed_since``
        (a :meth:`version`), raises :class:`LedgerChangedError` instead if anything was
        written since: the proposals were made without knowing it.
        """
        now = utcnow()
        with self._write() as connection:
            if unless_changed_since is not None and _version(connection) != unless_changed_since:
                raise LedgerChangedError(
                    f"{self._where}the ledger changed while the proposals were being made"
                )
            last_id, last_batch = connection.execute(
                select(
                    func.coalesce(func.max(tables.experiments.c.id), 0),
                    func.coalesce(func.max(tables.experiments.c.batch), 0),
                )
            ).one()
            ids = [last_id + 1 + i for i in range(len(proposals))]
            for experiment_id, proposal in zip(ids, proposals, strict=True):
                connection.execute(
                    insert(tables.experiments).values(
                        id=experiment_id,
                        batch=last_batch + 1,
                        parameters=dict(proposal["parameters"]),
                        method=proposal["method"],
                        proposer=_json_safe(proposal["proposer"]),
                        status=status,
                        attempts=int(status == "running"),
                        proposed_at=now,
                        updated_at=now,
                    )
                )
                _transition(connection, experiment_id, "proposed", now, None)
                if status == "running":
                    _transition(connection, experiment_id, "running", now, None)
        return ids

    def version(self) -> Version:
        """What grows with every change to an experiment or the plan: compare two readings
        to know whether anything happened in between (a result, a decision, a new
        proposal, a revision)."""
        with self._read() as connection:
            return _version(connection)

    def mark_running(self, experiment_id: int, note: str | None = None) -> None:
        """The driver is about to start an attempt at this experiment (a retry counts too)."""
        now = utcnow()
        with self._write() as connection:
            connection.execute(
                update(tables.experiments)
                .where(tables.experiments.c.id == experiment_id)
                .values(
                    status="running", attempts=tables.experiments.c.attempts + 1, updated_at=now
                )
            )
            _transition(connection, experiment_id, "running", now, note)

    def record_failed_attempt(self, experiment_id: int, reason: str) -> None:
        """An attempt failed; the experiment stays running until its retries decide."""
        with self._write() as connection:
            _transition(connection, experiment_id, "running", utcnow(), reason)

    def record_result(
        self,
        experiment_id: int,
        *,
        objective: float | None,
        values: Mapping[str, Any],
        raw: Mapping[str, Any],
        failure: str | None,
        started_at: datetime,
        finished_at: datetime,
        driver_seconds: float,
    ) -> None:
        """Close an experiment: ``done`` with its objective, or ``failed`` with the reason."""
        now = utcnow()
        status: Status = "failed" if failure else "done"
        with self._write() as connection:
            _insert_result(
                connection,
                experiment_id,
                objective,
                values,
                raw,
                failure,
                started_at,
                finished_at,
                driver_seconds=driver_seconds,
            )
            connection.execute(
                update(tables.experiments)
                .where(tables.experiments.c.id == experiment_id)
                .values(status=status, updated_at=now)
            )
            _transition(connection, experiment_id, status, now, failure)

    # What people tell: results, their own experiments, decisions on proposals ---------

    def tell(
        self,
        experiment_id: int,
        *,
        objective: float | None,
        values: Mapping[str, float],
        failure: str | None,
        actual: Mapping[str, Any] | None,
        by: str,
        via: str,
        refuse: Callable[[Mapping[str, Any]], str | None] = lambda details: None,
    ) -> None:
        """Record a result a person gives for an experiment waiting for one.

        ``actual`` holds the parameter values really used where they differ from the
        proposal. ``refuse`` sees the experiment's proposer details in the same
        transaction and returns why it is not the person's to tell (``None``: it is).
        Raises :class:`ExperimentStateError`, writing nothing, for an id that is not
        waiting for a result or that ``refuse`` refuses; of two people telling the same
        experiment at once, exactly one is recorded and the other gets that error.
        """
        now = utcnow()
        e = tables.experiments
        try:
            with self._write() as connection:
                row = connection.execute(
                    select(e.c.status, e.c.updated_at, e.c.proposer).where(e.c.id == experiment_id)
                ).first()
                status = None if row is None else row[0]
                if status != "running":
                    raise ExperimentStateError(self._not_waiting(experiment_id, status))
                refusal = refuse(row[2])
                if refusal is not None:
                    raise ExperimentStateError(f"{self._where}{refusal}")
                _insert_result(
                    connection,
                    experiment_id,
                    objective,
                    values,
                    {"told_by": by, "via": via},
                    failure,
                    started_at=row[1],
                    finished_at=now,
                )
                if actual is not None:
                    connection.execute(
                        insert(tables.actual_parameters).values(
                            experiment_id=experiment_id, parameters=dict(actual)
                        )
                    )
                new_status: Status = "failed" if failure else "done"
                connection.execute(
                    update(e)
                    .where(e.c.id == experiment_id)
                    .values(status=new_status, updated_at=now)
                )
                _transition(
                    connection, experiment_id, new_status, now, failure or f"told by {by} ({via})"
                )
        except IntegrityError:
            raise ExperimentStateError(self._not_waiting(experiment_id, "done")) from None

    def add(
        self,
        parameters: Mapping[str, Any],
        *,
        objective: float | None,
        values: Mapping[str, float],
        failure: str | None,
        by: str,
        budget: int,
    ) -> int:
        """Record an experiment a person made on their own (method ``manual``); its id.

        Raises :class:`ExperimentStateError`, writing nothing, where the experiments
        (rejected proposals aside, which never ran) already number ``budget``.
        """
        now = utcnow()
        e = tables.experiments
        status: Status = "failed" if failure else "done"
        with self._write() as connection:
            spent = connection.execute(
                select(func.count()).select_from(e).where(e.c.status != "rejected")
            ).scalar()
            if spent >= budget:
                raise ExperimentStateError(
                    f"{self._where}the budget of {budget} experiments is spent; raise "
                    "budget.experiments in the campaign file (then `tansaku revise`) to "
                    "record more"
                )
            last_id, last_batch = connection.execute(
                select(func.coalesce(func.max(e.c.id), 0), func.coalesce(func.max(e.c.batch), 0))
            ).one()
            experiment_id = last_id + 1
            connection.execute(
                insert(e).values(
                    id=experiment_id,
                    batch=last_batch + 1,
                    parameters=dict(parameters),
                    method="manual",
                    proposer={"added_by": by},
                    status=status,
                    attempts=1,
                    proposed_at=now,
                    updated_at=now,
                )
            )
            _insert_result(
                connection,
                experiment_id,
                objective,
                values,
                {"told_by": by, "via": "add"},
                failure,
                started_at=now,
                finished_at=now,
            )
            _transition(connection, experiment_id, status, now, failure or f"added by {by}")
        return experiment_id

    def decide(self, experiment_id: int, *, approved: bool, reason: str | None, by: str) -> None:
        """Record a person's OK (or refusal, with ``reason``) of a proposal not yet sent.

        Raises :class:`ExperimentStateError`, writing nothing, for an experiment that is
        not a proposal waiting for a decision.
        """
        now = utcnow()
        e = tables.experiments
        with self._write() as connection:
            status = connection.execute(select(e.c.status).where(e.c.id == experiment_id)).scalar()
            decided = connection.execute(
                select(tables.decisions.c.approved).where(
                    tables.decisions.c.experiment_id == experiment_id
                )
            ).first()
            if status != "proposed" or decided is not None:
                raise ExperimentStateError(
                    self._not_deciding(experiment_id, status, decided is not None)
                )
            connection.execute(
                insert(tables.decisions).values(
                    experiment_id=experiment_id,
                    approved=approved,
                    reason=reason,
                    by=by,
                    at=now,
                )
            )
            if approved:
                _transition(connection, experiment_id, "proposed", now, f"approved by {by}")
            else:
                connection.execute(
                    update(e)
                    .where(e.c.id == experiment_id)
                    .values(status="rejected", updated_at=now)
                )
                _transition(
                    connection, experiment_id, "rejected", now, f"rejected by {by}: {reason}"
                )

    def _not_waiting(self, experiment_id: int, status: str | None) -> str:
        why = {
            None: "there is no such experiment",
            "proposed": "it has not been started yet (it waits to be approved or sent)",
            "done": "it already has a result, and a result is recorded once",
            "failed": "it is already recorded as failed, and a result is recorded once",
            "rejected": "it was rejected, so it never ran",
        }[status]
        return (
            f"{self._where}experiment #{experiment_id} is not waiting for a result: {why}. "
            "`tansaku status` lists the experiments that are."
        )

    def _not_deciding(self, experiment_id: int, status: str | None, decided: bool) -> str:
        if status is None:
            why = "there is no such experiment"
        elif decided:
            why = "it has already been decided"
        else:
            why = f"it is {status}, past the point of approval"
        return (
            f"{self._where}experiment #{experiment_id} is not waiting for approval: {why}. "
            "`tansaku status` lists the proposals that are."
        )

    def record_revision(
        self,
        *,
        source_path: str,
        source_text: str,
        diff: str,
        fingerprint: str,
        snapshot: Mapping[str, Any],
        by: str,
        unless_changed_since: Version,
    ) -> int:
        """Replace the campaign's settings with a revised file, keeping the old on record.

        Raises :class:`LedgerChangedError`, writing nothing, if anything was written since
        ``unless_changed_since``: the revision was checked against what was there then.
        """
        now = utcnow()
        with self._write() as connection:
            if _version(connection) != unless_changed_since:
                raise LedgerChangedError(
                    f"{self._where}the ledger changed while the revision was checked"
                )
            result = connection.execute(
                insert(tables.revisions).values(
                    at=now,
                    by=by,
                    source_path=source_path,
                    source_text=source_text,
                    diff=diff,
                    fingerprint=fingerprint,
                )
            )
            connection.execute(
                update(tables.campaign).values(
                    fingerprint=fingerprint,
                    source_path=source_path,
                    source_text=source_text,
                    snapshot=dict(snapshot),
                )
            )
        return int(result.inserted_primary_key[0])

    def revisions(self) -> list[RevisionRecord]:
        """Every revision of the campaign's settings, oldest first."""
        r = tables.revisions
        with self._read() as connection:
            rows = connection.execute(
                select(r.c.id, r.c.at, r.c.by, r.c.source_path, r.c.diff).order_by(r.c.id)
            ).mappings()
            return [RevisionRecord(**dict(row)) for row in rows]

    def reconcile_interrupted(
        self,
        policy: Literal["rerun", "fail"],
        when: datetime,
        leave: Collection[int] = (),
    ) -> list[int]:
        """Deal with experiments a dead process left ``running``; returns their ids.

        ``rerun`` puts them back in the queue as ``proposed``; ``fail`` closes them as
        failed. Either way none is lost and none gets two results. Those in ``leave``
        (in a person's hands, not the instrument's) stay as they are.
        """
        now = utcnow()
        with self._write() as connection:
            ids = [
                experiment_id
                for experiment_id in connection.execute(
                    select(tables.experiments.c.id).where(tables.experiments.c.status == "running")
                ).scalars()
                if experiment_id not in leave
            ]
            for experiment_id in ids:
                if policy == "rerun":
                    connection.execute(
                        update(tables.experiments)
                        .where(tables.experiments.c.id == experiment_id)
                        .values(status="proposed", updated_at=now)
                    )
                    _transition(
                        connection,
                        experiment_id,
                        "proposed",
                        now,
                        "interrupted while running; queued to run again",
                    )
        if policy == "fail":
            for experiment_id in ids:
                self.record_result(
                    experiment_id,
                    objective=None,
                    values={},
                    raw={},
                    failure="interrupted while running (on_interrupted: fail)",
                    started_at=when,
                    finished_at=when,
                    driver_seconds=0.0,
                )
        return ids

    def experiments(self) -> list[ExperimentRecord]:
        """Every experiment, in id order, with its result where there is one."""
        e, r = tables.experiments, tables.results
        a, d = tables.actual_parameters, tables.decisions
        query = (
            select(
                e,
                r.c.objective,
                r.c["values"],
                r.c.failure,
                r.c.started_at,
                r.c.finished_at,
                r.c.driver_seconds,
                a.c.parameters.label("actual"),
                d.c.approved,
                d.c.reason.label("decision_reason"),
            )
            .select_from(
                e.outerjoin(r, r.c.experiment_id == e.c.id)
                .outerjoin(a, a.c.experiment_id == e.c.id)
                .outerjoin(d, d.c.experiment_id == e.c.id)
            )
            .order_by(e.c.id)
        )
        with self._read() as connection:
            rows = connection.execute(query).mappings().all()
        return [ExperimentRecord(**dict(row)) for row in rows]

    def last_finished_at(self) -> datetime | None:
        """The instrument clock at the end of the latest result."""
        with self._read() as connection:
            return connection.execute(select(func.max(tables.results.c.finished_at))).scalar()


def _prepare(engine: Engine, path: Path, create: bool) -> None:
    """Check that ``path`` is a sound ledger and bring its schema to the latest version
    (a new ledger's tables are created so)."""
    try:
        with engine.connect() as connection:
            check = connection.exec_driver_sql("PRAGMA quick_check").scalar()
        if check != "ok":
            raise LedgerUnreadableError(_unreadable(path, str(check)))
        if not create and not inspect(engine).has_table(tables.campaign.name):
            raise LedgerUnreadableError(_unreadable(path, "it has no campaign table"))
        with engine.begin() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            migrate(connection, str(path))
    except OperationalError as error:
        raise LedgerWriteError(_unwritable(path, error)) from None
    except DatabaseError as error:
        raise LedgerUnreadableError(_unreadable(path, _reason(error))) from None


def check_ledger_url(url: str, run_dir: Path) -> None:
    """Refuse, before anything is written anywhere, a ledger URL that cannot hold the
    campaign of ``run_dir``: malformed, not PostgreSQL, unreachable, or a role that may
    not create its schema there."""
    postgres.check_usable(SharedLedger(parse_ledger_url(url), campaign_schema(run_dir)))


def _shared_for(run_dir: Path, pointed: SharedLedger | None, url: str) -> SharedLedger:
    """The shared ledger ``url`` names for ``run_dir``, checked against what the
    directory already holds: another database's campaign, or a SQLite ledger."""
    wanted = parse_ledger_url(url)
    if pointed is not None:
        if not same_database(pointed.url, wanted):
            raise LedgerPointerError(
                f"{run_dir} keeps its ledger in {masked(pointed.url)}, not in "
                f"{masked(wanted)}; leave --ledger out to go on there, or use a new --run-dir"
            )
        return SharedLedger(wanted, pointed.schema)
    sqlite_file = run_dir / LEDGER_FILE
    if sqlite_file.is_file() and sqlite_file.stat().st_size > 0:
        raise LedgerPointerError(
            f"{run_dir} holds its own SQLite ledger; to go on in {masked(wanted)}, copy it "
            f"there first (`tansaku ledger copy {run_dir} URL`), or use a new --run-dir"
        )
    return SharedLedger(wanted, campaign_schema(run_dir))


def _reason(error: DatabaseError) -> str:
    """SQLite's own words, without SQLAlchemy's statement and help link."""
    return str(error.orig) if error.orig is not None else str(error)


def _unreadable(path: Path, reason: str) -> str:
    return (
        f"{path} is not a readable tansaku ledger ({reason}); nothing was written to it. "
        "Restore it from a backup, or use another --run-dir."
    )


def _unwritable(path: Path, error: DatabaseError) -> str:
    return (
        f"cannot write the ledger {path} ({_reason(error)}); what was recorded before "
        "stands. Make the run directory writable or free some space, then run again."
    )


def _version(connection: Connection) -> Version:
    changes, revisions = connection.execute(
        select(
            select(func.coalesce(func.max(tables.transitions.c.id), 0)).scalar_subquery(),
            select(func.coalesce(func.max(tables.revisions.c.id), 0)).scalar_subquery(),
        )
    ).one()
    return Version(int(changes), int(revisions))


def _insert_result(
    connection: Connection,
    experiment_id: int,
    objective: float | None,
    values: Mapping[str, Any],
    raw: Mapping[str, Any],
    failure: str | None,
    started_at: datetime,
    finished_at: datetime,
    driver_seconds: float | None = None,
) -> None:
    """The one result of an experiment; ``driver_seconds`` defaults to its duration."""
    seconds = (finished_at - started_at).total_seconds()
    connection.execute(
        insert(tables.results).values(
            experiment_id=experiment_id,
            ok=failure is None,
            objective=objective,
            values=_json_safe(values),
            raw=_json_safe(raw),
            failure=failure,
            started_at=started_at,
            finished_at=finished_at,
            driver_seconds=seconds if driver_seconds is None else driver_seconds,
            recorded_at=utcnow(),
        )
    )


def _transition(
    connection: Connection, experiment_id: int, status: str, at: datetime, note: str | None
) -> None:
    connection.execute(
        insert(tables.transitions).values(
            experiment_id=experiment_id, status=status, at=at, note=note
        )
    )


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: keep such readings as text, so they are not lost."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _sqlite_pragmas(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    del connection_record
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed proposal or result survives a power cut, not only a crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
