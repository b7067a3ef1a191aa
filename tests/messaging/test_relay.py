"""The outbox relay on SQLite and PostgreSQL, over the in-process bus (RabbitMQ outages: test_rabbit_resilience)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.messaging.conftest import TEST_TOPOLOGY, MemoryDeadLetters, Recorder, ping, wait_until
from workflow.adapters.db import create_engine
from workflow.adapters.orm import outbox
from workflow.messaging.bus import DeadLetter, DeadLetterStore, PublishFailed, Reject
from workflow.messaging.deadletters import SqlDeadLetterStore, list_dead_letters, request_replay
from workflow.messaging.envelope import Envelope
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.outbox import add_to_outbox
from workflow.messaging.relay import OutboxRelay

pytestmark = pytest.mark.integration


class FlakyBus(InProcessBus):
    """The in-process bus with an outage switch and one-off failures for chosen message ids."""

    def __init__(self, dead_letters: DeadLetterStore | None = None) -> None:
        super().__init__(dead_letters or MemoryDeadLetters(), topology=TEST_TOPOLOGY, prefetch=1)
        self.down = False
        self.fail_once: set[str] = set()
        self.failures = 0

    async def publish(self, topic: str, envelope: Envelope) -> None:
        if self.down or envelope.message_id in self.fail_once:
            self.fail_once.discard(envelope.message_id)
            self.failures += 1
            raise PublishFailed("simulated outage")
        await super().publish(topic, envelope)


@pytest.fixture
async def bus() -> AsyncIterator[FlakyBus]:
    bus = FlakyBus()
    await bus.start()
    yield bus
    await bus.stop()


async def write(engine: AsyncEngine, items: list[tuple[str, Envelope]]) -> None:
    async with engine.begin() as conn:
        for key, envelope in items:
            await add_to_outbox(conn, "work.item", envelope, ordering_key=key)


async def unsent(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar_one())


def per_key(calls: list[Envelope], keys: dict[str, str]) -> dict[str, list[int]]:
    order: dict[str, list[int]] = {}
    for envelope in calls:
        order.setdefault(keys[envelope.message_id], []).append(envelope.payload["n"])
    return order


async def test_rows_are_published_once_in_order_per_key_and_marked_sent(
    engine: AsyncEngine, bus: FlakyBus
) -> None:
    seen = Recorder()
    await bus.consume("t.work", seen, prefetch=1)
    items = [(f"k{i % 3}", ping(i)) for i in range(30)]
    await write(engine, items)
    relay = OutboxRelay(engine, bus, batch=7, poll_s=0.05)
    await relay.start()
    try:
        calls = await seen.wait_for(30)
    finally:
        await relay.stop()
    keys = {e.message_id: k for k, e in items}
    assert sorted(e.message_id for e in calls) == sorted(keys)
    assert per_key(calls, keys) == {k: [i for i in range(30) if f"k{i % 3}" == k] for k in ("k0", "k1", "k2")}
    assert await unsent(engine) == 0


async def test_a_failed_row_holds_back_its_key_only(engine: AsyncEngine, bus: FlakyBus) -> None:
    seen = Recorder()
    await bus.consume("t.work", seen, prefetch=1)
    items = [("a", ping(0)), ("b", ping(1)), ("a", ping(2)), ("b", ping(3))]
    bus.fail_once.add(items[0][1].message_id)
    await write(engine, items)
    relay = OutboxRelay(engine, bus, batch=10, poll_s=0.05)
    await relay.publish_pending()  # first round: a's first row fails, so a's second must wait
    assert [e.payload["n"] for e in await seen.wait_for(2)] == [1, 3]
    async with engine.connect() as conn:
        failed = (
            await conn.execute(
                select(outbox.c.attempts, outbox.c.last_error).where(
                    outbox.c.message_id == items[0][1].message_id
                )
            )
        ).one()
    assert failed.attempts == 1 and "simulated outage" in failed.last_error
    await relay.publish_pending()
    assert [e.payload["n"] for e in await seen.wait_for(4)] == [1, 3, 0, 2]


async def test_outage_keeps_rows_until_the_bus_is_back(engine: AsyncEngine, bus: FlakyBus) -> None:
    seen = Recorder()
    await bus.consume("t.work", seen)
    bus.down = True
    relay = OutboxRelay(engine, bus, batch=50, poll_s=0.05, max_backoff_s=0.1)
    await relay.start()
    try:
        await write(engine, [(f"k{i}", ping(i)) for i in range(20)])
        await wait_until(lambda: failed_rounds(bus, 3), "the relay has tried and failed several rounds")
        assert await unsent(engine) == 20
        assert seen.calls == []
        bus.down = False
        calls = await seen.wait_for(20)
    finally:
        await relay.stop()
    assert sorted(e.payload["n"] for e in calls) == list(range(20))
    assert await unsent(engine) == 0


async def test_commit_wakes_the_relay_without_polling(
    engine: AsyncEngine, database_url: str, bus: FlakyBus
) -> None:
    seen = Recorder()
    await bus.consume("t.work", seen)
    relay = OutboxRelay(engine, bus, poll_s=3600)  # only a wake-up can make it publish within the test
    await relay.start()
    # PostgreSQL: written through another engine, so only the NOTIFY trigger can wake the relay.
    writer = create_engine(database_url) if engine.dialect.name == "postgresql" else engine
    try:
        await asyncio.sleep(0.2)  # let the relay finish its first (empty) round and go to sleep
        await write(writer, [("k", ping(1))])
        await seen.wait_for(1)
    finally:
        await relay.stop()
        if writer is not engine:
            await writer.dispose()


async def test_two_relays_on_postgres_publish_each_row_once_in_order(
    pg_engine: AsyncEngine, bus: FlakyBus
) -> None:
    seen = Recorder()
    await bus.consume("t.work", seen, prefetch=1)
    items = [(f"k{i % 5}", ping(i)) for i in range(400)]
    for start in range(0, 400, 50):
        await write(pg_engine, items[start : start + 50])
    relays = [OutboxRelay(pg_engine, bus, batch=13, poll_s=0.05) for _ in range(3)]
    for relay in relays:
        await relay.start()
    try:
        calls = await seen.wait_for(400)
    finally:
        for relay in relays:
            await relay.stop()
    keys = {e.message_id: k for k, e in items}
    assert len(calls) == 400 and len({e.message_id for e in calls}) == 400
    for key, numbers in per_key(calls, keys).items():
        assert numbers == sorted(numbers), key


async def test_sqlite_runs_exactly_one_relay(sqlite_engine: AsyncEngine, bus: FlakyBus) -> None:
    first = OutboxRelay(sqlite_engine, bus, poll_s=0.05, standby_s=0.05)
    second = OutboxRelay(sqlite_engine, bus, poll_s=0.05, standby_s=0.05)
    await first.start()
    await second.start()
    try:
        seen = Recorder()
        await bus.consume("t.work", seen)
        await write(sqlite_engine, [("k", ping(1))])
        await seen.wait_for(1)
        assert first.serving and not second.serving
        await first.stop()
        await write(sqlite_engine, [("k", ping(2))])
        await seen.wait_for(2)
        assert second.serving
    finally:
        await second.stop()
        await first.stop()


async def test_replay_requested_by_an_operator_is_carried_out_by_the_relay(engine: AsyncEngine) -> None:
    bus = FlakyBus(SqlDeadLetterStore(engine))
    await bus.start()
    refusing_once = Recorder(fail_first=1, exc=Reject)
    await bus.consume("t.work", refusing_once)
    await bus.publish("work.item", ping(9))
    await wait_until(lambda: parked(engine), "the message is parked")
    [letter] = await list_dead_letters(engine)
    assert letter.reason.startswith("rejected:") and letter.state == "parked"
    relay = OutboxRelay(engine, bus, poll_s=0.05)
    await relay.start()
    try:
        assert await request_replay(engine, [letter.id]) == 1
        calls = await refusing_once.wait_for(2)
    finally:
        await relay.stop()
        await bus.stop()
    assert [c.payload["n"] for c in calls] == [9, 9]
    assert [d.state for d in await list_dead_letters(engine, include_replayed=True)] == ["replayed"]


async def failed_rounds(bus: FlakyBus, count: int) -> bool:
    return bus.failures >= count


async def parked(engine: AsyncEngine) -> bool:
    return bool(await list_dead_letters(engine))


async def test_in_process_messages_not_delivered_at_stop_are_delivered_after_the_next_start(
    engine: AsyncEngine,
) -> None:
    store = SqlDeadLetterStore(engine)
    before = InProcessBus(store, topology=TEST_TOPOLOGY)
    await before.start()
    await before.publish("work.item", ping(1))  # nobody consumes before the stop
    await before.stop()
    [kept] = await list_dead_letters(engine)
    assert kept.state == "replay-requested" and kept.queue == "t.work"

    after = InProcessBus(store, topology=TEST_TOPOLOGY)
    await after.start()
    seen = Recorder()
    await after.consume("t.work", seen)
    relay = OutboxRelay(engine, after, poll_s=0.05)
    await relay.start()
    try:
        [delivered] = await seen.wait_for(1)
    finally:
        await relay.stop()
        await after.stop()
    assert delivered.payload == {"n": 1}
    assert [d.state for d in await list_dead_letters(engine, include_replayed=True)] == ["replayed"]


async def test_a_replay_to_an_unknown_queue_is_refused_and_does_not_stall_the_relay(
    engine: AsyncEngine, bus: FlakyBus
) -> None:
    store = SqlDeadLetterStore(engine)
    await store.park(DeadLetter("gone.queue", ping(1).encode(), "broker: delivery_limit", 3))
    [letter] = await list_dead_letters(engine)
    assert await request_replay(engine, [letter.id]) == 1
    seen = Recorder()
    await bus.consume("t.work", seen)
    relay = OutboxRelay(engine, bus, poll_s=0.05)
    await relay.start()
    try:
        await write(engine, [("k", ping(2))])
        await seen.wait_for(1)  # the outbox keeps flowing
        await wait_until(lambda: replay_withdrawn(engine), "the replay request withdrawn")
    finally:
        await relay.stop()
    [after] = await list_dead_letters(engine)
    assert after.state == "parked" and after.reason.endswith("[replay refused: unknown queue]")


async def replay_withdrawn(engine: AsyncEngine) -> bool:
    [letter] = await list_dead_letters(engine)
    return letter.replay_requested_at is None
