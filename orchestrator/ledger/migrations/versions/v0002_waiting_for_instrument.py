"""A session notes which instrument it waits for, and since when.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Campaigns that share an instrument take turns on it; `tansaku status` shows a campaign
waiting for its turn from the ledger, on any machine.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as sessions:
        sessions.add_column(sa.Column("waiting_for", sa.Text))
        sessions.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as sessions:
        sessions.drop_column("waiting_since")
        sessions.drop_column("waiting_for")
