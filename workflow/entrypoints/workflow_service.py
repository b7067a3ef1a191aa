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
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbound import pg_batch
from inbound.service import Deferred, InboundConfig, MoMessage, answer_batch, finish, may_defer
from workflow.adapters.db import create_engine
from workflow.adapters.orm import outbox
from workflow.adapters.table_stats import analyze_stale_tables
from workflow.bootstrap import Services, bootstrap
from workflow.cancellation import reraise_if_stopping
from workflow.mail.service import start_mail_service
from workflow.messaging.bus import Bus, Reject
from workflow.messaging.envelope import Envelope
from workflow.messaging.factory import create_bus, start_with_retry
from workflow.messaging.idempotency import idempotent_batch
from workflow.messaging.notifications import run_event_hooks
from workflow.messaging.outbox import DIRECT, outbox_values
from workflow.messaging.relay import DIRECT_GRACE_S, DirectPublisher, OutboxRelay, notify_new_outbox
from workflow.messaging.sms_receipts import purge_pending_receipts, record_status, status_batch_handler
from workflow.messaging.sms_store import OUTBOUND_TOPIC, queue_sms, sms_messages
from workflow.reports import counts as report_counts
from workflow.settings import Settings

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 3600.0
BATCH = 50  # messages per transaction at most
PHONE_MAX, MO_ID_MAX = 16, 64  # sms_messages.phone_e164, sms_messages.mo_id


class Stoppable(Protocol):
    async def stop(self) -> None: ...


