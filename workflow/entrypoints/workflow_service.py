"""The workflow service (``muhtar workflow``): the consumers of ``events``, ``sms.inbound`` and ``sms.status``,
plus the outbox relay.

Each queue has one small consumer function that decodes nothing itself (the bus hands it a validated
envelope), calls the service layer in one transaction and returns; the bus acks after that. Retries, back-off
and dead letters are the bus's business (``workflow/messaging/bus.py``), idempotency is ``idempotency.py``'s.

``start_workflow_service(settings, engine, bus)`` runs it inside any event loop (``muhtar run`` starts it next
to the web and the gateway); ``run`` is the stand-alone process, which drains in-flight work on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbound.service import handle_mo
from workflow.adapters.db import create_engine
from workflow.bootstrap import Services, bootstrap
from workflow.mail.service import start_mail_service
from workflow.messaging.bus import Bus, Reject
from workflow.messaging.envelope import Envelope
from workflow.messaging.factory import create_bus, start_with_retry
from workflow.messaging.idempotency import idempotent_batch
from workflow.messaging.notifications import run_event_hooks
from workflow.messaging.relay import OutboxRelay, notify_new_outbox
from workflow.messaging.sms_receipts import purge_pending_receipts, record_status, status_batch_handler
from workflow.messaging.sms_store import queue_sms, record_mo, sms_messages
from workflow.settings import Settings

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 3600.0
BATCH = 50  # messages per transaction at most
PHONE_MAX, MO_ID_MAX = 16, 64  # sms_messages.phone_e164, sms_messages.mo_id
MoHandoff = Callable[[Services, Mapping[str, Any]], Awaitable[str | None]]

# The hand-off of an MO's text: inbound/ parses it, does what it asks and returns the reply (or None).
MO_HANDOFF: MoHandoff = handle_mo


class Stoppable(Protocol):
    async def stop(self) -> None: ...


@dataclass
class Consumers:
    settings: Settings
    engine: AsyncEngine
    services: Services
    mo_handoff: MoHandoff = MO_HANDOFF

    async def on_event(self, conn: AsyncConnection, envelope: Envelope) -> None:
        await run_event_hooks(conn, envelope, self.settings)

    async def on_sms_status(self, conn: AsyncConnection, envelope: Envelope) -> None:
        await record_status(conn, envelope.payload)

    async def on_sms_inbound(self, envelope: Envelope) -> None:
        """Store the MO, hand it to inbound/, queue the reply. Idempotent on ``mo_id`` (SMSC redeliveries
        arrive with new message ids): an MO is ``handled`` once its reply is queued, in that transaction."""
        payload = envelope.payload
        if len(payload["from"]) > PHONE_MAX or len(payload["mo_id"]) > MO_ID_MAX:
            raise Reject("sms.inbound: sender or mo_id longer than the columns that store them")
        received_at = _timestamp(payload["received_at"])
        async with self.engine.begin() as conn:
            sms_id, state = await record_mo(
                conn, payload["mo_id"], payload["from"], payload["text"], received_at
            )
        if state == "handled":
            return
        reply = await self.mo_handoff(self.services, payload)
        async with self.engine.begin() as conn:
            query = select(sms_messages.c.state, sms_messages.c.phone_e164).where(sms_messages.c.id == sms_id)
            row = (await conn.execute(query.with_for_update() if _postgres(conn) else query)).one()
            if row.state == "handled":
                return
            if reply:
                await queue_sms(
                    conn,
                    row.phone_e164,
                    reply,
                    "reply",
                    reply_to_id=sms_id,
                    correlation_id=envelope.correlation_id,
                )
            await conn.execute(
                update(sms_messages)
                .where(sms_messages.c.id == sms_id)
                .values(state="handled", updated_at=datetime.now(UTC))
            )


def _postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Reject("timestamp is not ISO 8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


Companion = Callable[[Settings, AsyncEngine, Bus], Awaitable[Stoppable]]

# Other areas' parts of the `muhtar workflow` process (``muhtar run`` starts them itself).
COMPANIONS: tuple[Companion, ...] = (start_mail_service,)


class WorkflowService:
    def __init__(self, settings: Settings, engine: AsyncEngine, bus: Bus, services: Services) -> None:
        self.consumers = Consumers(settings, engine, services)
        self._engine = engine
        self._bus = bus
        self._prefetch = settings.bus.prefetch
        # PostgreSQL: several relay loops overlap claiming and confirming (SKIP LOCKED); SQLite: exactly one.
        workers = settings.bus.relay_workers if engine.dialect.name == "postgresql" else 1
        self.relays = [
            OutboxRelay(engine, bus, batch=settings.bus.relay_batch, poll_s=settings.bus.relay_poll_s)
            for _ in range(workers)
        ]
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        c, engine = self.consumers, self._engine
        # Events and status reports are handled in batches (one transaction each, see bus.run_batch);
        # an MO one by one, because inbound/ commits its own work.
        events = idempotent_batch(engine, "workflow.events", c.on_event)
        statuses = status_batch_handler(engine, "workflow.sms_status")  # set-based writes per batch
        await self._bus.consume_batches("events", events, max_batch=BATCH, prefetch=self._prefetch)
        await self._bus.consume_batches("sms.status", statuses, max_batch=BATCH, prefetch=self._prefetch)
        await self._bus.consume("sms.inbound", c.on_sms_inbound, prefetch=self._prefetch)
        for relay in self.relays:
            await relay.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="sms-receipt-sweeper")
        logger.info("workflow service started")

    async def stop(self) -> None:
        """Stop the relay and the sweeper; the consumers drain when the bus stops (its owner stops it)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for relay in self.relays:
            await relay.stop()
        logger.info("workflow service stopped")

    async def _sweep(self) -> None:
        while True:
            try:
                async with self._engine.begin() as conn:
                    purged = await purge_pending_receipts(conn)
                if purged:
                    logger.info("dropped %d delivery receipts no submit result claimed", purged)
            except Exception as exc:
                logger.warning("receipt sweep failed (%s)", exc.__class__.__name__)
            await asyncio.sleep(SWEEP_INTERVAL_S)


async def start_workflow_service(settings: Settings, engine: AsyncEngine, bus: Bus) -> Stoppable:
    """Start the consumers and the relay on a started ``bus``; ``stop()`` the result, then the bus."""
    services = bootstrap(settings, engine=engine, after_commit=notify_new_outbox)
    service = WorkflowService(settings, engine, bus, services)
    await service.start()
    return service


async def run(settings: Settings, _args: argparse.Namespace) -> int:
    """``muhtar workflow``: run until SIGTERM/SIGINT, then drain in-flight messages and exit 0."""
    if settings.bus.kind == "inprocess":
        logger.warning(
            "bus.kind is inprocess: only this process's messages flow; use `muhtar run` or RabbitMQ"
        )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    engine = create_engine(
        settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    bus = create_bus(settings.bus, engine)
    try:
        if not await start_with_retry(bus, settings.bus.reconnect_s, stopping):
            return 0
        service = await start_workflow_service(settings, engine, bus)
        companions = [await start(settings, engine, bus) for start in COMPANIONS]
        await stopping.wait()
        logger.info("workflow service: stopping, draining in-flight messages")
        for companion in reversed(companions):
            await companion.stop()  # as the mail service asks: before the bus
        await bus.stop()
        await service.stop()
    finally:
        await engine.dispose()
    return 0
