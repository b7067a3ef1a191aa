"""Queueing an e-mail: the stored ``mail_messages`` row and its ``mail.outbound`` outbox row, in the caller's
transaction (like ``queue_sms``), so a mail exists exactly when the change that caused it commits.

The message on the bus carries only the mail's id (``mail.outbound`` v1: ``{"mail_id"}``); the consumer
reads the rendered texts from the row. ``dedupe_key`` names what caused the mail, so a cause queues one
mail however often it is handled.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from workflow.mail.compose import RenderedMail
from workflow.mail.tables import mail_messages
from workflow.messaging.envelope import STR, Envelope, PayloadSpec, register_schema
from workflow.messaging.outbox import Executor, add_to_outbox

MAIL_TOPIC = "mail.outbound"
MAIL_SCHEMA = "mail.outbound"
PURPOSES = frozenset({"request_received", "request_concluded", "request_step", "staff_digest"})

register_schema(MAIL_SCHEMA, 1, PayloadSpec({"mail_id": STR}))


def mail_envelope(mail_id: str, correlation_id: str, now: datetime | None = None) -> Envelope:
    return Envelope.new(MAIL_SCHEMA, {"mail_id": mail_id}, correlation_id=correlation_id, now=now)


async def queue_mail(
    db: Executor,
    *,
    purpose: str,
    to_address: str,
    to_name: str,
    rendered: RenderedMail,
    dedupe_key: str,
    request_id: str | None = None,
    muhtar_id: str | None = None,
    staff_user_id: str | None = None,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """Store the mail and its outbox row; return its id, or None when ``dedupe_key`` was already queued."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown mail purpose {purpose!r}")
    existing = (
        await db.execute(select(mail_messages.c.id).where(mail_messages.c.dedupe_key == dedupe_key))
    ).first()
    if existing is not None:
        return None
    now = now or datetime.now(UTC)
    mail_id = uuid.uuid4().hex
    await db.execute(
        mail_messages.insert().values(
            id=mail_id,
            purpose=purpose,
            to_address=to_address,
            to_name=to_name,
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            state="queued",
            attempts=0,
            request_id=request_id,
            muhtar_id=muhtar_id,
            staff_user_id=staff_user_id,
            dedupe_key=dedupe_key,
            created_at=now,
            updated_at=now,
        )
    )
    envelope = mail_envelope(mail_id, correlation_id or request_id or mail_id, now)
    await add_to_outbox(db, MAIL_TOPIC, envelope, ordering_key=request_id or mail_id)
    return mail_id