@dataclass
class Consumers:
    settings: Settings
    engine: AsyncEngine
    services: Services
    #: Publishes the replies right after their commit (the relay only as a safety net); None: the relay.
    direct: DirectPublisher | None = None

    async def on_event(self, conn: AsyncConnection, envelope: Envelope) -> None:
        await run_event_hooks(conn, envelope, self.settings)

    async def on_sms_status(self, conn: AsyncConnection, envelope: Envelope) -> None:
        await record_status(conn, envelope.payload)

    async def on_sms_inbound(self, envelopes: Sequence[Envelope]) -> None:
        """Store a batch of MOs, answer them (inbound/) and queue the replies in one transaction. A message
        may carry one MO (version 1) or several (version 2, the gateway's batches): all go into the batch.

        Idempotent on ``mo_id`` (SMSC redeliveries arrive with new message ids): an MO is stored ``handled``
        with its reply queued in that same transaction, so a redelivery finds it and is skipped; an MO seen
        twice in one batch is answered once; two consumers given the same MO answer it once (the second
        waits on the first's insert of its ``mo_id``). A command that goes through the service layer
        (filing, the open list) is stored ``received`` and answered after the commit, one by one
        (``_finish``); a redelivery finds it ``received`` and answers it again (a filing files once).
        The replies' outbox rows are published by this handler right after the commit (``direct``); the
        relay publishes any it could not. On PostgreSQL the transaction is two statements on the driver
        connection (``inbound.pg_batch``); elsewhere the portable statements below."""
        config = InboundConfig.from_services(self.services)
        now = self.services.clock()
        first: dict[str, tuple[MoMessage, datetime, Envelope]] = {}
        rejected: list[str] = []
        for envelope in envelopes:
            for index, item in enumerate(_inbound_mos(envelope)):
                try:
                    mo, received_at = _mo(item)
                except Reject as exc:
                    # In a batch: before any work, so that the bus hands each message over alone. A
                    # version 2 message alone: its other MOs are answered first, then it is parked.
                    if len(envelopes) > 1 or envelope.version < 2:
                        raise
                    rejected.append(f"items[{index}]: {exc}")
                    continue
                first.setdefault(mo.mo_id, (mo, received_at, item))  # a duplicate in the batch: once
        if first:
            await self._answer_mos(first, config, now)
        if rejected:
            raise Reject(f"{len(rejected)} MOs rejected; " + "; ".join(rejected))

    async def _answer_mos(
        self, first: Mapping[str, tuple[MoMessage, datetime, Envelope]], config: InboundConfig, now: datetime
    ) -> None:
        stamp = datetime.now(UTC)
        if self.engine.dialect.name == "postgresql":
            stored = await self._store_and_answer_pg(first, config, now, stamp)
        else:
            stored = await self._store_and_answer(first, config, now, stamp)
        if self.direct is not None:
            await self.direct.publish(stored.published)
        for sms_id, answer, envelope in stored.deferred:
            await self._finish(config, sms_id, answer, envelope, now)

    async def _store_and_answer(
        self,
        first: Mapping[str, tuple[MoMessage, datetime, Envelope]],
        config: InboundConfig,
        now: datetime,
        stamp: datetime,
    ) -> StoredBatch:
        """The batch's one transaction (portable statements): store the MOs, answer them, queue the
        replies. Earlier batches' replies confirmed by the broker since are marked sent here too, saving a
        transaction (handed back to the publisher if this one fails)."""
        with self._direct_marks() as marks:
            async with self.engine.begin() as conn:
                stored = await self._store_and_answer_in(conn, first, config, now, stamp)
                if self.direct is not None:
                    marks.taken = await self.direct.mark_within(conn)
                    if stored.published:
                        marks.commit = await self.direct.expect_commit(conn)
        return stored

    async def _store_and_answer_in(
        self,
        conn: AsyncConnection,
        first: Mapping[str, tuple[MoMessage, datetime, Envelope]],
        config: InboundConfig,
        now: datetime,
        stamp: datetime,
    ) -> StoredBatch:
        # Store first: an MO stored already (a redelivery) is not inserted again. The state is final
        # unless the command may go through the service layer after the commit (then "received").
        rows = {
            mo_id: _mo_row(
                uuid.uuid4().hex,
                mo,
                received_at,
                "received" if may_defer(mo, config) else "handled",
                stamp,
            )
            for mo_id, (mo, received_at, _) in first.items()
        }
        # Sorted by mo_id: two consumers inserting overlapping redeliveries lock in the same order; a
        # concurrent insert of the same mo_id waits for the other transaction and then conflicts.
        ordered = [rows[mo_id] for mo_id in sorted(rows)]
        stmt = _insert(conn, sms_messages).on_conflict_do_nothing(index_elements=[sms_messages.c.mo_id])
        result = await conn.execute(stmt.returning(sms_messages.c.mo_id), ordered)
        inserted = {str(r[0]) for r in result}
        stored = {mo_id: (str(rows[mo_id]["id"]), str(rows[mo_id]["state"])) for mo_id in inserted}
        if len(inserted) < len(rows):
            stored.update(await _known_mos(conn, [mo_id for mo_id in rows if mo_id not in inserted]))
        items = [
            (mo, envelope, stored[mo_id][0], mo_id in inserted)
            for mo_id, (mo, _, envelope) in first.items()
            if mo_id in inserted or stored[mo_id][1] != "handled"
        ]
        batch = StoredBatch()
        if not items:
            return batch
        answers = await answer_batch(conn, config, [mo for mo, _, _, _ in items], now)
        handled_now: list[str] = []
        replies: list[tuple[str, str, str, Envelope]] = []
        for (mo, envelope, sms_id, new), answer in zip(items, answers, strict=True):
            if isinstance(answer, Deferred):
                batch.deferred.append((sms_id, answer, envelope))
                continue
            if not new or may_defer(mo, config):
                handled_now.append(sms_id)  # stored "received": answered after all
            if answer:
                replies.append((sms_id, mo.sender, answer, envelope))
        if handled_now:
            await conn.execute(
                update(sms_messages)
                .where(sms_messages.c.id.in_(handled_now))
                .values(state="handled", updated_at=stamp)
            )
        batch.published = await _queue_replies(conn, replies, stamp, direct=self.direct is not None)
        return batch

    async def _store_and_answer_pg(
        self,
        first: Mapping[str, tuple[MoMessage, datetime, Envelope]],
        config: InboundConfig,
        now: datetime,
        stamp: datetime,
    ) -> StoredBatch:
        """The same transaction as ``_store_and_answer`` in four round trips on the driver connection:
        BEGIN (with generic plans), ``pg_batch.READ``, ``pg_batch.WRITE``, COMMIT (instead of about a dozen
        through SQLAlchemy)."""
        mos = [
            pg_batch.NewMo(
                uuid.uuid4().hex, mo, received_at, "received" if may_defer(mo, config) else "handled"
            )
            for mo, received_at, _ in first.values()
        ]
        async with self.engine.connect() as conn:
            raw: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
            try:
                with self._direct_marks() as marks:
                    # One round trip for BEGIN and the plan mode: with custom plans (the default for the
                    # first executions, and kept while they look cheaper) PostgreSQL plans both statements
                    # again for every batch, which cost as much as running them.
                    await raw.execute("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
                    try:
                        batch = await self._answer_pg(raw, conn, marks, first, mos, config, now, stamp)
                    except BaseException:
                        await raw.execute("ROLLBACK")
                        raise
                    await raw.execute("COMMIT")
            except BaseException:
                # A dropped connection, or one still in the transaction (its ROLLBACK failed): the pool
                # must not hand it out again (it resets only the transactions SQLAlchemy began itself).
                if raw.is_closed() or raw.is_in_transaction():
                    await conn.invalidate()
                raise
        return batch

    async def _answer_pg(
        self,
        raw: asyncpg.Connection,
        conn: AsyncConnection,
        marks: _Marks,
        first: Mapping[str, tuple[MoMessage, datetime, Envelope]],
        mos: Sequence[pg_batch.NewMo],
        config: InboundConfig,
        now: datetime,
        stamp: datetime,
    ) -> StoredBatch:
        """Inside ``_store_and_answer_pg``'s transaction: ``pg_batch.read``, the replies, ``pg_batch.write``."""
        batch = StoredBatch()
        read = await pg_batch.read(raw, config, mos, now, stamp)
        handled: list[str] = []
        replies: list[tuple[str, str, str, str, str | None, str, str, str, datetime]] = []
        envelopes: dict[str, Envelope] = {}
        for item in read.answered:
            envelope = first[item.mo.mo_id][2]
            if isinstance(item.answer, Deferred):
                batch.deferred.append((item.sms_id, item.answer, envelope))
                continue
            if not item.new or may_defer(item.mo, config):
                handled.append(item.sms_id)  # stored "received": answered after all
            if item.answer:
                sms_id = uuid.uuid4().hex
                reply = _reply_envelope(sms_id, item.mo.sender, item.answer, envelope, stamp)
                values = outbox_values(OUTBOUND_TOPIC, reply, ordering_key=sms_id)
                envelopes[reply.message_id] = reply
                replies.append(
                    (
                        sms_id,
                        item.sms_id,
                        item.mo.sender,
                        item.answer,
                        item.first_today,
                        reply.message_id,
                        values["payload"],
                        reply.correlation_id,
                        reply.created_at,
                    )
                )
        if self.direct is not None:
            marks.taken = self.direct.take_marks()
        if replies or handled or read.log or marks.taken:
            if self.direct is not None:
                # The outbox trigger notifies once per statement, rows or not.
                marks.commit = await self.direct.expect_commit(conn)
            queued = await pg_batch.write(
                raw,
                now=stamp,
                replies=replies,
                attempts=DIRECT if self.direct is not None else 0,
                handled=handled,
                log=read.log,
                sent=marks.taken,
            )
            batch.published = [
                (OUTBOUND_TOPIC, envelopes[message_id]) for message_id in envelopes if message_id in queued
            ]
        return batch

    @contextlib.contextmanager
    def _direct_marks(self) -> Iterator[_Marks]:
        """Earlier replies marked sent by this transaction, and the expected NOTIFY of its commit: handed
        back to the publisher if the transaction fails."""
        marks = _Marks()
        try:
            yield marks
        except BaseException:
            if self.direct is not None:
                self.direct.unmark(marks.taken)
                self.direct.forget_commit(marks.commit)
            raise

    async def _finish(
        self, config: InboundConfig, sms_id: str, answer: Deferred, envelope: Envelope, now: datetime
    ) -> None:
        reply = await finish(self.services, config, answer, now)
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


@dataclass
class StoredBatch:
    """What a batch's transaction leaves to do after its commit: the replies' outbox messages to publish,
    and the MOs whose command goes through the service layer (``_finish``)."""

    published: list[tuple[str, Envelope]] = field(default_factory=list)
    deferred: list[tuple[str, Deferred, Envelope]] = field(default_factory=list)


@dataclass
class _Marks:
    taken: list[tuple[str, datetime]] = field(default_factory=list)
    commit: int | None = None


def _reply_envelope(sms_id: str, to: str, body: str, cause: Envelope, now: datetime) -> Envelope:
    return Envelope.new(
        "sms.outbound",
        {"sms_id": sms_id, "to": to, "text": body},
        correlation_id=cause.correlation_id or sms_id,
        now=now,
    )


def _inbound_mos(envelope: Envelope) -> list[Envelope]:
    """The MOs an ``sms.inbound`` message carries, each as the version 1 message the gateway would have
    sent on its own (message and correlation id: the ``mo_id``): one (version 1) or a batch (version 2)."""
    if envelope.version < 2:
        return [envelope]
    return [
        Envelope("sms.inbound", 1, str(item["mo_id"]), str(item["mo_id"]), envelope.created_at, item)
        for item in envelope.payload["items"]
    ]


def _mo(envelope: Envelope) -> tuple[MoMessage, datetime]:
    payload = envelope.payload
    if len(payload["from"]) > PHONE_MAX or len(payload["mo_id"]) > MO_ID_MAX:
        raise Reject("sms.inbound: sender or mo_id longer than the columns that store them")
    return MoMessage.from_payload(payload), _timestamp(payload["received_at"])


async def _known_mos(conn: AsyncConnection, mo_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """mo_id -> (id, state) of the MOs already stored."""
    t = sms_messages
    rows = await conn.execute(select(t.c.mo_id, t.c.id, t.c.state).where(t.c.mo_id.in_(sorted(set(mo_ids)))))
    return {str(mo_id): (str(sms_id), str(state)) for mo_id, sms_id, state in rows}


def _mo_row(sms_id: str, mo: MoMessage, received_at: datetime, state: str, now: datetime) -> dict[str, Any]:
    """The ``sms_messages`` row of an MO, as ``sms_store.record_mo`` writes it (with its final state)."""
    return {
        "id": sms_id,
        "direction": "in",
        "phone_e164": mo.sender,
        "text": mo.text,
        "purpose": "mo",
        "state": state,
        "part_count": None,
        "error": None,
        "request_id": None,
        "reply_to_id": None,
        "mo_id": mo.mo_id,
        "created_at": received_at,
        "updated_at": now,
    }


async def _queue_replies(
    conn: AsyncConnection, replies: Sequence[tuple[str, str, str, Envelope]], now: datetime, *, direct: bool
) -> list[tuple[str, Envelope]]:
    """``sms_store.queue_sms(conn, to, text, "reply", reply_to_id=mo, correlation_id=…)`` for several
    replies: the same rows, two multi-row inserts (the outbox NOTIFY fires once). Returns the outbox
    messages (topic, envelope); ``direct``: their rows are left to the caller to publish after the commit."""
    if not replies:
        return []
    messages, outbox_rows = [], []
    published: list[tuple[str, Envelope]] = []
    for mo_sms_id, to, body, cause in replies:
        sms_id = uuid.uuid4().hex
        messages.append(
            {
                "id": sms_id,
                "direction": "out",
                "phone_e164": to,
                "text": body,
                "purpose": "reply",
                "state": "queued",
                "part_count": None,
                "error": None,
                "request_id": None,
                "reply_to_id": mo_sms_id,
                "mo_id": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        envelope = _reply_envelope(sms_id, to, body, cause, now)
        outbox_rows.append(outbox_values(OUTBOUND_TOPIC, envelope, ordering_key=sms_id, direct=direct))
        published.append((OUTBOUND_TOPIC, envelope))
    await conn.execute(insert(sms_messages), messages)
    await conn.execute(insert(outbox), outbox_rows)
    return published


def _insert(conn: AsyncConnection, table: Any) -> Any:
    return (postgresql if _postgres(conn) else sqlite).insert(table)


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
        self.direct = DirectPublisher(engine, bus)
        self.consumers = Consumers(settings, engine, services, self.direct)
        self._engine = engine
        self._bus = bus
        self._prefetch = settings.bus.prefetch
        # PostgreSQL: several relay loops overlap claiming and confirming (SKIP LOCKED); SQLite: exactly one.
        workers = settings.bus.relay_workers if engine.dialect.name == "postgresql" else 1
        # A reply's direct publish may take up to the publish timeout; the relays take an unsent reply
        # over only well after that (earlier, a slow but successful publish would go out twice).
        grace = max(DIRECT_GRACE_S, 2 * settings.bus.publish_timeout_s + 5)
        self.relays = [
            OutboxRelay(
                engine,
                bus,
                batch=settings.bus.relay_batch,
                poll_s=settings.bus.relay_poll_s,
                direct_grace_s=grace,
            )
            for _ in range(workers)
        ]
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        c, engine = self.consumers, self._engine
        # Events, status reports and MOs are handled in batches (one transaction each, see bus.run_batch).
        events = idempotent_batch(engine, "workflow.events", c.on_event)
        statuses = status_batch_handler(engine, "workflow.sms_status")  # set-based writes per batch
        await self._bus.consume_batches("events", events, max_batch=BATCH, prefetch=self._prefetch)
        await self._bus.consume_batches("sms.status", statuses, max_batch=BATCH, prefetch=self._prefetch)
        await self._bus.consume_batches(
            "sms.inbound", c.on_sms_inbound, max_batch=BATCH, prefetch=self._prefetch
        )
        for relay in self.relays:
            await relay.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="workflow-housekeeping")
        logger.info("workflow service started")

    async def stop(self) -> None:
        """Stop the relay and the sweeper; the consumers drain when the bus stops (its owner stops it)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.direct.drain()
        for relay in self.relays:
            await relay.stop()
        logger.info("workflow service stopped")

    async def _sweep(self) -> None:
        while True:
            await housekeeping(self._engine)
            await asyncio.sleep(SWEEP_INTERVAL_S)


async def housekeeping(engine: AsyncEngine) -> None:
    """The hourly chores; each one's failure is logged and left for the next hour, never raised."""
    try:
        async with engine.begin() as conn:
            purged = await purge_pending_receipts(conn)
        if purged:
            logger.info("dropped %d delivery receipts no submit result claimed", purged)
    except Exception as exc:
        reraise_if_stopping(exc)
        logger.warning("receipt sweep failed (%s)", exc.__class__.__name__)
    # Reads stay exact without it (they add the pending changes), but the delta tables of the report counts
    # would grow without bound where nobody opens the report pages for a long time.
    try:
        await report_counts.fold(engine)
    except Exception as exc:
        reraise_if_stopping(exc)
        logger.warning("folding the report counts failed (%s)", exc.__class__.__name__)
    try:
        await analyze_stale_tables(engine)
    except Exception as exc:
        reraise_if_stopping(exc)
        logger.warning("analysing stale tables failed (%s)", exc.__class__.__name__)


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
    # No pre-ping: every transaction of this process is retried by the bus when it fails (a dropped
    # connection included), and the pool is renewed on the first disconnect (see create_engine).
    engine = create_engine(
        settings.database.url,
        echo=settings.database.echo,
        pool_size=settings.database.pool_size,
        pre_ping=False,
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
