"""webui: server-side sessions, captcha and OTP challenges, rate-limit events, attachments, form tokens.

Revision ID: 0005_webui
Revises: 0004_inbound
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_webui"
down_revision = "0004_inbound"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("subject_kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=False),
        _at("created_at"),
        _at("last_seen_at"),
        _at("ended_at", nullable=True),
        sa.Column("end_reason", sa.String(20), nullable=True),
        sa.Column("source_addr", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index("ix_web_sessions_subject", "web_sessions", ["subject_kind", "subject_id"])
    op.create_index("ix_web_sessions_last_seen", "web_sessions", ["last_seen_at"])

    op.create_table(
        "captcha_challenges",
        sa.Column("id", sa.String(32), nullable=False),
        _at("created_at"),
        _at("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captcha_challenges")),
    )
    op.create_index("ix_captcha_challenges_created", "captcha_challenges", ["created_at"])

    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("muhtar_id", sa.String(32), nullable=True),
        sa.Column("subject_key", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        _at("created_at"),
        _at("expires_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("ended_at", nullable=True),
        sa.Column("end_reason", sa.String(20), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_challenges")),
    )
    op.create_index("ix_otp_challenges_subject", "otp_challenges", ["subject_key", "created_at"])

    op.create_table(
        "rate_limit_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("bucket", sa.String(100), nullable=False),
        _at("at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_events")),
    )
    op.create_index("ix_rate_limit_events_bucket_at", "rate_limit_events", ["bucket", "at"])

    op.create_table(
        "attachments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(50), nullable=False),
        sa.Column("original_name", sa.String(255), nullable=False),
        sa.Column("uploaded_by_kind", sa.String(10), nullable=False),
        sa.Column("uploaded_by_id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=True),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index("ix_attachments_request", "attachments", ["request_id"])
    op.create_index("ix_attachments_sha256", "attachments", ["sha256"])

    op.create_table(
        "form_submissions",
        sa.Column("key", sa.String(64), nullable=False),
        _at("created_at"),
        sa.Column("result", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_form_submissions")),
    )


def downgrade() -> None:
    for table in (
        "form_submissions",
        "attachments",
        "rate_limit_events",
        "otp_challenges",
        "captcha_challenges",
        "web_sessions",
    ):
        op.drop_table(table)
