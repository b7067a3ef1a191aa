"""RabbitMQ + PostgreSQL under failure: a consumer killed mid-handling, connections closed by the broker while
1,000 messages flow, the broker refusing us while the application commits. Nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.messaging.conftest import (
    FAST_POLICY,
    TEST_TOPOLOGY,
    WAIT_S,
    MemoryDeadLetters,
    amqp_url,
    ping,
    rabbitmqctl,
    wait_until,
)
from workflow.adapters.orm import outbox
from workflow.messaging.bus import PublishFailed, Reject
from workflow.messaging.deadletters import SqlDeadLetterStore, list_dead_letters, request_replay
from workflow.messaging.envelope import Envelope
from workflow.messaging.idempotency import idempotent
from workflow.messaging.outbox import add_to_outbox
from workflow.messaging.rabbitmq import RabbitMQBus
from workflow.messaging.relay import OutboxRelay

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def work_table(pg_engine: AsyncEngine) -> AsyncEngine:
    """``t_work`` has no unique key on purpose: a message handled twice would show up as two rows."""
    async with pg_engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t_work (message_id varchar(64) NOT NULL, n integer NOT NULL)"))
    return pg_engine


async def work(conn: AsyncConnection, envelope: Envelope) -> None:
    await conn.execute(
        text("INSERT INTO t_work (message_id, n) VALUES (:m, :n)"),
        {"m": envelope.message_id, "n": envelope.payload["n"]},
    )


async def handled(engine: AsyncEngine) -> tuple[int, int]:
    """(rows, distinct message ids) in t_work."""
    async with engine.connect() as conn:
        rows, distinct = (
            await conn.execute(text("SELECT count(*), count(DISTINCT message_id) FROM t_work"))
        ).one()
    return int(rows), int(distinct)


async def ready_messages(url: str, queue: str) -> int:
    """Messages waiting in ``queue``, asked of the queue itself (``rabbitmqctl list_queues`` lags behind).
    With no consumer attached, every unacknowledged message is back in this count: 0 means all were acked."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def handled_n(engine: AsyncEngine, n: int) -> bool:
    async with engine.connect() as conn:
        return bool(
            (await conn.execute(text("SELECT count(*) FROM t_work WHERE n = :n"), {"n": n})).scalar_one()
        )


