"""fleet under stress: when a record started failing, fetch leases, enrichment progress

Revision ID: 0002_10
Revises: 0002_11
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_10"
down_revision = "0002_11"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # When a record's current run of transient failures began: retries are bounded by time
    # (MLC_RETRY_DEADLINE_*_S), and the final reason says since when it was failing.
    op.add_column("staged_records",
                  sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
    # A running fetch holds its stream with a lease it renews; a dead fetch's lease expires.
    op.add_column("sync_cursors",
                  sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    # IFS enrichment's progress: the current run, where it is, when one last completed.
    op.add_column("tenants", sa.Column("enrichment", postgresql.JSONB(astext_type=sa.Text()),
                                       nullable=False, server_default=sa.text("'{}'::jsonb")))


def downgrade() -> None:
    op.drop_column("tenants", "enrichment")
    op.drop_column("sync_cursors", "lease_until")
    op.drop_column("staged_records", "failing_since")
