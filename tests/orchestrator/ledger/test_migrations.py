"""The ledger's schema is versioned: old ledgers are brought up to date, newer refused."""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table, create_engine, text

from tansaku.ledger import LEDGER_FILE, Ledger, LedgerTooNewError
from tansaku.ledger.migrations import head_revision
from tansaku.ledger.tables import metadata
from tests.orchestrator.ledger.test_ledger import backend, finish, new_ledger, propose, rows

__all__ = ["backend"]  # the fixture, shared with test_ledger


def test_the_migrations_build_exactly_the_tables_the_ledger_uses(
    tmp_path: Path, backend: str | None
) -> None:
    ledger = new_ledger(tmp_path, url=backend)
    with ledger.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert rows(ledger, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    ledger.close()


def legacy_ledger(path: Path) -> None:
    """A ledger as tansaku wrote it before its schema was versioned (no alembic_version,
    no waiting columns), holding one finished experiment."""
    baseline = importlib.import_module("tansaku.ledger.migrations.versions.v0001_baseline")
    old = MetaData()
    for name, columns in baseline._tables():
        Table(name, old, *columns)
    engine = create_engine(f"sqlite:///{path}")
    old.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO campaign (id, name, schema_version, fingerprint, mode, source_path, "
                "source_text, snapshot, created_at, clock_start) VALUES (1, 'c', 1, 'f1', "
                "'dry-run', 'c.yaml', 'name: c', '{}', '2026-11-01 09:00:00', "
                "'2026-11-01 09:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO experiments VALUES (1, 1, '{\"x\": 0.5}', 'sobol', '{}', 'done', 1, "
                "'2026-11-01 09:00:00', '2026-11-01 10:00:00')"
            )
        )
    engine.dispose()


def test_a_ledger_from_before_versioning_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    legacy_ledger(tmp_path / LEDGER_FILE)
    ledger = Ledger.open(tmp_path, create=False)
    assert [(r.id, r.parameters, r.status) for r in ledger.experiments()] == [
        (1, {"x": 0.5}, "done")
    ]
    session = ledger.start_session()
    ledger.set_waiting(session, "hotplate-1")
    assert ledger.waiting() is not None and ledger.waiting()[0] == "hotplate-1"
    ledger.close()
    with sqlite3.connect(tmp_path / LEDGER_FILE) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]


def test_a_ledger_from_a_newer_tansaku_is_refused_untouched(
    tmp_path: Path, backend: str | None
) -> None:
    ledger = new_ledger(tmp_path, url=backend)
    (only,) = propose(ledger, {"x": 0.1})
    finish(ledger, only, 1.0)
    with ledger.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    ledger.close()
    with pytest.raises(LedgerTooNewError, match=r"schema version 9999.*Upgrade tansaku") as error:
        Ledger.open(tmp_path)
    assert error.value.exit_code == 2
