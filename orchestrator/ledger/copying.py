"""``tansaku ledger copy``: a run directory's SQLite ledger into a shared PostgreSQL one.

Everything is copied in one transaction, ids and times as they were, and the counts
are compared before it commits: a copy is whole or not there. Only then does the run
directory point at the shared ledger, and its SQLite file is kept under another name,
so nothing reads the old copy by mistake and nothing is lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Table, func, insert, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from tansaku.database_url import masked
from tansaku.errors import RunDirectoryError
from tansaku.ledger import postgres, tables
from tansaku.ledger.ledger import LEDGER_FILE, Ledger, LedgerMissingError
from tansaku.ledger.location import (
    LedgerUnreachableError,
    SharedLedger,
    campaign_schema,
    parse_ledger_url,
    read_pointer,
    write_pointer,
)
from tansaku.ledger.lock import RunDirectoryLock
from tansaku.ledger.migrations import migrate

KEPT_AS = "ledger-before-copy.sqlite"
"""The SQLite ledger's name once copied: kept, and no longer read."""


class LedgerCopyError(RunDirectoryError):
    """The copy was refused: nothing was written to either ledger."""


@dataclass(frozen=True)
class CopiedLedger:
    shared: SharedLedger
    rows: dict[str, int]
    """Table name → rows copied."""
    kept: Path
    """Where the SQLite ledger now lies."""


def copy_ledger(run_dir: Path, url: str) -> CopiedLedger:
    """Copy ``run_dir``'s SQLite ledger into the PostgreSQL database ``url`` names, then
    point ``run_dir`` at it. Refuses a directory being run, one already shared, and a
    database that already holds a campaign under the directory's name."""
    target = SharedLedger(parse_ledger_url(url), campaign_schema(run_dir))
    if read_pointer(run_dir) is not None:
        raise LedgerCopyError(f"{run_dir} already keeps its ledger in a shared database")
    if not (run_dir / LEDGER_FILE).is_file():
        raise LedgerMissingError(f"{run_dir} holds no campaign ledger ({LEDGER_FILE})")
    postgres.check_usable(target)
    kept = run_dir / KEPT_AS
    with RunDirectoryLock(run_dir):
        source = Ledger.open(run_dir, create=False)
        try:
            # SQLite's write lock from the first read until the directory points at the
            # copy: a `tansaku tell` meanwhile waits rather than writing behind the copy.
            with source.engine.begin() as reading:
                reading.exec_driver_sql("BEGIN IMMEDIATE")
                copied = _copy(reading, source, target)
                write_pointer(run_dir, target)
        finally:
            source.close()
        os.replace(run_dir / LEDGER_FILE, kept)
    return CopiedLedger(target, copied, kept)


def _copy(reading: Connection, source: Ledger, target: SharedLedger) -> dict[str, int]:
    """Copy every table read through ``reading`` into ``target``, in one transaction."""
    engine = postgres.engine_for(target, pooled=False)
    where = f"the ledger {masked(target.url)} (schema {target.schema})"
    try:
        with engine.begin() as writing:
            postgres.create_schema(writing, target.schema)
            postgres.take_write_lock(writing, target.schema)
            migrate(writing, where)
            if writing.execute(select(func.count()).select_from(tables.campaign)).scalar():
                raise LedgerCopyError(
                    f"{where} already holds a campaign for a run directory named "
                    f"{source.run_dir.name if source.run_dir else '?'}; copy from a directory "
                    "of another name, or drop that schema first. Nothing was copied."
                )
            copied = {}
            # Parents before children, for the foreign keys.
            for table in tables.metadata.sorted_tables:
                rows = [dict(row) for row in reading.execute(select(table)).mappings()]
                if rows:
                    writing.execute(insert(table), rows)
                stored = writing.execute(select(func.count()).select_from(table)).scalar()
                if stored != len(rows):
                    raise LedgerCopyError(
                        f"copying {table.name} stored {stored} rows of {len(rows)}; "
                        "nothing was copied"
                    )
                copied[table.name] = len(rows)
                _advance_sequence(writing, target.schema, table)
    except (OperationalError, ProgrammingError) as error:
        raise LedgerUnreachableError(
            f"cannot copy into the ledger {masked(target.url)}: {postgres.reason(error)}; "
            "nothing was copied"
        ) from None
    finally:
        engine.dispose()
    return copied


def _advance_sequence(connection: Connection, schema: str, table: Table) -> None:
    """Rows copied with their ids leave the id sequence behind: move it past them."""
    key = table.c.get("id")
    if key is None or key.autoincrement is False:
        return
    connection.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('\"{schema}\".{table.name}', 'id'), "
            f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
        )
    )
