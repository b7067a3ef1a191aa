"""The e-mail side of the workflow service: the ``mail.outbound`` consumer and a once-a-minute sweep that
queues due staff digests and re-queues deferred mails (``delivery.requeue_deferred``).

``start_mail_service(settings, engine, bus)`` starts both on a started bus; ``stop()`` the result before
the bus. The transport follows the settings: SMTP when ``mail.enabled``, else ``.eml`` files in
``mail.outbox_dir`` (the embedded default, shown by the simulator page).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.cancellation import reraise_if_stopping
from workflow.mail.compose import Sender
from workflow.mail.delivery import MailDelivery, requeue_deferred
from workflow.mail.digest import queue_due_digests
from workflow.mail.queue import MAIL_TOPIC
from workflow.mail.transport import FileTransport, MailTransport, SmtpTransport
from workflow.messaging.bus import Bus
from workflow.paths import ROOT
from workflow.settings import MailSettings, Settings

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 60.0
MAIL_QUEUE = MAIL_TOPIC


def outbox_folder(mail: MailSettings) -> Path:
    path = Path(mail.outbox_dir)
    return path if path.is_absolute() else ROOT / path


def transport_for(mail: MailSettings) -> MailTransport:
    if mail.enabled:
        return SmtpTransport.from_settings(mail)
    return FileTransport(outbox_folder(mail))


def sender_for(mail: MailSettings) -> Sender:
    return Sender(mail.sender or f"bildirim@{mail.domain}", mail.sender_name, mail.domain)


class MailService:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        bus: Bus,
        transport: MailTransport | None = None,
        *,
        sweep_interval_s: float = SWEEP_INTERVAL_S,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._bus = bus
        self.delivery = MailDelivery(
            engine, transport or transport_for(settings.mail), sender_for(settings.mail)
        )
        self._interval = sweep_interval_s
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._bus.consume(MAIL_QUEUE, self.delivery.handle, prefetch=self._settings.bus.prefetch)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="mail-sweeper")
        logger.info("mail delivery started (%s)", "SMTP" if self._settings.mail.enabled else "file outbox")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def sweep(self) -> None:
        """One round: queue due digests, re-queue deferred mails (both in one transaction)."""
        mail = self._settings.mail
        async with self._engine.begin() as conn:
            digests = await queue_due_digests(conn, self._settings)
            again, gave_up = await requeue_deferred(
                conn, timedelta(seconds=mail.retry_after_s), timedelta(hours=mail.give_up_after_h)
            )
        if digests or again or gave_up:
            logger.info(
                "mail sweep: %d digests queued, %d deferred mails re-queued, %d given up",
                digests,
                again,
                gave_up,
            )

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:
                reraise_if_stopping(exc)
                logger.warning("mail sweep failed (%s)", exc.__class__.__name__)
            await asyncio.sleep(self._interval)


async def start_mail_service(settings: Settings, engine: AsyncEngine, bus: Bus) -> MailService:
    service = MailService(settings, engine, bus)
    await service.start()
    return service
