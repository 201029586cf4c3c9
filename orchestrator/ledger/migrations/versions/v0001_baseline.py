"""Baseline: the tables of every ledger written before the schema was versioned.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Ledgers from before Alembic were created table by table as tables were added (a table
was only ever added, never changed), so an old ledger may lack some of these: each is
created only where it is missing, and the same step starts a new ledger.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def _tables() -> list[tuple[str, list[sa.Column]]]:
    return [
        ("campaign", [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(64), nullable=False),
            sa.Column("schema_version", sa.Integer, nullable=False),
            sa.Column("fingerprint", sa.String(64), nullable=False),
            sa.Column("mode", sa.String(16), nullable=False),
            sa.Column("source_path", sa.Text, nullable=False),
            sa.Column("source_text", sa.Text, nullable=False),
            sa.Column("snapshot", sa.JSON, nullable=False),
            sa.Column("created_at", UTC_TIME, nullable=False),
            sa.Column("clock_start", UTC_TIME, nullable=False),
            sa.Column("stop_reason", sa.Text),
            sa.Column("stopped_at", UTC_TIME),
        ]),
        ("experiments", [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("batch", sa.Integer, nullable=False),
            sa.Column("parameters", sa.JSON, nullable=False),
            sa.Column("method", sa.String(16), nullable=False),
            sa.Column("proposer", sa.JSON, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("proposed_at", UTC_TIME, nullable=False),
            sa.Column("updated_at", UTC_TIME, nullable=False),
        ]),
        ("prior_measurements", [
            sa.Column("line", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("parameters", sa.JSON, nullable=False),
            sa.Column("values", sa.JSON, nullable=False),
            sa.Column("source_path", sa.Text, nullable=False),
            sa.Column("recorded_at", UTC_TIME, nullable=False),
        ]),
        ("transitions", [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"),
                      nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("at", UTC_TIME, nullable=False),
            sa.Column("note", sa.Text),
        ]),
        ("results", [
            sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"),
                      primary_key=True),
            sa.Column("ok", sa.Boolean, nullable=False),
            sa.Column("objective", sa.Float),
            sa.Column("values", sa.JSON, nullable=False),
            sa.Column("raw", sa.JSON, nullable=False),
            sa.Column("failure", sa.Text),
            sa.Column("started_at", UTC_TIME, nullable=False),
            sa.Column("finished_at", UTC_TIME, nullable=False),
            sa.Column("driver_seconds", sa.Float, nullable=False),
            sa.Column("recorded_at", UTC_TIME, nullable=False),
        ]),
        ("decisions", [
            sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"),
                      primary_key=True),
            sa.Column("approved", sa.Boolean, nullable=False),
            sa.Column("reason", sa.Text),
            sa.Column("by", sa.Text, nullable=False),
            sa.Column("at", UTC_TIME, nullable=False),
        ]),
        ("actual_parameters", [
            sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"),
                      primary_key=True),
            sa.Column("parameters", sa.JSON, nullable=False),
        ]),
        ("revisions", [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("at", UTC_TIME, nullable=False),
            sa.Column("by", sa.Text, nullable=False),
            sa.Column("source_path", sa.Text, nullable=False),
            sa.Column("source_text", sa.Text, nullable=False),
            sa.Column("diff", sa.Text, nullable=False),
            sa.Column("fingerprint", sa.String(64), nullable=False),
        ]),
        ("sessions", [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("pid", sa.Integer, nullable=False),
            sa.Column("host", sa.Text, nullable=False),
            sa.Column("started_at", UTC_TIME, nullable=False),
            sa.Column("ended_at", UTC_TIME),
            sa.Column("outcome", sa.Text),
            sa.Column("flow_run_id", sa.String(64)),
        ]),
        ("session_ports", [
            sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), primary_key=True),
            sa.Column("device", sa.Text, primary_key=True),
            sa.Column("port", sa.Text, nullable=False),
            sa.Column("overridden", sa.Boolean, nullable=False),
        ]),
    ]  # fmt: skip


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns in _tables():
        if name not in existing:
            op.create_table(name, *columns)


def downgrade() -> None:
    for name, _ in reversed(_tables()):
        op.drop_table(name)
