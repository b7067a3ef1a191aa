"""mail: issued addresses, notification preferences, digest subscriptions, stored e-mails.

Revision ID: 0007_mail
Revises: 0006_staff
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_mail"
down_revision = "0006_staff"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mail_addresses",
        sa.Column("local_part", sa.String(64), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("muhtar_id", sa.String(32), nullable=False),
        _at("issued_at"),
        _at("retired_at", nullable=True),
        sa.PrimaryKeyConstraint("local_part", name=op.f("pk_mail_addresses")),
        sa.UniqueConstraint("address", name=op.f("uq_mail_addresses_address")),
        sa.ForeignKeyConstraint(
            ["muhtar_id"], ["muhtars.id"], name=op.f("fk_mail_addresses_muhtar_id_muhtars")
        ),
    )
    op.create_index("ix_mail_addresses_issued_at", "mail_addresses", ["issued_at"])
    op.create_index("ix_mail_addresses_muhtar", "mail_addresses", ["muhtar_id"])

    op.create_table(
        "mail_preferences",
        sa.Column("muhtar_id", sa.String(32), nullable=False),
        sa.Column("request_received", sa.Boolean(), nullable=False),
        sa.Column("request_concluded", sa.Boolean(), nullable=False),
        sa.Column("routing_steps", sa.Boolean(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("muhtar_id", name=op.f("pk_mail_preferences")),
        sa.ForeignKeyConstraint(
            ["muhtar_id"], ["muhtars.id"], name=op.f("fk_mail_preferences_muhtar_id_muhtars")
        ),
    )

    op.create_table(
        "mail_digest_subscriptions",
        sa.Column("staff_user_id", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_sent_on", sa.String(10), nullable=True),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("staff_user_id", name=op.f("pk_mail_digest_subscriptions")),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_mail_digest_subscriptions_staff_user_id_staff_users"),
        ),
    )

    op.create_table(
        "mail_messages",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("to_name", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("muhtar_id", sa.String(32), nullable=True),
        sa.Column("staff_user_id", sa.String(32), nullable=True),
        sa.Column("dedupe_key", sa.String(120), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_mail_messages_dedupe_key")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_mail_messages_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["muhtar_id"], ["muhtars.id"], name=op.f("fk_mail_messages_muhtar_id_muhtars")
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["staff_users.id"], name=op.f("fk_mail_messages_staff_user_id_staff_users")
        ),
    )
    op.create_index("ix_mail_messages_state_created", "mail_messages", ["state", "created_at"])
    op.create_index("ix_mail_messages_request", "mail_messages", ["request_id"])


def downgrade() -> None:
    for table in ("mail_messages", "mail_digest_subscriptions", "mail_preferences", "mail_addresses"):
        op.drop_table(table)
