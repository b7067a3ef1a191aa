"""Domain events -> notifications. ``EVENT_HOOKS`` is the table later issues extend (e-mail, reports…).

Each hook is ``async def hook(conn, envelope, settings) -> None`` and runs inside the events consumer's
transaction, after the message id was recorded as processed; an SMS is queued with ``queue_sms`` on the same
connection, so the notification exists exactly once, when the event was handled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbound.replies import fit, local_date, render
from workflow.adapters.orm import muhtars, requests
from workflow.domain.model import KIND_LABELS, RequestKind
from workflow.mail.notify import MAIL_EVENT_HOOKS
from workflow.messaging.envelope import Envelope
from workflow.messaging.sms_store import queue_sms
from workflow.settings import Settings

logger = logging.getLogger(__name__)

EventHook = Callable[[AsyncConnection, Envelope, Settings], Awaitable[None]]

# Filings by SMS or USSD are answered at once by inbound/ (inbound_filed.txt); only the web needs this SMS.
CONFIRM_FILING_CHANNELS = frozenset({"web"})
CLOSURE_MAX_SEGMENTS = 3
CLOSURE_NOTE_SHORT = 120


async def _request_and_phone(conn: AsyncConnection, request_id: str) -> Mapping[str, Any] | None:
    row = (
        (
            await conn.execute(
                select(
                    requests.c.number,
                    requests.c.kind,
                    requests.c.final_note,
                    requests.c.concluded_at,
                    requests.c.created_at,
                    muhtars.c.phone_e164,
                    muhtars.c.active,
                )
                .join(muhtars, muhtars.c.id == requests.c.muhtar_id)
                .where(requests.c.id == request_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        logger.warning("notification: request %s not found; nothing sent", request_id)
        return None
    if not row["active"]:
        logger.info("notification: the muhtar of request %s is inactive; nothing sent", request_id)
        return None
    return dict(row)


def _local_date(at: datetime) -> str:
    # SQLite hands timestamps back without a zone; they are UTC (never the machine's local time).
    return local_date(at if at.tzinfo is not None else at.replace(tzinfo=UTC))


def _kind_label(kind: str) -> str:
    try:
        return KIND_LABELS[RequestKind(kind)]
    except ValueError:
        return "Başvuru"


async def confirm_filing(conn: AsyncConnection, envelope: Envelope, settings: Settings) -> None:
    if envelope.payload["channel"] not in CONFIRM_FILING_CHANNELS:
        return
    request_id = envelope.payload["request_id"]
    row = await _request_and_phone(conn, request_id)
    if row is None:
        return
    text = render(
        "request_filed",
        kind=_kind_label(row["kind"]),
        number=row["number"],
        date=_local_date(row["created_at"]),
    )
    await queue_sms(
        conn,
        row["phone_e164"],
        fit([text], mode=settings.sms.encoding),
        "confirmation",
        request_id,
        correlation_id=envelope.correlation_id,
    )


async def notify_conclusion(conn: AsyncConnection, envelope: Envelope, settings: Settings) -> None:
    request_id = envelope.payload["request_id"]
    row = await _request_and_phone(conn, request_id)
    if row is None:
        return
    context = {"number": row["number"], "date": _local_date(row["concluded_at"] or row["created_at"])}
    note = " ".join((row["final_note"] or "").split())
    short = note if len(note) <= CLOSURE_NOTE_SHORT else note[: CLOSURE_NOTE_SHORT - 3].rstrip() + "..."
    text = fit(
        [render("request_concluded", note=note, **context)],
        [render("request_concluded", note=short, **context), render("request_concluded", note="", **context)],
        mode=settings.sms.encoding,
        max_segments=CLOSURE_MAX_SEGMENTS,
    )
    await queue_sms(
        conn, row["phone_e164"], text, "closure", request_id, correlation_id=envelope.correlation_id
    )


# Event schema -> hooks, in the order they run. Events with no row are consumed and recorded, nothing more.
EVENT_HOOKS: dict[str, tuple[EventHook, ...]] = {
    "request.filed": (confirm_filing,),
    "request.concluded": (notify_conclusion,),
}
# E-mail (workflow/mail/notify.py) runs after the SMS hooks of the same event.
for _schema, _hooks in MAIL_EVENT_HOOKS.items():
    EVENT_HOOKS[_schema] = EVENT_HOOKS.get(_schema, ()) + _hooks


async def run_event_hooks(conn: AsyncConnection, envelope: Envelope, settings: Settings) -> None:
    for hook in EVENT_HOOKS.get(envelope.schema, ()):
        await hook(conn, envelope, settings)
