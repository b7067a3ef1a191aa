"""Idempotent consumers: remember each handled message id in the same transaction as the work.

A consumer is one small function ``async def handle(conn, envelope) -> None`` that does its database work
on ``conn``. ``idempotent(engine, consumer, fn)`` turns it into a bus handler that opens the transaction,
skips a message this consumer already handled, runs ``fn`` and commits; the bus acks after that commit.
If the process dies between commit and ack, the redelivered message finds its id and is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.adapters.orm import processed_messages
from workflow.messaging.bus import BatchHandler, Handler
from workflow.messaging.envelope import Envelope

logger = logging.getLogger(__name__)

ConnHandler = Callable[[AsyncConnection, Envelope], Awaitable[None]]


async def first_time(
    conn: AsyncConnection, consumer: str, message_id: str, now: datetime | None = None
) -> bool:
    """Record (consumer, message_id); False when it was already recorded (a redelivery).

    On PostgreSQL a concurrent duplicate waits on the unique key until the first transaction ends, so two
    copies of one message are never both handled.
    """
    values = {"consumer": consumer, "message_id": message_id, "processed_at": now or datetime.now(UTC)}
    dialect = conn.dialect.name
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(processed_messages).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(processed_messages).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"unsupported database {dialect}")
    result = await conn.execute(statement)
    return bool(result.rowcount == 1)


def idempotent(engine: AsyncEngine, consumer: str, fn: ConnHandler) -> Handler:
    async def handler(envelope: Envelope) -> None:
        async with engine.begin() as conn:
            if not await first_time(conn, consumer, envelope.message_id):
                logger.info("%s: message %s already handled; skipped", consumer, envelope.message_id)
                return
            await fn(conn, envelope)

    return handler


def idempotent_batch(engine: AsyncEngine, consumer: str, fn: ConnHandler) -> BatchHandler:
    """The batch form: several messages in one transaction (one commit), each skipped if already handled.
    If any message fails the whole transaction rolls back and the bus retries them one by one."""

    async def handler(envelopes: Sequence[Envelope]) -> None:
        async with engine.begin() as conn:
            for envelope in envelopes:
                if await first_time(conn, consumer, envelope.message_id):
                    await fn(conn, envelope)

    return handler
