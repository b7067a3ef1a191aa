"""A consumer process for the crash tests: ``python -m tests.messaging.consumer_proc AMQP_URL DB_URL MODE MARKER``.

It consumes ``t.work`` with an idempotent handler that inserts the message into ``t_work``. MODE:
- ``normal``: handle and ack;
- ``hang_before_commit``: insert, touch MARKER, then hang inside the open transaction (killed there);
- ``hang_after_commit``: commit, touch MARKER, then hang before the ack (killed there).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.messaging.conftest import FAST_POLICY, TEST_TOPOLOGY, MemoryDeadLetters
from workflow.adapters.db import create_engine
from workflow.messaging.envelope import Envelope
from workflow.messaging.idempotency import idempotent
from workflow.messaging.rabbitmq import RabbitMQBus

CONSUMER = "crash-test"
HANG_S = 3600


async def main(amqp_url: str, db_url: str, mode: str, marker: Path) -> None:
    engine = create_engine(db_url)

    async def work(conn: AsyncConnection, envelope: Envelope) -> None:
        await conn.execute(
            text("INSERT INTO t_work (message_id, n) VALUES (:m, :n)"),
            {"m": envelope.message_id, "n": envelope.payload["n"]},
        )
        if mode == "hang_before_commit":
            await asyncio.to_thread(marker.touch)
            await asyncio.sleep(HANG_S)

    handler = idempotent(engine, CONSUMER, work)

    async def handle(envelope: Envelope) -> None:
        await handler(envelope)
        if mode == "hang_after_commit":
            await asyncio.to_thread(marker.touch)
            await asyncio.sleep(HANG_S)

    bus = RabbitMQBus(
        amqp_url, exchange="t", policy=FAST_POLICY, dead_letters=MemoryDeadLetters(), topology=TEST_TOPOLOGY
    )
    await bus.start()
    await bus.consume("t.work", handle, prefetch=1)
    await asyncio.to_thread(Path(f"{marker}.ready").touch)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])))
