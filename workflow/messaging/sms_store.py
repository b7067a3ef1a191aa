"""Every SMS in or out is a row: ``sms_messages`` (one per text) and ``sms_parts`` (one per SMPP part).

Outbound: ``queue_sms`` inserts the row (state ``queued``) and its ``sms.outbound`` outbox row in the
caller's transaction, so an SMS exists exactly when the change that caused it commits. The gateway's
``sms.status`` messages then move it through ``submitted`` to ``delivered`` / ``failed`` / ``expired``
(``sms_receipts.py``). Inbound: ``record_mo`` records an MO once per ``mo_id`` (state ``received``, then ``handled``).

``sms_pending_receipts`` holds delivery receipts that arrived before the submit result that tells which
SMS their SMSC message id belongs to; they are applied when it arrives and kept at least 24 hours.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)

from workflow.adapters.orm import BigId, metadata, utc_datetime
from workflow.messaging.envelope import Envelope
from workflow.messaging.outbox import Executor, add_to_outbox

OUTBOUND_TOPIC = "sms.outbound"
PURPOSES = frozenset({"otp", "reply", "closure", "confirmation", "notice", "mo"})

sms_messages = Table(
    "sms_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("direction", String(3), nullable=False),  # in | out
    Column("phone_e164", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("purpose", String(20), nullable=False),
    Column(
        "state", String(10), nullable=False
    ),  # queued, submitted, delivered, failed, expired; received (in)
    Column("part_count", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("request_id", String(32), ForeignKey("requests.id"), nullable=True),
    Column("reply_to_id", String(32), ForeignKey("sms_messages.id"), nullable=True),
    # The gateway's stable id of an MO, so an SMSC redelivery is recorded once.
    Column("mo_id", String(64), nullable=True, unique=True),
    Column("created_at", utc_datetime(), nullable=False),
    Column("updated_at", utc_datetime(), nullable=False),
    Index("ix_sms_messages_request", "request_id"),
    Index("ix_sms_messages_phone_created", "phone_e164", "created_at"),
    Index("ix_sms_messages_state_created", "state", "created_at"),
)

sms_parts = Table(
    "sms_parts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("sms_id", String(32), ForeignKey("sms_messages.id"), nullable=False),
    Column("part_index", Integer, nullable=False),
    Column("smsc_message_id", String(64), nullable=True),
    Column("state", String(10), nullable=False),  # submitted, delivered, failed, expired
    Column("submitted_at", utc_datetime(), nullable=True),
    Column("dlr_at", utc_datetime(), nullable=True),
    Column("dlr_state", String(10), nullable=True),
    Column("error", Text, nullable=True),
    UniqueConstraint("sms_id", "part_index", name="uq_sms_parts_sms_part"),
    Index("ix_sms_parts_smsc_message_id", "smsc_message_id"),
)

sms_pending_receipts = Table(
    "sms_pending_receipts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("smsc_message_id", String(64), nullable=False),
    Column("dlr_state", String(10), nullable=False),
    Column("error", Text, nullable=True),
    Column("dlr_at", utc_datetime(), nullable=False),
    Column("received_at", utc_datetime(), nullable=False),
    Index("ix_sms_pending_receipts_smsc_message_id", "smsc_message_id"),
    Index("ix_sms_pending_receipts_received_at", "received_at"),
)


async def queue_sms(
    db: Executor,
    to_e164: str,
    text: str,
    purpose: str,
    request_id: str | None = None,
    reply_to_id: str | None = None,
    *,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> str:
    """Record an outbound SMS and its ``sms.outbound`` message in the caller's transaction; return its id."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown SMS purpose {purpose!r}")
    if not text:
        raise ValueError("empty SMS text")
    now = now or datetime.now(UTC)
    sms_id = uuid.uuid4().hex
    await db.execute(
        sms_messages.insert().values(
            id=sms_id,
            direction="out",
            phone_e164=to_e164,
            text=text,
            purpose=purpose,
            state="queued",
            request_id=request_id,
            reply_to_id=reply_to_id,
            created_at=now,
            updated_at=now,
        )
    )
    envelope = Envelope.new(
        "sms.outbound",
        {"sms_id": sms_id, "to": to_e164, "text": text},
        correlation_id=correlation_id or request_id or sms_id,
        now=now,
    )
    await add_to_outbox(db, OUTBOUND_TOPIC, envelope, ordering_key=request_id or sms_id)
    return sms_id


async def record_mo(
    db: Executor, mo_id: str, from_e164: str, text: str, received_at: datetime, now: datetime | None = None
) -> tuple[str, str]:
    """Record an incoming SMS once per ``mo_id``; return its (id, state): ``received`` until it is answered,
    then ``handled``. An SMSC redelivery gets the existing row back."""
    query = select(sms_messages.c.id, sms_messages.c.state).where(sms_messages.c.mo_id == mo_id)
    existing = (await db.execute(query)).first()
    if existing is not None:
        return str(existing.id), str(existing.state)
    now = now or datetime.now(UTC)
    sms_id = uuid.uuid4().hex
    await db.execute(
        sms_messages.insert().values(
            id=sms_id,
            direction="in",
            phone_e164=from_e164,
            text=text,
            purpose="mo",
            state="received",
            part_count=None,
            mo_id=mo_id,
            created_at=received_at,
            updated_at=now,
        )
    )
    return sms_id, "received"
