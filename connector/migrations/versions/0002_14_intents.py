"""write-intent journal; indexes serving the pump's claim (issue 14)

Chained after 0002_10 (the head of main when this branch last merged it).

Revision ID: 0002_14
Revises: 0002_10
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_14"
down_revision = "0002_10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "write_intents",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("natural_key", sa.String(length=200), nullable=False),
        sa.Column("plan_hash", sa.String(length=64), nullable=False),
        sa.Column("staged_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("ifs_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_write_intents_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_intents")),
        sa.UniqueConstraint("tenant_id", "kind", "natural_key", name="uq_write_intents_natural"),
    )
    op.create_index(
        "ix_staged_records_claim", "staged_records",
        ["tenant_id", sa.text("(CASE WHEN entity = 'customer' THEN 0 ELSE 1 END)"), "id"],
        postgresql_where=sa.text("state = 'pending'"))
    op.create_index(
        "ix_staged_records_inflight", "staged_records", ["tenant_id", "enqueued_at"],
        postgresql_where=sa.text("state = 'pending' AND enqueued_at IS NOT NULL"))
    # Records this connector created before the journal existed have no intent row, so for a
    # tenant with history the journal cannot yet tell "never tried" from "tried before the
    # upgrade": such tenants keep the natural-key lookup until an operator switches it off
    # (`tenant set NAME --setting adopt_existing_ifs_records=false`).
    op.execute(
        "UPDATE tenants SET settings = settings || '{\"adopt_existing_ifs_records\": true}'"
        " WHERE NOT (settings ? 'adopt_existing_ifs_records')"
        " AND EXISTS (SELECT 1 FROM staged_records r WHERE r.tenant_id = tenants.id)")


def downgrade() -> None:
    op.drop_index("ix_staged_records_inflight", table_name="staged_records")
    op.drop_index("ix_staged_records_claim", table_name="staged_records")
    op.drop_table("write_intents")
