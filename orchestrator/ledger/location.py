"""Where a run's ledger lives: SQLite in the run directory, or a shared PostgreSQL database.

A run directory always names the run. With a shared ledger it holds ``ledger.json``, which
says where the ledger is (the URL without its password) and under which name the campaign
is kept there, so ``status``, ``export``, ``report`` and ``tell`` find it from any machine
that has the directory. Each campaign in a shared database has a PostgreSQL schema of its
own holding the same tables as the SQLite ledger: one campaign's rows can never mix with
another's, and its experiment ids count from 1 as they do in SQLite.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from tansaku.database_url import DatabaseUrlError, parse_postgres_url, without_password
from tansaku.errors import InputError, RunDirectoryError

POINTER_FILE = "ledger.json"
LEDGER_VARIABLE = "TANSAKU_LEDGER"
"""Names the shared ledger for every run that gives none (and its password, if it has one)."""
SCHEMA_PREFIX = "tansaku_"
SCHEMA_PATTERN = re.compile(r"tansaku_[a-z0-9_]{1,55}")
MAX_IDENTIFIER = 63
"""PostgreSQL's longest identifier; longer names are silently truncated, so they collide."""


class LedgerUrlError(InputError):
    """A ledger URL that tansaku cannot use: malformed, or not PostgreSQL."""


class LedgerUnreachableError(InputError):
    """The ledger's database does not answer, or refuses the connection or the change."""


class LedgerPointerError(RunDirectoryError):
    """The run directory's ``ledger.json`` cannot be read, or points at another ledger."""


def parse_ledger_url(text: str, where: str = "the ledger URL") -> URL:
    """The SQLAlchemy URL (psycopg driver) of a ``postgresql://user@host/db`` ledger.

    Raises :class:`LedgerUrlError`, naming ``where`` it came from, for anything else.
    """
    try:
        url = parse_postgres_url(text)
    except DatabaseUrlError as error:
        raise LedgerUrlError(
            f"{where} {error} (leave the ledger out for the SQLite ledger in the run directory)"
        ) from None
    return url.set(drivername="postgresql+psycopg")


def same_database(a: URL, b: URL) -> bool:
    """Whether two URLs name the same database as the same user (passwords aside)."""
    return (a.host, a.port or 5432, a.database, a.username) == (
        b.host,
        b.port or 5432,
        b.database,
        b.username,
    )


def campaign_schema(run_dir: Path) -> str:
    """The PostgreSQL schema that holds the campaign of ``run_dir``: named after the
    directory's name, which names the run (dashes become underscores), with a digest of
    the name where it is long or has other characters an identifier cannot have."""
    name = run_dir.resolve().name
    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "run"
    schema = SCHEMA_PREFIX + slug
    if slug != name.replace("-", "_") or len(schema) > MAX_IDENTIFIER:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        schema = f"{schema[: MAX_IDENTIFIER - 9]}_{digest}"
    return schema


@dataclass(frozen=True)
class SharedLedger:
    """A run's ledger in a shared database: where, and under which schema."""

    url: URL
    """With its password when one was given to this process; never written with it."""
    schema: str

    def pointer(self) -> dict[str, str]:
        """What ``ledger.json`` holds: never the password."""
        written = without_password(self.url).set(drivername="postgresql")
        return {"url": written.render_as_string(hide_password=False), "schema": self.schema}


def read_pointer(run_dir: Path) -> SharedLedger | None:
    """The shared ledger ``run_dir`` points at, or ``None`` for a SQLite run directory.

    The password, which the file never holds, comes from ``TANSAKU_LEDGER`` when that
    names the same database; otherwise PostgreSQL's own ``PGPASSWORD`` or ``~/.pgpass``
    give it, as for ``psql``.
    """
    path = run_dir / POINTER_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise LedgerPointerError(
            f"cannot read {path} ({error.strerror}); check its permissions"
        ) from None
    try:
        data = json.loads(text)
        url = parse_ledger_url(data["url"], where=f"{path}: url")
        schema = str(data["schema"])
        if not SCHEMA_PATTERN.fullmatch(schema):
            raise ValueError(schema)
    except (ValueError, KeyError, TypeError, LedgerUrlError):
        raise LedgerPointerError(
            f'{path} does not say where the run\'s shared ledger is (it needs "url" and '
            '"schema"); restore it, or run `tansaku ledger copy` again'
        ) from None
    given = os.environ.get(LEDGER_VARIABLE)
    if given:
        try:
            from_environment = parse_ledger_url(given, where=LEDGER_VARIABLE)
        except LedgerUrlError:
            from_environment = None
        if from_environment is not None and same_database(from_environment, url):
            url = url.set(password=from_environment.password)
    return SharedLedger(url, schema)


def write_pointer(run_dir: Path, shared: SharedLedger) -> None:
    """Record in ``run_dir`` where its ledger is, atomically (never half a file)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / POINTER_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(shared.pointer(), indent=2) + "\n")
    os.replace(partial, path)