async def broker(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec("rabbitmqctl", *args, stdout=subprocess.DEVNULL)
    assert await proc.wait() == 0, args


@pytest.fixture
async def publisher(rabbit_url: str) -> AsyncIterator[RabbitMQBus]:
    bus = RabbitMQBus(
        rabbit_url,
        exchange="t",
        policy=FAST_POLICY,
        topology=TEST_TOPOLOGY,
        publish_timeout_s=2.0,
        reconnect_s=0.3,
    )
    await bus.start()
    yield bus
    await bus.stop()


async def publish_until_confirmed(bus: RabbitMQBus, envelope: Envelope) -> None:
    """What every producer does: a publish that failed is retried (a duplicate is absorbed downstream)."""
    while True:
        try:
            await bus.publish("work.item", envelope)
            return
        except PublishFailed:
            await asyncio.sleep(0.2)


def start_consumer(rabbit_vhost: str, db_url: str, mode: str, marker: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.messaging.consumer_proc",
            amqp_url(rabbit_vhost),
            db_url,
            mode,
            str(marker),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def wait_for_file(path: Path, proc: subprocess.Popen[bytes]) -> None:
    async def exists() -> bool:
        assert proc.poll() is None, "the consumer process died on its own"
        return await asyncio.to_thread(path.exists)

    await wait_until(exists, f"{path.name} to appear")


@pytest.mark.parametrize("mode", ["hang_before_commit", "hang_after_commit"])
async def test_consumer_killed_mid_handling_handles_the_message_once_after_restart(
    work_table: AsyncEngine,
    pg_database_url: str,
    rabbit_vhost: str,
    publisher: RabbitMQBus,
    tmp_path: Path,
    mode: str,
) -> None:
    marker = tmp_path / "marker"
    victim = start_consumer(rabbit_vhost, pg_database_url, mode, marker)
    try:
        await wait_for_file(Path(f"{marker}.ready"), victim)
        envelope = ping(42)
        await publisher.publish("work.item", envelope)
        await wait_for_file(marker, victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert await handled(work_table) == ((1, 1) if mode == "hang_after_commit" else (0, 0))
        restarted = start_consumer(rabbit_vhost, pg_database_url, "normal", tmp_path / "second")
        try:
            await wait_for_file(tmp_path / "second.ready", restarted)
            # Returned messages are delivered before new ones (prefetch 1): once this one is handled,
            # the redelivery of the first has been handled too.
            await publisher.publish("work.item", ping(43))
            await wait_until(lambda: handled_n(work_table, 43), "the message after the redelivery")
        finally:
            restarted.send_signal(signal.SIGKILL)
            restarted.wait()
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert await handled(work_table) == (2, 2)  # 42 once, 43 once
    assert await ready_messages(amqp_url(rabbit_vhost), "t.work") == 0  # and both were acked


async def test_connections_closed_while_1000_messages_flow_each_is_handled_exactly_once(
    work_table: AsyncEngine, rabbit_url: str, rabbit_vhost: str, publisher: RabbitMQBus
) -> None:
    consumer = RabbitMQBus(
        rabbit_url,
        exchange="t",
        policy=FAST_POLICY,
        dead_letters=MemoryDeadLetters(),
        topology=TEST_TOPOLOGY,
        reconnect_s=0.3,
    )
    await consumer.start()
    try:
        await consumer.consume("t.work", idempotent(work_table, "flow-test", work), prefetch=50)
        sent = [ping(i) for i in range(1000)]
        for i, envelope in enumerate(sent):
            if i in (300, 700):
                await broker("close_all_connections", "--vhost", rabbit_vhost, "--limit", "100", "test: cut")
            await publish_until_confirmed(publisher, envelope)

        async def all_handled() -> bool:
            return (await handled(work_table))[1] == 1000

        await wait_until(all_handled, "all 1,000 messages handled")
        # Redeliveries go to the head of the queue: after this one, none is still on its way.
        await publish_until_confirmed(publisher, ping(1000))
        await wait_until(lambda: handled_n(work_table, 1000), "the message after the flow")
    finally:
        await consumer.stop()  # drains in-flight handlers and their acks
    assert await handled(work_table) == (1001, 1001)
    async with work_table.connect() as conn:
        numbers = sorted((await conn.execute(text("SELECT n FROM t_work"))).scalars())
    assert numbers == list(range(1001))
    assert await ready_messages(rabbit_url, "t.work") == 0


async def test_broker_refusing_us_while_commits_happen_the_outbox_keeps_them_until_it_is_back(
    work_table: AsyncEngine, rabbit_url: str, rabbit_vhost: str
) -> None:
    bus = RabbitMQBus(
        rabbit_url,
        exchange="t",
        policy=FAST_POLICY,
        dead_letters=MemoryDeadLetters(),
        topology=TEST_TOPOLOGY,
        publish_timeout_s=1.0,
        reconnect_s=0.3,
    )
    await bus.start()
    await bus.consume("t.work", idempotent(work_table, "outage-test", work))
    relay = OutboxRelay(work_table, bus, batch=40, poll_s=0.05, max_backoff_s=0.5)
    await relay.start()

    async def commit(numbers: range) -> None:
        for n in numbers:
            async with work_table.begin() as conn:
                await add_to_outbox(conn, "work.item", ping(n), ordering_key=f"k{n % 7}")

    async def unsent() -> int:
        async with work_table.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar_one()
            )

    try:
        await commit(range(0, 50))
        await wait_until(lambda: _equals(handled(work_table), (50, 50)), "the first 50 before the outage")
        rabbitmqctl("clear_permissions", "-p", rabbit_vhost, "guest")
        await broker("close_all_connections", "--vhost", rabbit_vhost, "--limit", "100", "test: outage")
        await commit(range(50, 150))

        async def relay_failed() -> bool:
            async with work_table.connect() as conn:
                query = select(func.count()).where(outbox.c.attempts > 0, outbox.c.sent_at.is_(None))
                return int((await conn.execute(query)).scalar_one()) > 0

        await wait_until(relay_failed, "the relay has tried and failed during the outage")
        assert await unsent() == 100
        rabbitmqctl("set_permissions", "-p", rabbit_vhost, "guest", ".*", ".*", ".*")
        await wait_until(lambda: _equals(handled(work_table), (150, 150)), "everything after the outage")
    finally:
        await relay.stop()
        await bus.stop()
    assert await unsent() == 0
    assert await handled(work_table) == (150, 150)
    assert await ready_messages(rabbit_url, "t.work") == 0


async def _equals(value: object, expected: object) -> bool:
    return await value == expected  # type: ignore[misc]


async def test_dead_letters_reach_the_table_and_an_operator_replay_is_delivered(
    pg_engine: AsyncEngine, rabbit_url: str
) -> None:
    bus = RabbitMQBus(
        rabbit_url,
        exchange="t",
        policy=FAST_POLICY,
        dead_letters=SqlDeadLetterStore(pg_engine),
        topology=TEST_TOPOLOGY,
    )
    await bus.start()
    calls: list[int] = []

    async def refuse_first(envelope: Envelope) -> None:
        calls.append(envelope.payload["n"])
        if len(calls) == 1:
            raise Reject("not today")

    await bus.consume("t.work", refuse_first)
    relay = OutboxRelay(pg_engine, bus, poll_s=0.05)
    await relay.start()
    try:
        await bus.publish("work.item", ping(5))

        async def parked() -> bool:
            return bool(await list_dead_letters(pg_engine))

        await wait_until(parked, "the rejected message in dead_letters (via the broker's dead queue)")
        [letter] = await list_dead_letters(pg_engine)
        assert (letter.queue, letter.topic, letter.reason) == ("t.work", "work.item", "rejected: not today")
        assert await request_replay(pg_engine, [letter.id]) == 1

        async def replayed() -> bool:
            return len(calls) == 2

        await wait_until(replayed, "the replayed message handled")
    finally:
        await relay.stop()
        await bus.stop()
    assert calls == [5, 5]
    assert [d.state for d in await list_dead_letters(pg_engine, include_replayed=True)] == ["replayed"]
    assert await ready_messages(rabbit_url, "t.dead") == 0


async def test_a_message_that_keeps_killing_its_consumer_is_parked_by_the_broker(
    pg_engine: AsyncEngine, rabbit_url: str
) -> None:
    """Crashes are simulated by returning the delivery unacked (as a dying channel does), three times."""
    sink = RabbitMQBus(
        rabbit_url,
        exchange="t",
        policy=FAST_POLICY,
        dead_letters=SqlDeadLetterStore(pg_engine),
        topology=TEST_TOPOLOGY,
        delivery_limit=2,
    )
    await sink.start()
    returned: list[int] = []
    connection = await aio_pika.connect(rabbit_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue("t.work")

        async def crash(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            returned.append(1)
            await message.nack(requeue=True)

        await queue.consume(crash)
        await sink.publish("work.item", ping(1))

        async def parked() -> bool:
            return bool(await list_dead_letters(pg_engine))

        await wait_until(parked, "the broker parks the message after its delivery limit")
    finally:
        await connection.close()
        await sink.stop()
    [letter] = await list_dead_letters(pg_engine)
    assert letter.queue == "t.work" and letter.reason.startswith("broker: delivery_limit")
    assert len(returned) == 3  # the first delivery and two more, then the limit


async def test_stop_during_an_outage_returns(rabbit_url: str, rabbit_vhost: str) -> None:
    bus = RabbitMQBus(
        rabbit_url,
        exchange="t",
        policy=FAST_POLICY,
        dead_letters=MemoryDeadLetters(),
        topology=TEST_TOPOLOGY,
        publish_timeout_s=1.0,
        reconnect_s=0.3,
    )
    await bus.start()

    async def nothing(_: Envelope) -> None:
        return None

    await bus.consume("t.work", nothing)
    rabbitmqctl("clear_permissions", "-p", rabbit_vhost, "guest")
    await broker("close_all_connections", "--vhost", rabbit_vhost, "--limit", "100", "test: outage")
    with pytest.raises(PublishFailed):
        await bus.publish("work.item", ping(1))
    await asyncio.wait_for(bus.stop(), WAIT_S)  # a liveness bound: stop must not wait for the broker
