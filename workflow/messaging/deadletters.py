"""Dead letters: parked messages in the ``dead_letters`` table, where an operator lists, shows and replays them.

Both buses end up here: the in-process bus parks directly; the RabbitMQ bus parks into its ``X.dead``
queue and the workflow service's sink moves each one into this table. So ``muhtar dlq`` works from any process
in both modes. A replay only marks the row (``replay_requested_at``); the outbox relay, which is running
wherever the bus is, republishes the original body to the original queue and stamps ``replayed_at``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.orm import BigId, metadata, utc_datetime
from workflow.messaging.bus import Bus, DeadLetter, PublishFailed
from workflow.messaging.envelope import peek_ids

logger = logging.getLogger(__name__)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("queue", String(100), nullable=False),
    Column("topic", String(200), nullable=True),
    Column("message_id", String(64), nullable=True),
    Column("schema", String(100), nullable=True),
    Column("body", LargeBinary, nullable=False),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("dead_at", utc_datetime(), nullable=False),
    Column("replay_requested_at", utc_datetime(), nullable=True),
    Column("replayed_at", utc_datetime(), nullable=True),
    Index("ix_dead_letters_queue_dead_at", "queue", "dead_at"),
    Index("ix_dead_letters_replay", "replayed_at", "replay_requested_at"),
)


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    queue: str
    topic: str | None
    message_id: str | None
    schema: str | None
    body: bytes
    reason: str
    attempts: int
    dead_at: datetime
    replay_requested_at: datetime | None
    replayed_at: datetime | None

    @property
    def state(self) -> str:
        if self.replayed_at is not None:
            return "replayed"
        return "replay-requested" if self.replay_requested_at is not None else "parked"


class SqlDeadLetterStore:
    """The ``DeadLetterStore`` the buses park into."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def park(self, letter: DeadLetter) -> None:
        message_id, schema = peek_ids(letter.body)
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            await conn.execute(
                dead_letters.insert().values(
                    queue=letter.queue,
                    topic=letter.topic,
                    message_id=message_id,
                    schema=schema,
                    body=letter.body,
                    reason=letter.reason,
                    attempts=letter.attempts,
                    dead_at=now,
                    replay_requested_at=now if letter.replay else None,
                )
            )
        logger.info("dead letter parked: queue %s message %s", letter.queue, message_id)


async def list_dead_letters(
    engine: AsyncEngine, *, queue: str | None = None, include_replayed: bool = False, limit: int = 100
) -> list[DeadLetterRow]:
    query = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
    if queue is not None:
        query = query.where(dead_letters.c.queue == queue)
    if not include_replayed:
        query = query.where(dead_letters.c.replayed_at.is_(None))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [DeadLetterRow(**row) for row in rows]


async def get_dead_letter(engine: AsyncEngine, letter_id: int) -> DeadLetterRow | None:
    async with engine.connect() as conn:
        row = (
            (await conn.execute(select(dead_letters).where(dead_letters.c.id == letter_id)))
            .mappings()
            .first()
        )
    return DeadLetterRow(**row) if row is not None else None


async def request_replay(engine: AsyncEngine, letter_ids: Sequence[int]) -> int:
    """Mark parked letters for replay; returns how many were marked (already replayed ones are left)."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        result = await conn.execute(
            update(dead_letters)
            .where(dead_letters.c.id.in_(list(letter_ids)), dead_letters.c.replayed_at.is_(None))
            .values(replay_requested_at=now)
        )
    return int(result.rowcount)


async def request_replay_all(engine: AsyncEngine, queue: str | None = None) -> int:
    now = datetime.now(UTC)
    statement = (
        update(dead_letters).where(dead_letters.c.replayed_at.is_(None)).values(replay_requested_at=now)
    )
    if queue is not None:
        statement = statement.where(dead_letters.c.queue == queue)
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount)


async def replay_requested(engine: AsyncEngine, bus: Bus, *, batch: int = 100) -> int:
    """Republish letters marked for replay to their queue, then stamp them; run by the outbox relay.

    The stamp is written in the transaction that claimed the rows, after the bus confirmed, so a crash in
    between replays a letter twice (consumers are idempotent) but never loses one.
    """
    query = (
        select(dead_letters.c.id, dead_letters.c.queue, dead_letters.c.body)
        .where(dead_letters.c.replay_requested_at.is_not(None), dead_letters.c.replayed_at.is_(None))
        .order_by(dead_letters.c.id)
        .limit(batch)
    )
    if engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    async with engine.begin() as conn:
        rows = (await conn.execute(query)).all()
        done: list[int] = []
        unknown: list[int] = []
        failure: PublishFailed | None = None
        for letter_id, queue, body in rows:
            if queue not in bus.queues:
                unknown.append(letter_id)  # e.g. parked by the broker from a queue this topology lacks
                continue
            try:
                await bus.requeue(queue, bytes(body))
            except PublishFailed as exc:
                failure = exc
                break
            done.append(letter_id)
        if done:
            await conn.execute(
                update(dead_letters).where(dead_letters.c.id.in_(done)).values(replayed_at=datetime.now(UTC))
            )
        if unknown:
            # Withdraw the request so it does not come back every round; the operator sees why.
            await conn.execute(
                update(dead_letters)
                .where(dead_letters.c.id.in_(unknown))
                .values(
                    replay_requested_at=None,
                    reason=dead_letters.c.reason + " [replay refused: unknown queue]",
                )
            )
            logger.warning(
                "%d dead letters name a queue this bus does not have; replay refused", len(unknown)
            )
    if done:
        logger.info("replayed %d dead letters", len(done))
    if failure is not None:
        raise failure
    return len(done)
