"""Domain events -> e-mails to muhtars, as hooks for the events consumer (``MAIL_EVENT_HOOKS``).

Each hook has the ``EventHook`` shape of ``workflow/messaging/notifications.py`` and runs in the events
consumer's transaction; it queues at most one mail per event (``dedupe_key`` = schema + event message id).
A muhtar gets mail only with an address, while active, and as their preferences say. E-mail notifications
are queued in embedded mode (delivered into ``mail.outbox_dir``) and, in production, when ``mail.enabled``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import column, select, table
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters.orm import muhtars, requests, units
from workflow.domain.model import KIND_LABELS, RequestKind
from workflow.mail.addresses import turkish_title
from workflow.mail.compose import local_date, render_mail
from workflow.mail.preferences import MailPreferences, get_preferences
from workflow.mail.queue import queue_mail
from workflow.messaging.envelope import Envelope
from workflow.settings import Settings

logger = logging.getLogger(__name__)

MailHook = Callable[[AsyncConnection, Envelope, Settings], Awaitable[None]]

# The web area's attachments table (migration 0005), named here without importing webui/.
_attachments = table("attachments", column("id"), column("original_name"))

# Event schema -> (preference that allows the mail, routing step name for the template or None).
STEP_EVENTS: Mapping[str, str] = {
    "request.routed": "routed",
    "assignment.forwarded": "forwarded",
    "assignment.completed": "completed",
}


def mail_notifications_on(settings: Settings) -> bool:
    return settings.mail.enabled or settings.embedded


async def _recipient(conn: AsyncConnection, request_id: str) -> Mapping[str, Any] | None:
    row = (
        (
            await conn.execute(
                select(
                    requests.c.number,
                    requests.c.kind,
                    requests.c.final_note,
                    requests.c.public_attachment_ids,
                    requests.c.created_at,
                    requests.c.concluded_at,
                    muhtars.c.id.label("muhtar_id"),
                    muhtars.c.full_name,
                    muhtars.c.email,
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
        logger.warning("mail: request %s not found; no e-mail", request_id)
        return None
    if not row["email"] or not row["active"]:
        return None
    return dict(row)


def _request_url(settings: Settings, number: int) -> str:
    return f"{settings.web.base_url.rstrip('/')}/talepler/{number}"


def _kind_label(kind: str) -> str:
    try:
        return KIND_LABELS[RequestKind(kind)]
    except ValueError:
        return "Başvuru"


async def _send(
    conn: AsyncConnection,
    envelope: Envelope,
    row: Mapping[str, Any],
    purpose: str,
    context: dict[str, Any],
) -> None:
    name = turkish_title(row["full_name"])
    rendered = render_mail(purpose, name=name, number=row["number"], **context)
    await queue_mail(
        conn,
        purpose=purpose,
        to_address=row["email"],
        to_name=name,
        rendered=rendered,
        dedupe_key=f"{envelope.schema}:{envelope.message_id}",
        request_id=envelope.payload["request_id"],
        muhtar_id=row["muhtar_id"],
        correlation_id=envelope.correlation_id,
    )


async def _allowed(
    conn: AsyncConnection, settings: Settings, envelope: Envelope, wants: Callable[[MailPreferences], bool]
) -> Mapping[str, Any] | None:
    if not mail_notifications_on(settings):
        return None
    row = await _recipient(conn, envelope.payload["request_id"])
    if row is None or not wants(await get_preferences(conn, row["muhtar_id"])):
        return None
    return row


async def mail_request_received(conn: AsyncConnection, envelope: Envelope, settings: Settings) -> None:
    row = await _allowed(conn, settings, envelope, lambda p: p.request_received)
    if row is None:
        return
    context = {
        "kind": _kind_label(row["kind"]),
        "date": local_date(row["created_at"]),
        "url": _request_url(settings, row["number"]),
    }
    await _send(conn, envelope, row, "request_received", context)


async def _public_attachments(
    conn: AsyncConnection, settings: Settings, number: int, ids_json: str
) -> list[dict[str, str]]:
    try:
        ids = [str(i) for i in json.loads(ids_json or "[]")]
    except (ValueError, TypeError):
        logger.warning("mail: request %s has unreadable public attachment ids; none linked", number)
        return []
    if not ids:
        return []
    query = select(_attachments.c.id, _attachments.c.original_name).where(_attachments.c.id.in_(ids))
    names = {str(r[0]): str(r[1]) for r in (await conn.execute(query)).all()}
    base = _request_url(settings, number)
    return [{"name": str(names.get(i, "Ek")), "url": f"{base}/ekler/{i}"} for i in ids]


async def mail_request_concluded(conn: AsyncConnection, envelope: Envelope, settings: Settings) -> None:
    row = await _allowed(conn, settings, envelope, lambda p: p.request_concluded)
    if row is None:
        return
    context = {
        "date": local_date(row["concluded_at"] or row["created_at"]),
        "note": (row["final_note"] or "").strip(),
        "attachments": await _public_attachments(conn, settings, row["number"], row["public_attachment_ids"]),
        "url": _request_url(settings, row["number"]),
    }
    await _send(conn, envelope, row, "request_concluded", context)


def _step_unit_ids(envelope: Envelope) -> Sequence[int]:
    payload = envelope.payload
    if envelope.schema == "request.routed":
        return [int(u) for u in payload["unit_ids"]]
    if envelope.schema == "assignment.forwarded":
        return [int(u) for u in payload["child_unit_ids"]]
    return [int(payload["unit_id"])]


async def mail_request_step(conn: AsyncConnection, envelope: Envelope, settings: Settings) -> None:
    row = await _allowed(conn, settings, envelope, lambda p: p.routing_steps)
    if row is None:
        return
    ids = _step_unit_ids(envelope)
    query = select(units.c.id, units.c.name).where(units.c.id.in_(ids))
    names = {int(r[0]): str(r[1]) for r in (await conn.execute(query)).all()}
    context = {
        "step": STEP_EVENTS[envelope.schema],
        "units": [names[i] for i in ids if i in names],
        "date": local_date(envelope.created_at),
        "url": _request_url(settings, row["number"]),
    }
    await _send(conn, envelope, row, "request_step", context)


# Event schema -> e-mail hooks; merged into EVENT_HOOKS (workflow/messaging/notifications.py).
MAIL_EVENT_HOOKS: dict[str, tuple[MailHook, ...]] = {
    "request.filed": (mail_request_received,),
    "request.concluded": (mail_request_concluded,),
    **{schema: (mail_request_step,) for schema in STEP_EVENTS},
}


async def run_mail_hooks(conn: AsyncConnection, envelope: Envelope, settings: Settings) -> None:
    """Run the e-mail hooks of one event (for an events consumer that does not merge the tables)."""
    for hook in MAIL_EVENT_HOOKS.get(envelope.schema, ()):
        await hook(conn, envelope, settings)
