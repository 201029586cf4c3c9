"""The ledger's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

They are the schema's latest version; ``migrations/versions`` holds how each version
came to be, and a test checks the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

SCHEMA_VERSION = 1
"""The layout of the data a campaign records (kept in ``campaign.schema_version``); the
database schema's own version is Alembic's (``alembic_version``)."""


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes, also on SQLite, which stores them without a zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value} would be ambiguous in the ledger")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

campaign = Table(
    "campaign", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False,
           doc="Hash of the settings that shape the data; a resume must match it."),
    Column("mode", String(16), nullable=False, doc="'dry-run' or 'live'."),
    Column("source_path", Text, nullable=False),
    Column("source_text", Text, nullable=False, doc="The campaign file as last run."),
    Column("snapshot", JSON, nullable=False, doc="The validated campaign, as last run."),
    Column("created_at", UtcDateTime, nullable=False),
    Column("clock_start", UtcDateTime, nullable=False,
           doc="The instrument clock when the campaign began (virtual in a dry run)."),
    Column("stop_reason", Text),
    Column("stopped_at", UtcDateTime),
)  # fmt: skip

experiments = Table(
    "experiments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("batch", Integer, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("method", String(16), nullable=False),
    Column("proposer", JSON, nullable=False, doc="How the proposer chose it."),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("proposed_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)  # fmt: skip

prior_measurements = Table(
    "prior_measurements", metadata,
    # Kept apart from `experiments`: earlier work this campaign learns from, not its own.
    Column("line", Integer, primary_key=True, autoincrement=False,
           doc="Line of the row in the prior-data file."),
    Column("parameters", JSON, nullable=False),
    Column("values", JSON, nullable=False),
    Column("source_path", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)  # fmt: skip

transitions = Table(
    "transitions", metadata,
    Column("id", Integer, primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("note", Text),
)  # fmt: skip

results = Table(
    "results", metadata,
    # One result per experiment: the primary key refuses a second measurement.
    Column("experiment_id", Integer, ForeignKey("experiments.id"), primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("objective", Float, doc="The objective value, when the result is usable."),
    Column("values", JSON, nullable=False, doc="Every reading as the instrument gave it."),
    Column("raw", JSON, nullable=False),
    Column("failure", Text, doc="Why the experiment failed, when it did."),
    Column("started_at", UtcDateTime, nullable=False, doc="Instrument clock."),
    Column("finished_at", UtcDateTime, nullable=False, doc="Instrument clock."),
    Column("driver_seconds", Float, nullable=False, doc="Wall time spent in the driver."),
    Column("recorded_at", UtcDateTime, nullable=False),
)  # fmt: skip

decisions = Table(
    "decisions", metadata,
    # A person's OK or refusal of a proposal (driver.approve): one per experiment.
    Column("experiment_id", Integer, ForeignKey("experiments.id"), primary_key=True),
    Column("approved", Boolean, nullable=False),
    Column("reason", Text, doc="Why it was refused, when it was."),
    Column("by", Text, nullable=False, doc="Who decided: user@host."),
    Column("at", UtcDateTime, nullable=False),
)  # fmt: skip

actual_parameters = Table(
    "actual_parameters", metadata,
    # What was really done where it differs from the proposal (the oven reached 143 °C):
    # the model learns this point, and the proposal stays as it was made.
    Column("experiment_id", Integer, ForeignKey("experiments.id"), primary_key=True),
    Column("parameters", JSON, nullable=False),
)  # fmt: skip

revisions = Table(
    "revisions", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("by", Text, nullable=False),
    Column("source_path", Text, nullable=False),
    Column("source_text", Text, nullable=False, doc="The campaign file as revised."),
    Column("diff", Text, nullable=False, doc="A unified diff from the file it replaced."),
    Column("fingerprint", String(64), nullable=False),
)  # fmt: skip

sessions = Table(
    "sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("host", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("outcome", Text),
    Column("flow_run_id", String(64)),
    Column("waiting_for", Text, doc="The instrument it waits for, held by another campaign."),
    Column("waiting_since", UtcDateTime),
)  # fmt: skip

session_ports = Table(
    "session_ports", metadata,
    Column("session_id", Integer, ForeignKey("sessions.id"), primary_key=True),
    Column("device", Text, primary_key=True),
    Column("port", Text, nullable=False),
    Column("overridden", Boolean, nullable=False,
           doc="Given with --port or TANSAKU_PORT rather than by the campaign file."),
)  # fmt: skip
