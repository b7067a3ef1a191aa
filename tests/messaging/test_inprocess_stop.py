"""The in-process bus's shutdown: a handler that never finishes cannot hold ``stop()`` forever, and its message
is kept for replay, not lost; the warning names where the handler was stuck."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.messaging.conftest import FAST_POLICY, TEST_TOPOLOGY, WAIT_S, MemoryDeadLetters, ping
from workflow.messaging.envelope import Envelope, decode
from workflow.messaging.inprocess import InProcessBus


async def test_stop_cancels_a_stuck_handler_after_the_bound_and_keeps_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = MemoryDeadLetters()
    bus = InProcessBus(dead, FAST_POLICY, topology=TEST_TOPOLOGY, drain_timeout_s=0.2)
    await bus.start()
    started, never = asyncio.Event(), asyncio.Event()

    async def never_returns(envelope: Envelope) -> None:
        started.set()
        await never.wait()

    await bus.consume("t.work", never_returns)
    sent = ping(7)
    await bus.publish("work.item", sent)
    await asyncio.wait_for(started.wait(), WAIT_S)
    with caplog.at_level(logging.WARNING, logger="workflow.messaging.inprocess"):
        await asyncio.wait_for(bus.stop(), WAIT_S)
    [letter] = dead.letters
    assert letter.replay and letter.queue == "t.work"
    assert decode(letter.body).message_id == sent.message_id
    assert "never_returns" in caplog.text and "t.work" in caplog.text


async def test_stop_waits_for_a_handler_that_finishes_within_the_bound() -> None:
    dead = MemoryDeadLetters()
    bus = InProcessBus(dead, FAST_POLICY, topology=TEST_TOPOLOGY, drain_timeout_s=WAIT_S)
    await bus.start()
    started, release = asyncio.Event(), asyncio.Event()
    done: list[int] = []

    async def slow(envelope: Envelope) -> None:
        started.set()
        await release.wait()
        done.append(envelope.payload["n"])

    await bus.consume("t.work", slow)
    await bus.publish("work.item", ping(3))
    await asyncio.wait_for(started.wait(), WAIT_S)
    stopping = asyncio.create_task(bus.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, WAIT_S)
    assert done == [3] and dead.letters == []
