"""Messages per second through the bus and the outbox relay.

Run: ``.venv/bin/python bench/bus.py [--messages 5000] [--only inprocess-sqlite|inprocess-postgres|rabbitmq]``

Figures (each on a fresh database / vhost):
- ``consume``: publish -> consume -> handler commit (processed_messages row, one transaction per message)
  -> ack, end to end, from the first publish to the last handled message;
- ``consume-batches``: the same with ``consume_batches`` (up to 50 messages per transaction), as the
  workflow service consumes ``events`` and ``sms.status``;
- ``publish``: publishes alone (confirmed), 500 in flight at a time;
- ``drain-batches``: messages already queued -> consumed in batches -> commit -> ack (the consumer alone);
- ``relay``: (2 relay loops on PostgreSQL, as the workflow service runs them) outbox rows already committed -> published with confirms and marked sent (nothing consuming);
- ``pipeline``: outbox rows -> relay -> bus -> handler commit (batches) -> ack.

PostgreSQL 127.0.0.1:5432 and RabbitMQ 127.0.0.1:5672 as in the tests (MUHTAR_TEST_PG_* overrides); a uniquely
named database and vhost are created and dropped. Record the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import create_pg_database, drop_pg_database, pg_url
from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.adapters.orm import outbox, processed_messages
from workflow.messaging.bus import Bus, DeadLetter, RetryPolicy
from workflow.messaging.envelope import Envelope
from workflow.messaging.idempotency import idempotent, idempotent_batch
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.outbox import outbox_values
from workflow.messaging.rabbitmq import RabbitMQBus
from workflow.messaging.relay import OutboxRelay

TOPOLOGY = {"bench": ("bench.#",)}
PREFETCH = 100
PUBLISH_CHUNK = 500
BATCH = 50


class NoDeadLetters:
    async def park(self, letter: DeadLetter) -> None:
        if (
            not letter.replay
        ):  # replay=True: the in-process bus spilling what nobody consumed (relay-only run)
            raise RuntimeError(f"unexpected dead letter: {letter.reason}")


def message(n: int) -> Envelope:
    return Envelope.new(
        "request.note_added",
        {"request_id": f"r{n % 997}", "number": n, "at": "2026-11-25T00:00:00+00:00", "public": True},
    )


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[AsyncEngine]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = create_engine(f"sqlite+aiosqlite:///{folder}/bench.db")
            await migrate(engine)
            try:
                yield engine
            finally:
                await engine.dispose()
        return
    name = await create_pg_database()
    engine = create_engine(pg_url(name), pool_size=20)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()
        await drop_pg_database(name)


@asynccontextmanager
async def rabbit_vhost() -> AsyncIterator[str]:
    name = f"muhtar-bench-{uuid.uuid4().hex[:8]}"
    await rabbitmqctl("add_vhost", name)
    await rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        await rabbitmqctl("delete_vhost", name)


async def rabbitmqctl(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec("rabbitmqctl", *args, stdout=asyncio.subprocess.DEVNULL)
    if await proc.wait() != 0:
        raise RuntimeError(f"rabbitmqctl {args[0]} failed")


def make_bus(kind: str, url: str) -> Bus:
    policy = RetryPolicy(delays_s=(1.0,), max_attempts=3)
    if kind == "rabbitmq":
        return RabbitMQBus(
            url,
            exchange="bench",
            policy=policy,
            dead_letters=NoDeadLetters(),
            topology=TOPOLOGY,
            prefetch=PREFETCH,
        )
    return InProcessBus(NoDeadLetters(), policy, topology=TOPOLOGY, prefetch=PREFETCH)


async def count(engine: AsyncEngine, query: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())  # type: ignore[call-overload]


async def until(done: Callable[[], Awaitable[bool]]) -> None:
    while not await done():  # noqa: ASYNC110 - the condition is in the database
        await asyncio.sleep(0.01)


async def start_consumer(
    bus: Bus, engine: AsyncEngine, total: int, finished: asyncio.Event, *, batches: bool
) -> None:
    counter = [0]

    async def work(_conn: AsyncConnection, _envelope: Envelope) -> None:
        counter[0] += 1
        if counter[0] >= total:
            finished.set()

    if batches:
        await bus.consume_batches("bench", idempotent_batch(engine, "bench", work), max_batch=BATCH)
    else:
        await bus.consume("bench", idempotent(engine, "bench", work))


async def publish_all(bus: Bus, total: int) -> None:
    envelopes = [message(n) for n in range(total)]
    for start in range(0, total, PUBLISH_CHUNK):
        await asyncio.gather(
            *(bus.publish("bench.note", e) for e in envelopes[start : start + PUBLISH_CHUNK])
        )


async def bench_consume(
    bus_kind: str, engine: AsyncEngine, url: str, total: int, *, batches: bool, queued_first: bool = False
) -> float:
    """End to end; with ``queued_first`` the messages are published before the clock starts (consumer alone)."""
    bus = make_bus(bus_kind, url)
    await bus.start()
    finished = asyncio.Event()
    if queued_first:
        await publish_all(bus, total)
    started = time.perf_counter()
    await start_consumer(bus, engine, total, finished, batches=batches)
    if not queued_first:
        await publish_all(bus, total)
    await finished.wait()
    elapsed = time.perf_counter() - started
    await bus.stop()
    assert await count(engine, select(func.count()).select_from(processed_messages)) == total
    return total / elapsed


async def bench_publish(bus_kind: str, url: str, total: int) -> float:
    bus = make_bus(bus_kind, url)
    await bus.start()
    started = time.perf_counter()
    await publish_all(bus, total)
    elapsed = time.perf_counter() - started
    await bus.stop()
    return total / elapsed


async def fill_outbox(engine: AsyncEngine, total: int) -> None:
    rows = [outbox_values("bench.note", message(n), f"r{n % 997}") for n in range(total)]
    async with engine.begin() as conn:
        for start in range(0, total, 1000):
            await conn.execute(outbox.insert(), rows[start : start + 1000])


async def bench_relay(bus_kind: str, engine: AsyncEngine, url: str, total: int, *, consume: bool) -> float:
    await fill_outbox(engine, total)
    bus = make_bus(bus_kind, url)
    await bus.start()
    finished = asyncio.Event()
    if consume:
        await start_consumer(bus, engine, total, finished, batches=True)
    # As the workflow service runs them: bus.relay_workers (2) loops on PostgreSQL, one on SQLite.
    workers = 2 if engine.dialect.name == "postgresql" else 1
    relays = [OutboxRelay(engine, bus, batch=500, poll_s=0.05) for _ in range(workers)]
    started = time.perf_counter()
    for relay in relays:
        await relay.start()
    unsent = select(func.count()).where(outbox.c.sent_at.is_(None))
    if consume:
        await finished.wait()
    else:
        await until(lambda: _zero(engine, unsent))
    elapsed = time.perf_counter() - started
    for relay in relays:
        await relay.stop()
    await bus.stop()
    return total / elapsed


async def _zero(engine: AsyncEngine, query: object) -> bool:
    return await count(engine, query) == 0


SETUPS = {
    "inprocess-sqlite": ("inprocess", "sqlite"),
    "inprocess-postgres": ("inprocess", "postgres"),
    "rabbitmq": ("rabbitmq", "postgres"),
}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--only", choices=sorted(SETUPS))
    args = parser.parse_args()
    for name, (bus_kind, db_kind) in SETUPS.items():
        if args.only and name != args.only:
            continue
        for what in FIGURES:
            async with database(db_kind) as engine:
                if bus_kind == "rabbitmq":
                    async with rabbit_vhost() as url:
                        rate = await run(what, bus_kind, engine, url, args.messages)
                else:
                    rate = await run(what, bus_kind, engine, "", args.messages)
            print(f"{name:20} {what:15} {args.messages:>6} messages  {rate:8.0f} msg/s", flush=True)


FIGURES = ("publish", "consume", "consume-batches", "drain-batches", "relay", "pipeline")


async def run(what: str, bus_kind: str, engine: AsyncEngine, url: str, total: int) -> float:
    if what == "publish":
        return await bench_publish(bus_kind, url, total)
    if what == "drain-batches":
        return await bench_consume(bus_kind, engine, url, total, batches=True, queued_first=True)
    if what.startswith("consume"):
        return await bench_consume(bus_kind, engine, url, total, batches=what == "consume-batches")
    return await bench_relay(bus_kind, engine, url, total, consume=what == "pipeline")


if __name__ == "__main__":
    asyncio.run(main())
