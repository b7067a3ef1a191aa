"""Messaging: dead letters, SMS records (messages, parts, pending receipts), outbox NOTIFY trigger.

Revision ID: 0002_messaging
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_messaging"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# PostgreSQL wakes the outbox relays when rows are committed (NOTIFY is delivered at commit).
NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION muhtar_outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('muhtar_outbox', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION muhtar_outbox_notify()
"""


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("schema", sa.String(length=100), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replay_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_queue_dead_at", "dead_letters", ["queue", "dead_at"], unique=False)
    op.create_index(
        "ix_dead_letters_replay", "dead_letters", ["replayed_at", "replay_requested_at"], unique=False
    )
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.Column("reply_to_id", sa.String(length=32), nullable=True),
        sa.Column("mo_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_sms_messages_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_id"], ["sms_messages.id"], name=op.f("fk_sms_messages_reply_to_id_sms_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
        sa.UniqueConstraint("mo_id", name=op.f("uq_sms_messages_mo_id")),
    )
    op.create_index("ix_sms_messages_request", "sms_messages", ["request_id"], unique=False)
    op.create_index(
        "ix_sms_messages_phone_created", "sms_messages", ["phone_e164", "created_at"], unique=False
    )
    op.create_index("ix_sms_messages_state_created", "sms_messages", ["state", "created_at"], unique=False)
    op.create_table(
        "sms_parts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("sms_id", sa.String(length=32), nullable=False),
        sa.Column("part_index", sa.Integer(), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dlr_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dlr_state", sa.String(length=10), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sms_id"], ["sms_messages.id"], name=op.f("fk_sms_parts_sms_id_sms_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_parts")),
        sa.UniqueConstraint("sms_id", "part_index", name="uq_sms_parts_sms_part"),
    )
    op.create_index("ix_sms_parts_smsc_message_id", "sms_parts", ["smsc_message_id"], unique=False)
    op.create_table(
        "sms_pending_receipts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("smsc_message_id", sa.String(length=64), nullable=False),
        sa.Column("dlr_state", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("dlr_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_pending_receipts")),
    )
    op.create_index(
        "ix_sms_pending_receipts_smsc_message_id", "sms_pending_receipts", ["smsc_message_id"], unique=False
    )
    op.create_index(
        "ix_sms_pending_receipts_received_at", "sms_pending_receipts", ["received_at"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
        op.execute("DROP FUNCTION IF EXISTS muhtar_outbox_notify()")
    op.drop_index("ix_sms_pending_receipts_received_at", table_name="sms_pending_receipts")
    op.drop_index("ix_sms_pending_receipts_smsc_message_id", table_name="sms_pending_receipts")
    op.drop_table("sms_pending_receipts")
    op.drop_index("ix_sms_parts_smsc_message_id", table_name="sms_parts")
    op.drop_table("sms_parts")
    op.drop_index("ix_sms_messages_state_created", table_name="sms_messages")
    op.drop_index("ix_sms_messages_phone_created", table_name="sms_messages")
    op.drop_index("ix_sms_messages_request", table_name="sms_messages")
    op.drop_table("sms_messages")
    op.drop_index("ix_dead_letters_replay", table_name="dead_letters")
    op.drop_index("ix_dead_letters_queue_dead_at", table_name="dead_letters")
    op.drop_table("dead_letters")
