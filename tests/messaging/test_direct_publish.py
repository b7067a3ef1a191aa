"""Replies to MOs are published by the MO consumer right after its commit (``relay.DirectPublisher``), not by
a relay round; the outbox stays the safety net: a reply whose direct publish failed (or whose writer died
before it) is published by a relay once the grace period is over, and never before it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import build_world
from tests.messaging.conftest import OWNER_PHONE, MemoryDeadLetters, Recorder, mo, wait_until
from workflow.adapters.orm import outbox
from workflow.bootstrap import bootstrap
from workflow.entrypoints.workflow_service import Consumers
from workflow.messaging import relay as relay_module
from workflow.messaging.bus import PublishFailed
from workflow.messaging.envelope import Envelope
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.outbox import DIRECT
from workflow.messaging.relay import DirectPublisher, OutboxRelay
from workflow.messaging.sms_store import queue_sms, sms_messages
from workflow.settings import load_settings

pytestmark = pytest.mark.integration


class RefusingBus(InProcessBus):
    """A broker that refuses every publish (an outage right after the MO's commit)."""

    async def publish(self, topic: str, envelope: Envelope) -> None:
        raise PublishFailed("simulated outage")


@dataclass
class Setup:
    engine: AsyncEngine
    bus: InProcessBus
    gateway: Recorder
    consumers: Consumers
    direct: DirectPublisher


async def make(engine: AsyncEngine, tmp_path: Path, bus: InProcessBus) -> Setup:
    await build_world(engine)
    await bus.start()
    gateway = Recorder()
    await bus.consume("sms.outbound", gateway)
    settings = load_settings(env={}, var_dir=tmp_path)
    direct = DirectPublisher(engine, bus)
    consumers = Consumers(settings, engine, bootstrap(settings, engine=engine), direct)
    return Setup(engine, bus, gateway, consumers, direct)


@pytest.fixture
async def setup(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Setup]:
    made = await make(engine, tmp_path, InProcessBus(MemoryDeadLetters()))
    try:
        yield made
    finally:
        await made.bus.stop()


@pytest.fixture
async def refused(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Setup]:
    made = await make(engine, tmp_path, RefusingBus(MemoryDeadLetters()))
    try:
        yield made
    finally:
        await made.bus.stop()


async def reply_rows(engine: AsyncEngine) -> list[tuple[str, int, object]]:
    """(sms id, attempts, sent_at) of every sms.outbound outbox row."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.ordering_key, outbox.c.attempts, outbox.c.sent_at).where(
                outbox.c.topic == "sms.outbound"
            )
        )
        return [(str(key), int(attempts), sent) for key, attempts, sent in rows]


async def test_the_reply_is_published_by_the_mo_consumer_without_any_relay(setup: Setup) -> None:
    await setup.consumers.on_sms_inbound([mo("mo-1", "YARDIM"), mo("mo-2", "?")])
    # No relay runs in this test: the consumer published both replies itself.
    calls = await setup.gateway.wait_for(2)
    await setup.direct.drain()
    rows = await reply_rows(setup.engine)
    async with setup.engine.connect() as conn:
        stored = set(
            (await conn.execute(select(sms_messages.c.id).where(sms_messages.c.purpose == "reply"))).scalars()
        )
    assert {c.payload["sms_id"] for c in calls} == stored == {key for key, _, _ in rows}
    assert all(attempts == DIRECT and sent is not None for _, attempts, sent in rows)
    relay = OutboxRelay(setup.engine, setup.bus, direct_grace_s=0.0)
    assert await relay.publish_pending() == 0  # marked sent: nothing left for the safety net
    assert len(setup.gateway.calls) == 2


async def test_a_reply_whose_direct_publish_failed_waits_for_the_grace_then_the_relay_sends_it(
    refused: Setup, engine: AsyncEngine
) -> None:
    await refused.consumers.on_sms_inbound([mo("mo-1", "YARDIM")])  # the outage does not fail the MO
    await refused.direct.drain()
    [(sms_id, attempts, sent)] = await reply_rows(engine)
    assert attempts == DIRECT and sent is None
    working = InProcessBus(MemoryDeadLetters())
    await working.start()
    try:
        gateway = Recorder()
        await working.consume("sms.outbound", gateway)
        within_grace = OutboxRelay(engine, working, direct_grace_s=timedelta(hours=1).total_seconds())
        assert await within_grace.publish_pending() == 0  # its writer may still be publishing it
        after_grace = OutboxRelay(engine, working, direct_grace_s=0.0)
        assert await after_grace.publish_pending() == 1
        [call] = await gateway.wait_for(1)
        assert call.payload["sms_id"] == sms_id
    finally:
        await working.stop()
    [(_, _, sent)] = await reply_rows(engine)
    assert sent is not None


async def test_relay_rows_written_without_direct_are_published_at_once(setup: Setup) -> None:
    """The grace is only for rows their writer publishes: a filing's confirmation SMS is the relay's."""
    consumers = Consumers(setup.consumers.settings, setup.engine, setup.consumers.services, None)
    await consumers.on_sms_inbound([mo("mo-1", "YARDIM")])
    [(_, attempts, sent)] = await reply_rows(setup.engine)
    assert attempts == 0 and sent is None
    relay = OutboxRelay(setup.engine, setup.bus, direct_grace_s=timedelta(hours=1).total_seconds())
    assert await relay.publish_pending() == 1
    await setup.gateway.wait_for(1)


async def test_the_notify_of_a_direct_reply_commit_does_not_wake_the_relays_of_this_process(
    pg_engine: AsyncEngine, tmp_path: Path
) -> None:
    """Each relay would otherwise run an empty claim round per MO batch (the outbox trigger fires on every
    insert); a commit that wrote other outbox rows still wakes them."""
    made = await make(pg_engine, tmp_path, InProcessBus(MemoryDeadLetters()))
    relay = OutboxRelay(pg_engine, made.bus)
    relay_module._relays.add(relay)  # as start() does, without its loop: the wake-up is what is observed
    try:
        await relay._listen()
        await made.consumers.on_sms_inbound([mo("mo-1", "YARDIM")])
        await made.gateway.wait_for(1)
        await wait_until(lambda: _true(not relay._ignore), "the direct commit's NOTIFY reached the relay")
        assert not relay._wakeup.is_set()
        async with pg_engine.begin() as conn:
            await queue_sms(conn, OWNER_PHONE, "Bir bildirim", "confirmation")
        await wait_until(lambda: _true(relay._wakeup.is_set()), "another commit's NOTIFY woke the relay")
    finally:
        relay_module._relays.discard(relay)
        await relay._unlisten()
        await made.bus.stop()


async def _true(value: bool) -> bool:
    return value


async def test_the_next_mo_batch_marks_the_replies_confirmed_before_it(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """While MOs keep coming, confirmed replies are marked sent in the next batch's transaction instead of
    one of their own; a batch that fails hands them back, and drain() marks what is left at once."""
    made = await make(engine, tmp_path, InProcessBus(MemoryDeadLetters()))
    direct = DirectPublisher(engine, made.bus, linger_s=3600.0)  # no marking transaction of its own
    consumers = Consumers(made.consumers.settings, engine, made.consumers.services, direct)
    try:
        await consumers.on_sms_inbound([mo("mo-1", "YARDIM")])
        await made.gateway.wait_for(1)
        [(first, _, sent)] = await reply_rows(engine)
        assert sent is None  # confirmed, waiting for a transaction
        healthy = direct.expect_commit

        async def fails(_conn: object) -> int | None:
            raise RuntimeError("the batch's transaction fails after marking")

        direct.expect_commit = fails  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            await consumers.on_sms_inbound([mo("mo-2", "YARDIM")])
        direct.expect_commit = healthy  # type: ignore[method-assign]
        assert [sent for key, _, sent in await reply_rows(engine) if key == first] == [None]  # rolled back
        async with engine.connect() as conn:
            mo_ids = (
                await conn.execute(select(sms_messages.c.mo_id).where(sms_messages.c.mo_id.is_not(None)))
            ).scalars()
            assert set(mo_ids) == {"mo-1"}  # mo-2's batch left nothing behind
        await consumers.on_sms_inbound([mo("mo-4", "?")])
        rows = {key: sent for key, _, sent in await reply_rows(engine)}
        assert rows[first] is not None  # marked by mo-4's transaction
        assert [key for key, sent in rows.items() if sent is None] != []  # mo-4's own reply: not yet
        await direct.drain()
        assert all(sent is not None for _, _, sent in await reply_rows(engine))
    finally:
        await made.bus.stop()
