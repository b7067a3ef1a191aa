"""The ``mail.outbound`` consumer: sends a stored mail and records the outcome on its row.

- ``sent`` or ``failed`` already: nothing to do (a redelivery) — the bus acks.
- Accepted by the transport: ``sent``.
- ``PermanentFailure`` (5xx for this message): ``failed`` with the reason; acked, never retried.
- ``TemporaryFailure`` (4xx, server down, timeout): ``deferred`` with the reason and the attempt count, then
  the handler raises so the bus retries with its back-off. When the bus gives up the message is a dead
  letter (replayable) and the row stays ``deferred``; ``requeue_deferred`` queues such rows again after
  ``mail.retry_after_s`` and marks them ``failed`` after ``mail.give_up_after_h``. Nothing is lost while
  the SMTP server is down; at worst a mail whose "sent" was not recorded is sent twice, with the same
  Message-ID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.mail.compose import RenderedMail, Sender, build_message
from workflow.mail.queue import MAIL_TOPIC, mail_envelope
from workflow.mail.tables import mail_messages
from workflow.mail.transport import MailTransport, PermanentFailure, TemporaryFailure
from workflow.messaging.bus import Reject
from workflow.messaging.envelope import Envelope
from workflow.messaging.outbox import add_to_outbox

logger = logging.getLogger(__name__)

DONE_STATES = frozenset({"sent", "failed"})
MAX_ERROR = 1000


class MailDeferred(Exception):
    """Raised to the bus after a temporary failure so that it retries with back-off."""


@dataclass
class MailDelivery:
    engine: AsyncEngine
    transport: MailTransport
    sender: Sender

    async def handle(self, envelope: Envelope) -> None:
        mail_id = envelope.payload["mail_id"]
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(mail_messages).where(mail_messages.c.id == mail_id))).first()
        if row is None:
            # The outbox row commits with the mail row, so this is a foreign or corrupt message.
            raise Reject(f"mail {mail_id} does not exist")
        if row.state in DONE_STATES:
            logger.info("mail %s already %s; redelivery skipped", mail_id, row.state)
            return
        message = build_message(
            mail_id=row.id,
            to_address=row.to_address,
            to_name=row.to_name,
            rendered=RenderedMail(row.subject, row.body_text, row.body_html),
            sender=self.sender,
            created_at=row.created_at,
        )
        try:
            await self.transport.send(message)
        except PermanentFailure as exc:
            await self._record(mail_id, "failed", str(exc))
            logger.warning("mail %s refused permanently by the server; marked failed", mail_id)
            return
        except TemporaryFailure as exc:
            await self._record(mail_id, "deferred", str(exc))
            logger.warning("mail %s deferred (temporary failure); the bus retries it", mail_id)
            raise MailDeferred(str(exc)) from None
        await self._record(mail_id, "sent", None)
        logger.info("mail %s sent", mail_id)

    async def _record(self, mail_id: str, state: str, error: str | None) -> None:
        now = datetime.now(UTC)
        values: dict[str, object] = {
            "state": state,
            "attempts": mail_messages.c.attempts + 1,
            "updated_at": now,
            "error": error[:MAX_ERROR] if error else None,
        }
        if state == "sent":
            values["sent_at"] = now
        async with self.engine.begin() as conn:
            await conn.execute(
                update(mail_messages)
                .where(mail_messages.c.id == mail_id, mail_messages.c.state.not_in(DONE_STATES))
                .values(**values)
            )


async def requeue_deferred(
    conn: AsyncConnection, retry_after: timedelta, give_up_after: timedelta, now: datetime | None = None
) -> tuple[int, int]:
    """Queue again the mails deferred longer than ``retry_after``; fail those older than ``give_up_after``.

    Returns (queued again, given up). Runs in the caller's transaction; the new outbox rows carry new
    message ids (the old message may sit in the dead letters, and replaying it later is harmless).
    """
    now = now or datetime.now(UTC)
    gave_up = await conn.execute(
        update(mail_messages)
        .where(mail_messages.c.state == "deferred", mail_messages.c.created_at < now - give_up_after)
        .values(state="failed", updated_at=now, error="gave up: temporary failures for too long")
    )
    cutoff = now - retry_after
    stale = (
        await conn.execute(
            select(mail_messages.c.id, mail_messages.c.request_id).where(
                mail_messages.c.state == "deferred", mail_messages.c.updated_at < cutoff
            )
        )
    ).all()
    queued = 0
    for mail_id, request_id in stale:
        # Claim the row by touching it: a second sweeper (another workflow service) waits on the row lock,
        # then finds it fresh and leaves it; the next sweep waits another retry_after for this attempt.
        claimed = await conn.execute(
            update(mail_messages)
            .where(
                mail_messages.c.id == mail_id,
                mail_messages.c.state == "deferred",
                mail_messages.c.updated_at < cutoff,
            )
            .values(updated_at=now)
        )
        if claimed.rowcount == 1:
            await add_to_outbox(conn, MAIL_TOPIC, mail_envelope(mail_id, mail_id, now), request_id or mail_id)
            queued += 1
    return queued, int(gave_up.rowcount or 0)
