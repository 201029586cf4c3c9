"""The shared ledger on PostgreSQL: one schema per campaign, and advisory locks.

Two kinds of advisory lock stand in for what SQLite's file locking gives the embedded
ledger. The runner's lock is held by one connection for as long as a runner lives: the
server drops it the moment that process dies, ``kill -9`` included, because its
connection closes. A write lock, taken inside each write transaction, makes writers of
one campaign take turns as SQLite's ``BEGIN IMMEDIATE`` does, so what a write reads (the
next experiment id, an experiment's status) still holds when it commits.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from tansaku.database_url import masked
from tansaku.errors import RunDirectoryError
from tansaku.ledger.location import LedgerUnreachableError, SharedLedger

CONNECT_TIMEOUT_S = 10
RECONNECT_S = 60.0
"""How long a ledger waits for its database to come back (a restart) before giving up."""
RUNNER_LOCK = "tansaku-runner"
WRITE_LOCK = "tansaku-write"


class CampaignBusyError(RunDirectoryError):
    """Another live process runs this campaign, on this machine or another."""


def _key(name: str) -> int:
    """A stable, non-negative 31-bit advisory lock key (``pg_locks`` shows it unsigned)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFFFFFF


def lock_keys(kind: str, schema: str) -> dict[str, int]:
    """The two keys of a campaign's lock of ``kind``, as ``pg_*advisory_lock(a, b)`` and
    ``pg_locks`` (``classid``, ``objid``) take them."""
    return {"kind": _key(kind), "campaign": _key(schema)}


# Advisory locks are server-wide: the same campaign name in another database is another
# campaign, so a lock counts only in this one (``objsubid`` 2: the two-key form).
_THIS_LOCK = (
    "classid = :kind AND objid = :campaign AND objsubid = 2 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def engine_for(shared: SharedLedger, *, pooled: bool = True) -> Engine:
    """An engine whose connections see only the campaign's schema (``search_path``)."""
    return create_engine(
        shared.url,
        pool_pre_ping=True,
        poolclass=None if pooled else NullPool,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": f"-c search_path={shared.schema}",
            "application_name": f"tansaku pid {os.getpid()} on {socket.gethostname()}"[:63],
        },
    )


def reason(error: DBAPIError) -> str:
    """The server's or driver's own words, on one line, without SQLAlchemy's help link."""
    words = str(error.orig) if error.orig is not None else str(error)
    return " ".join(words.split())


def create_schema(connection: Connection, schema: str) -> None:
    """Create the campaign's schema if it is missing; concurrent creators take turns."""
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:kind, :campaign)"), lock_keys(WRITE_LOCK, schema)
    )
    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def schema_exists(connection: Connection, schema: str) -> bool:
    """Whether the campaign's schema is there (it holds the campaign's tables)."""
    return bool(
        connection.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}
        ).first()
    )


def take_write_lock(connection: Connection, schema: str) -> None:
    """Wait for the campaign's write lock; the transaction's end releases it."""
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:kind, :campaign)"), lock_keys(WRITE_LOCK, schema)
    )


def connect(engine: Engine) -> Connection:
    """A connection, waiting up to :data:`RECONNECT_S` for a database that went away.

    Only connecting is retried, never a statement: a write cut off half-way is reported,
    not repeated, so nothing can be recorded twice.
    """
    deadline = time.monotonic() + RECONNECT_S
    while True:
        try:
            return engine.connect()
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


@dataclass
class RunnerLock:
    """The campaign's runner lock, held by one connection of this process."""

    engine: Engine
    shared: SharedLedger
    connection: Connection | None = None
    backend_pid: int | None = None

    def acquire(self) -> None:
        """Take the lock; raise :class:`CampaignBusyError` naming its holder if taken."""
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        keys = lock_keys(RUNNER_LOCK, self.shared.schema)
        taken = connection.execute(
            text("SELECT pg_try_advisory_lock(:kind, :campaign)"), keys
        ).scalar()
        if not taken:
            holder = _holder(connection, keys)
            connection.close()
            raise CampaignBusyError(
                f"campaign {self.shared.schema} in {masked(self.shared.url)} is being run by "
                f"another tansaku ({holder}). Wait for it to finish or stop it, then run "
                "again; `tansaku status` shows its progress meanwhile."
            )
        self.connection = connection
        self.backend_pid = int(connection.execute(text("SELECT pg_backend_pid()")).scalar())

    def release(self) -> None:
        """Give the lock back (a no-op when not held)."""
        if self.connection is not None:
            # Closing the connection ends its session, and with it the session's locks.
            self.connection.invalidate()
            self.connection.close()
            self.connection = None

    def still_held(self, connection: Connection) -> bool:
        """Whether this process still holds the lock (a database restart drops it)."""
        return bool(
            connection.execute(
                text(
                    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    f"AND pid = :pid AND {_THIS_LOCK}"
                ),
                {"pid": self.backend_pid, **lock_keys(RUNNER_LOCK, self.shared.schema)},
            ).first()
        )

    def ensure(self, connection: Connection) -> None:
        """Check the lock is still this process's, taking it again after a reconnect.

        Raises :class:`CampaignBusyError` where another runner took it meanwhile.
        """
        if self.still_held(connection):
            return
        self.release()
        self.acquire()


def is_running(connection: Connection, schema: str) -> bool:
    """Whether any process, anywhere, holds the campaign's runner lock."""
    return bool(
        connection.execute(
            text(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                f"AND {_THIS_LOCK}"
            ),
            lock_keys(RUNNER_LOCK, schema),
        ).first()
    )


def check_usable(shared: SharedLedger) -> None:
    """Connect once and check this role may create the campaign's schema; raises
    :class:`~tansaku.ledger.location.LedgerUnreachableError` saying why not."""
    engine = create_engine(
        shared.url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )
    try:
        with engine.connect() as connection:
            may_create = connection.execute(
                text("SELECT has_database_privilege(current_database(), 'CREATE')")
            ).scalar()
            exists = schema_exists(connection, shared.schema)
    except OperationalError as error:
        raise LedgerUnreachableError(
            f"cannot use the ledger {masked(shared.url)}: {reason(error)}. Check the URL and "
            "that the server runs; nothing was created."
        ) from None
    finally:
        engine.dispose()
    if not (may_create or exists):
        raise LedgerUnreachableError(
            f"cannot use the ledger {masked(shared.url)}: role {shared.url.username!r} may not "
            "create a schema in that database. Grant it CREATE on the database, or use a role "
            "that has it; nothing was created."
        )


def _holder(connection: Connection, keys: dict[str, int]) -> str:
    row = connection.execute(
        text(
            "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
            f"AND l.granted AND {_THIS_LOCK}"
        ),
        keys,
    ).first()
    if row is None:
        return "holder unknown"
    name, address, since = row
    return f"{name or 'a client'} from {address or 'this host'}, since {since:%Y-%m-%d %H:%M}"
