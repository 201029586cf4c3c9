"""The ledger's schema versions (Alembic), applied when a ledger is opened.

Alembic rather than SQLAlchemy's ``create_all``: ``create_all`` only adds missing tables,
and the ledger now also changes tables it has (a column for the instrument a campaign
waits for). Alembic is already installed with Prefect, runs the same steps on SQLite
(batch mode copies a table to alter it) and on PostgreSQL, and records each ledger's
version in the ledger itself.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from tansaku.errors import RunDirectoryError


class LedgerTooNewError(RunDirectoryError):
    """The ledger was written by a newer tansaku, whose schema this one does not know."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["connection"] = connection
    return config


def migrate(connection: Connection, where: str) -> bool:
    """Bring the ledger on ``connection`` to the latest version, inside the connection's
    transaction; ``where`` names the ledger in a refusal. Returns whether it changed.

    Raises :class:`LedgerTooNewError` for a ledger of a version this tansaku does not know.
    """
    config = _config(connection)
    script = ScriptDirectory.from_config(config)
    current = MigrationContext.configure(connection).get_current_revision()
    head = script.get_current_head()
    if current == head:
        return False
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise LedgerTooNewError(
            f"{where} has schema version {current}, which this tansaku does not know (its "
            f"newest is {head}); a newer tansaku wrote it. Upgrade tansaku to read it."
        )
    command.upgrade(config, "head")
    return True


def head_revision() -> str:
    """The newest schema version this tansaku writes."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head
