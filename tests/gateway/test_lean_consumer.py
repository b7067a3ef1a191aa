"""The RabbitMQ bus's lean consumer (aiormq directly, used for sms.outbound): the same delivery rules as the
aio-pika consumer — prefetch bound, retries and rejects, consuming again after the broker closed the
connection, and stop() acking what was handled."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest

from tests.messaging.conftest import FAST_POLICY, TEST_TOPOLOGY, MemoryDeadLetters, ping, wait_until
from tests.messaging.test_rabbit_resilience import broker, ready_messages
from tests.messaging.test_rabbit_resilience import publish_until_confirmed as publish
from workflow.messaging.bus import Reject
from workflow.messaging.envelope import Envelope
from workflow.messaging.rabbitmq import RabbitMQBus

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(120)]

LEAN = frozenset({"t.work"})


def bus_for(url: str, dead: MemoryDeadLetters | None = None) -> RabbitMQBus:
    return RabbitMQBus(
        url,
        exchange="t",
        policy=FAST_POLICY,
        dead_letters=dead,
        topology=TEST_TOPOLOGY,
        reconnect_s=0.3,
        publish_timeout_s=2.0,
        lean_queues=LEAN,
    )


@pytest.fixture
async def publisher(rabbit_url: str) -> AsyncIterator[RabbitMQBus]:
    bus = bus_for(rabbit_url)
    await bus.start()
    yield bus
    await bus.stop()


async def until(predicate: Callable[[], bool], what: str) -> None:
    async def holds() -> bool:
        return predicate()

    await wait_until(holds, what)


async def test_at_most_prefetch_handlers_run_at_once_and_all_are_acked(
    rabbit_url: str, publisher: RabbitMQBus
) -> None:
    consumer = bus_for(rabbit_url)
    await consumer.start()
    running, most, seen = 0, 0, Counter[int]()
    release = asyncio.Event()

    async def handler(envelope: Envelope) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await release.wait()
            seen[envelope.payload["n"]] += 1
        finally:
            running -= 1

    try:
        for n in range(40):
            await publish(publisher, ping(n))
        await consumer.consume("t.work", handler, prefetch=7)
        await until(lambda: running == 7, "the prefetch to fill")
        await asyncio.sleep(0.2)  # a consumer ignoring its prefetch would take more meanwhile
        assert running == 7
        release.set()
        await until(lambda: len(seen) == 40, "all 40 handled")
    finally:
        await consumer.stop()
    assert most == 7
    assert set(seen) == set(range(40))
    assert await ready_messages(rabbit_url, "t.work") == 0


async def test_retry_and_reject_follow_the_bus_rules(rabbit_url: str, publisher: RabbitMQBus) -> None:
    dead = MemoryDeadLetters()
    consumer = bus_for(rabbit_url, dead)
    await consumer.start()
    attempts = Counter[int]()

    async def handler(envelope: Envelope) -> None:
        n = envelope.payload["n"]
        attempts[n] += 1
        if n == 1 and attempts[n] == 1:
            raise ConnectionError("database restarting")  # retried after the policy's back-off
        if n == 2:
            raise Reject("never valid")

    try:
        await consumer.consume("t.work", handler, prefetch=5)
        for n in range(3):
            await publish(publisher, ping(n))
        letters = await dead.wait_for(1)
        await until(lambda: attempts[1] == 2, "the retry of message 1")
    finally:
        await consumer.stop()
    assert attempts == Counter({0: 1, 1: 2, 2: 1})
    assert letters[0].queue == "t.work" and "never valid" in letters[0].reason


async def test_consuming_goes_on_after_the_broker_closes_the_connection(
    rabbit_url: str, rabbit_vhost: str, publisher: RabbitMQBus
) -> None:
    consumer = bus_for(rabbit_url)
    await consumer.start()
    seen = Counter[int]()

    async def handler(envelope: Envelope) -> None:
        seen[envelope.payload["n"]] += 1

    try:
        await consumer.consume("t.work", handler, prefetch=10)
        for n in range(300):
            if n in (100, 200):
                await broker("close_all_connections", "--vhost", rabbit_vhost, "--limit", "100", "t")
            await publish(publisher, ping(n))
        await until(lambda: set(seen) == set(range(300)), "all 300 handled")
        await publish(publisher, ping(300))  # after the redeliveries, a new message still arrives
        await until(lambda: 300 in seen, "the message after the cuts")
    finally:
        await consumer.stop()
    assert await ready_messages(rabbit_url, "t.work") == 0
