"""SQLAlchemy Core tables of the foundation; every area's tables share this ``metadata``.

Tables are created only by Alembic migrations (``workflow/adapters/migrations``); these
definitions are what queries are written against and must match the migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY, so big ids fall back to INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out on every database.

    PostgreSQL keeps the zone (timestamptz); SQLite stores text without one and hands back naive values,
    which would then fail to compare with aware ones: UTC is attached on the way out, and a naive value
    on the way in is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_datetime() -> UTCDateTime:
    return UTCDateTime()


units = Table(
    "units",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("belediye_kind", String(12), nullable=True),
    Column("name", String(200), nullable=False),
    Column("parent_id", Integer, ForeignKey("units.id"), nullable=True),
    Column("province_id", SmallInteger, nullable=True),
    Column("district_id", Integer, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Index("ix_units_kind_province", "kind", "province_id"),
    Index("ix_units_parent", "parent_id"),
)

muhtarliks = Table(
    "muhtarliks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),
    Column("name", String(200), nullable=False),
    Column("province_id", SmallInteger, nullable=False),
    Column("district_id", Integer, nullable=False),
    Column("province_name", String(100), nullable=False),
    Column("district_name", String(100), nullable=False),
    Index("ix_muhtarliks_province_district", "province_id", "district_id"),
)

muhtars = Table(
    "muhtars",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tckn", String(11), nullable=False, unique=True),
    Column("full_name", String(200), nullable=False),
    Column("phone_e164", String(16), nullable=False),
    Column("muhtarlik_id", Integer, ForeignKey("muhtarliks.id"), nullable=False),
    Column("email", String(254), nullable=True, unique=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", utc_datetime(), nullable=False),
    Column("updated_at", utc_datetime(), nullable=False),
    Index("ix_muhtars_phone", "phone_e164"),
    Index("ix_muhtars_muhtarlik", "muhtarlik_id"),
)

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("full_name", String(200), nullable=False),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False),
    Column("role", String(20), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", utc_datetime(), nullable=False),
    Column("updated_at", utc_datetime(), nullable=False),
    Column("password_changed_at", utc_datetime(), nullable=False),
    Index("ix_staff_users_unit", "unit_id"),
)

requests = Table(
    "requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("number", BigInteger, nullable=False, unique=True),
    Column("muhtar_id", String(32), ForeignKey("muhtars.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("description", Text, nullable=False),
    Column("channel", String(10), nullable=False),
    Column("priority", String(10), nullable=False),
    Column("state", String(20), nullable=False),
    # True while MİGM has something to do: triage, a hand-back to review, or a conclusion to make.
    Column("migm_pending", Boolean, nullable=False),
    Column("created_at", utc_datetime(), nullable=False),
    Column("updated_at", utc_datetime(), nullable=False),
    Column("concluded_at", utc_datetime(), nullable=True),
    Column("final_note", Text, nullable=True),
    Column("public_attachment_ids", Text, nullable=False, default="[]"),
    Column("idempotency_key", String(64), nullable=True, unique=True),
    Column("version", Integer, nullable=False),
    Index("ix_requests_muhtar_state_created", "muhtar_id", "state", "created_at"),
    Index("ix_requests_state_created", "state", "created_at"),
    Index("ix_requests_migm_pending_created", "migm_pending", "created_at"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("request_id", String(32), ForeignKey("requests.id"), nullable=False),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False),
    Column("parent_id", String(32), ForeignKey("assignments.id"), nullable=True),
    Column("state", String(20), nullable=False),
    Column("routing_note", Text, nullable=False),
    Column("assigned_by_unit_id", Integer, ForeignKey("units.id"), nullable=False),
    Column("assigned_at", utc_datetime(), nullable=False),
    Column("due_at", utc_datetime(), nullable=False),
    Column("taken_on_at", utc_datetime(), nullable=True),
    Column("completed_at", utc_datetime(), nullable=True),
    Column("completion_note", Text, nullable=True),
    Column("attachment_ids", Text, nullable=False, default="[]"),
    Column("handback_reason", Text, nullable=True),
    Column("closed_at", utc_datetime(), nullable=True),
    Column("handback_reviewed", Boolean, nullable=False, default=False),
    Index("ix_assignments_unit_state_assigned", "unit_id", "state", "assigned_at"),
    Index("ix_assignments_request", "request_id"),
    Index("ix_assignments_parent", "parent_id"),
)

movements = Table(
    "movements",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("request_id", String(32), ForeignKey("requests.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", utc_datetime(), nullable=False),
    Column("action", String(30), nullable=False),
    Column("actor_kind", String(10), nullable=False),
    Column("actor_id", String(32), nullable=True),
    Column("actor_name", String(200), nullable=False),
    Column("unit_id", Integer, nullable=True),
    Column("unit_name", String(200), nullable=True),
    Column("assignment_id", String(32), nullable=True),
    Column("target_unit_id", Integer, nullable=True),
    Column("target_unit_name", String(200), nullable=True),
    Column("note", Text, nullable=True),
    Column("public", Boolean, nullable=False),
    Column("note_public", Boolean, nullable=False, default=False),
    UniqueConstraint("request_id", "seq", name="uq_movements_request_seq"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False, unique=True),
    Column("topic", String(100), nullable=False),
    Column("schema", String(100), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("correlation_id", String(64), nullable=False),
    Column("ordering_key", String(64), nullable=False),
    Column("created_at", utc_datetime(), nullable=False),
    Column("sent_at", utc_datetime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_unsent", "sent_at", "id"),
)

processed_messages = Table(
    "processed_messages",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("processed_at", utc_datetime(), nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

data_access_log = Table(
    "data_access_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", utc_datetime(), nullable=False),
    Column("viewer_kind", String(10), nullable=False),
    Column("viewer_id", String(32), nullable=False),
    Column("unit_id", Integer, nullable=True),
    Column("request_id", String(32), nullable=False),
    Column("action", String(30), nullable=False),
    Column("source_addr", String(64), nullable=True),
    Index("ix_data_access_log_request", "request_id", "at"),
    Index("ix_data_access_log_viewer", "viewer_id", "at"),
)
