"""Alembic's environment for the ledger: it migrates the connection the ledger hands it.

The ledger opens the database itself (SQLite file, or a PostgreSQL schema through the
search path), so this runs the migrations inside that connection's transaction and
never reads an ``alembic.ini``.
"""

from alembic import context

from tansaku.ledger.tables import metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    # SQLite alters a table by copying it; batch mode does that for `add_column` and co.
    render_as_batch=True,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
