"""staff side: an index for MİGM's inbox tabs, inbox preferences, log-in state and log, administrators' audit log.

Revision ID: 0006_staff
Revises: 0005_webui
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_staff"
down_revision = "0005_webui"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_index("ix_requests_pending_state_created", "requests", ["migm_pending", "state", "created_at"])
    unreviewed = sa.text("parent_id IS NULL AND state = 'handed_back' AND handback_reviewed = false")
    op.create_index(
        "ix_assignments_unreviewed_handbacks",
        "assignments",
        ["request_id"],
        postgresql_where=unreviewed,
        sqlite_where=unreviewed,
    )
    op.create_table(
        "staff_preferences",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("columns", sa.Text(), nullable=False),
        sa.Column("sort", sa.String(20), nullable=False),
        sa.Column("page_size", sa.Integer(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_preferences")),
    )
    op.create_table(
        "staff_auth_state",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        _at("locked_until", nullable=True),
        _at("sessions_valid_from", nullable=True),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_auth_state")),
    )
    op.create_table(
        "staff_login_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        _at("at"),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("source_addr", sa.String(64), nullable=True),
        sa.Column("result", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_login_log")),
    )
    op.create_index("ix_staff_login_log_user_at", "staff_login_log", ["user_id", "at"])
    op.create_index("ix_staff_login_log_at", "staff_login_log", ["at"])
    op.create_table(
        "admin_audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        _at("at"),
        sa.Column("admin_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("target_kind", sa.String(10), nullable=False),
        sa.Column("target_id", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("source_addr", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit_log")),
    )
    op.create_index("ix_admin_audit_log_at", "admin_audit_log", ["at"])
    op.create_index("ix_admin_audit_log_target", "admin_audit_log", ["target_kind", "target_id"])


def downgrade() -> None:
    op.drop_index("ix_assignments_unreviewed_handbacks", table_name="assignments")
    op.drop_index("ix_requests_pending_state_created", table_name="requests")
    for table in ("admin_audit_log", "staff_login_log", "staff_auth_state", "staff_preferences"):
        op.drop_table(table)
