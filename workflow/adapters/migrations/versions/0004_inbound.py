"""inbound: hourly command counters per phone, daily reply marks, USSD sessions.

Revision ID: 0004_inbound
Revises: 0003_gateway
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_inbound"
down_revision = "0003_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_rate_counters",
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("phone_e164", "window_start", name=op.f("pk_inbound_rate_counters")),
    )
    op.create_index(
        "ix_inbound_rate_counters_window_start", "inbound_rate_counters", ["window_start"], unique=False
    )
    op.create_table(
        "inbound_daily_marks",
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_e164", "purpose", "day", name=op.f("pk_inbound_daily_marks")),
    )
    op.create_index("ix_inbound_daily_marks_created_at", "inbound_daily_marks", ["created_at"], unique=False)
    op.create_table(
        "ussd_sessions",
        sa.Column("session_id", sa.String(length=100), nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_ussd_sessions")),
    )
    op.create_index("ix_ussd_sessions_last_seen_at", "ussd_sessions", ["last_seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ussd_sessions_last_seen_at", table_name="ussd_sessions")
    op.drop_table("ussd_sessions")
    op.drop_index("ix_inbound_daily_marks_created_at", table_name="inbound_daily_marks")
    op.drop_table("inbound_daily_marks")
    op.drop_index("ix_inbound_rate_counters_window_start", table_name="inbound_rate_counters")
    op.drop_table("inbound_rate_counters")
