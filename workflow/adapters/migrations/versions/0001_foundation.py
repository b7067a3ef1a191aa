"""Foundation: units, muhtarlıks, muhtars, staff users, requests, assignments, movements, outbox.

Revision ID: 0001_foundation
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "data_access_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("viewer_kind", sa.String(length=10), nullable=False),
        sa.Column("viewer_id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("source_addr", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_access_log")),
    )
    op.create_index("ix_data_access_log_request", "data_access_log", ["request_id", "at"], unique=False)
    op.create_index("ix_data_access_log_viewer", "data_access_log", ["viewer_id", "at"], unique=False)
    op.create_table(
        "muhtarliks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("province_id", sa.SmallInteger(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("province_name", sa.String(length=100), nullable=False),
        sa.Column("district_name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_muhtarliks")),
        sa.UniqueConstraint("code", name=op.f("uq_muhtarliks_code")),
    )
    op.create_index(
        "ix_muhtarliks_province_district", "muhtarliks", ["province_id", "district_id"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("schema", sa.String(length=100), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("ordering_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["sent_at", "id"], unique=False)
    op.create_table(
        "processed_messages",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id", name=op.f("pk_processed_messages")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("belediye_kind", sa.String(length=12), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("province_id", sa.SmallInteger(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["units.id"], name=op.f("fk_units_parent_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("code", name=op.f("uq_units_code")),
    )
    op.create_index("ix_units_kind_province", "units", ["kind", "province_id"], unique=False)
    op.create_index("ix_units_parent", "units", ["parent_id"], unique=False)
    op.create_table(
        "muhtars",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tckn", sa.String(length=11), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("muhtarlik_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["muhtarlik_id"], ["muhtarliks.id"], name=op.f("fk_muhtars_muhtarlik_id_muhtarliks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_muhtars")),
        sa.UniqueConstraint("email", name=op.f("uq_muhtars_email")),
        sa.UniqueConstraint("tckn", name=op.f("uq_muhtars_tckn")),
    )
    op.create_index("ix_muhtars_muhtarlik", "muhtars", ["muhtarlik_id"], unique=False)
    op.create_index("ix_muhtars_phone", "muhtars", ["phone_e164"], unique=False)
    op.create_table(
        "staff_users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_staff_users_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_users_username")),
    )
    op.create_index("ix_staff_users_unit", "staff_users", ["unit_id"], unique=False)
    op.create_table(
        "requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("muhtar_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("migm_pending", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_note", sa.Text(), nullable=True),
        sa.Column("public_attachment_ids", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["muhtar_id"], ["muhtars.id"], name=op.f("fk_requests_muhtar_id_muhtars")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_requests_idempotency_key")),
        sa.UniqueConstraint("number", name=op.f("uq_requests_number")),
    )
    op.create_index(
        "ix_requests_migm_pending_created", "requests", ["migm_pending", "created_at"], unique=False
    )
    op.create_index(
        "ix_requests_muhtar_state_created", "requests", ["muhtar_id", "state", "created_at"], unique=False
    )
    op.create_index("ix_requests_state_created", "requests", ["state", "created_at"], unique=False)
    op.create_table(
        "assignments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("routing_note", sa.Text(), nullable=False),
        sa.Column("assigned_by_unit_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_on_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completion_note", sa.Text(), nullable=True),
        sa.Column("attachment_ids", sa.Text(), nullable=False),
        sa.Column("handback_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handback_reviewed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by_unit_id"], ["units.id"], name=op.f("fk_assignments_assigned_by_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["assignments.id"], name=op.f("fk_assignments_parent_id_assignments")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_assignments_request_id_requests")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_assignments_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    op.create_index("ix_assignments_parent", "assignments", ["parent_id"], unique=False)
    op.create_index("ix_assignments_request", "assignments", ["request_id"], unique=False)
    op.create_index(
        "ix_assignments_unit_state_assigned", "assignments", ["unit_id", "state", "assigned_at"], unique=False
    )
    op.create_table(
        "movements",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("unit_name", sa.String(length=200), nullable=True),
        sa.Column("assignment_id", sa.String(length=32), nullable=True),
        sa.Column("target_unit_id", sa.Integer(), nullable=True),
        sa.Column("target_unit_name", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("note_public", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_movements_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movements")),
        sa.UniqueConstraint("request_id", "seq", name="uq_movements_request_seq"),
    )
    # Request numbers: a sequence on PostgreSQL (never reused, gaps allowed); a counter row on SQLite,
    # where the single writer makes an UPDATE ... RETURNING just as safe.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE request_number_seq START WITH 1000")
    op.execute("INSERT INTO counters (name, value) VALUES ('request_number', 999)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE request_number_seq")
    op.drop_table("movements")
    op.drop_index("ix_assignments_unit_state_assigned", table_name="assignments")
    op.drop_index("ix_assignments_request", table_name="assignments")
    op.drop_index("ix_assignments_parent", table_name="assignments")
    op.drop_table("assignments")
    op.drop_index("ix_requests_state_created", table_name="requests")
    op.drop_index("ix_requests_muhtar_state_created", table_name="requests")
    op.drop_index("ix_requests_migm_pending_created", table_name="requests")
    op.drop_table("requests")
    op.drop_index("ix_staff_users_unit", table_name="staff_users")
    op.drop_table("staff_users")
    op.drop_index("ix_muhtars_phone", table_name="muhtars")
    op.drop_index("ix_muhtars_muhtarlik", table_name="muhtars")
    op.drop_table("muhtars")
    op.drop_index("ix_units_parent", table_name="units")
    op.drop_index("ix_units_kind_province", table_name="units")
    op.drop_table("units")
    op.drop_table("processed_messages")
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_muhtarliks_province_district", table_name="muhtarliks")
    op.drop_table("muhtarliks")
    op.drop_index("ix_data_access_log_viewer", table_name="data_access_log")
    op.drop_index("ix_data_access_log_request", table_name="data_access_log")
    op.drop_table("data_access_log")
    op.drop_table("counters")
