"""The RabbitMQ bus coalesces acks per channel: checked against a fake channel that keeps AMQP's rules."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from workflow.messaging.rabbitmq import _Acks


class FakeChannel:
    """Acks as a broker sees them: an unknown or already acked tag is a channel error."""

    def __init__(self, delivered: int) -> None:
        self.unacked = set(range(1, delivered + 1))
        self.frames: list[tuple[int, bool]] = []
        self.is_closed = False

    async def basic_ack(self, tag: int, multiple: bool = False, wait: bool = True) -> None:
        self.frames.append((tag, multiple))
        if tag not in self.unacked:
            raise AssertionError(f"PRECONDITION_FAILED - unknown delivery tag {tag}")
        if multiple:
            self.unacked -= {t for t in self.unacked if t <= tag}
        else:
            self.unacked.discard(tag)


async def settle(acks: _Acks, order: list[Any]) -> None:
    """Settle tags in ``order``; a list inside ``order`` is settled within one event-loop turn."""
    for step in order:
        for tag in step if isinstance(step, list) else [step]:
            if tag < 0:
                acks.channel.unacked.discard(-tag)  # type: ignore[attr-defined]  # nack: the broker has it back
                acks.skip(-tag)
            else:
                acks.ack(tag)
        await asyncio.sleep(0)
    await acks.flush_now()


@pytest.mark.parametrize(
    ("order", "delivered", "unacked"),
    [
        ([[1, 2, 3, 4]], 4, set()),
        ([[2, 3], [1], [4]], 4, set()),
        ([9, [1, 2, 3, 4, 5, 6, 7], 8], 9, set()),  # a single ack above a gap, then the run passes it
        ([[3, 5], [1, 2], 4], 5, set()),
        ([[1, 2], [4, 5]], 5, {3}),  # 3 is still being handled: never covered by a multiple ack
        ([[1, -2, 3]], 3, set()),  # 2 was nacked: the multiple ack over it is fine, naming it is not
        ([[-1, 2]], 2, set()),
        ([[-3], [1, 2], 4], 4, set()),
    ],
)
async def test_acks_cover_settled_tags_only_and_never_ack_twice(
    order: list[Any], delivered: int, unacked: set[int]
) -> None:
    channel = FakeChannel(delivered)
    acks = _Acks(channel)  # type: ignore[arg-type]
    await settle(acks, order)
    assert channel.unacked == unacked
    assert len(channel.frames) <= delivered


async def test_settled_in_one_turn_in_order_is_one_frame() -> None:
    channel = FakeChannel(50)
    acks = _Acks(channel)  # type: ignore[arg-type]
    await settle(acks, [list(range(1, 51))])
    assert channel.frames == [(50, True)]


async def test_flush_now_sends_what_was_settled_in_this_turn() -> None:
    channel = FakeChannel(3)
    acks = _Acks(channel)  # type: ignore[arg-type]
    acks.ack(1)
    acks.ack(2)
    await acks.flush_now()  # no loop turn in between: bus.stop() does this before closing the connection
    assert channel.unacked == {3}


@pytest.mark.integration
@pytest.mark.rabbitmq
async def test_a_crash_returns_only_the_message_still_being_handled(rabbit_url: str) -> None:
    """Coalesced acks never cover a delivery whose handler has not finished: after a crash with one message
    stuck in its handler and later ones done, the broker gives back exactly that one."""
    from tests.messaging.conftest import TEST_TOPOLOGY, ping, wait_until
    from tests.messaging.test_rabbit_resilience import ready_messages
    from workflow.messaging.envelope import Envelope
    from workflow.messaging.rabbitmq import RabbitMQBus

    first = RabbitMQBus(rabbit_url, exchange="t", topology=TEST_TOPOLOGY)
    await first.start()
    stuck = asyncio.Event()
    done: set[int] = set()

    async def handle(envelope: Envelope) -> None:
        n = int(envelope.payload["n"])
        if n == 0:
            stuck.set()
            await asyncio.Event().wait()  # never finishes: the process "dies" with it in hand
        done.add(n)

    for n in range(10):
        await first.publish("work.item", ping(n))
    await first.consume("t.work", handle, prefetch=20)

    async def nine_done() -> bool:
        return stuck.is_set() and len(done) == 9

    await wait_until(nine_done, "messages 1-9 handled while 0 is stuck")
    for acks in list(first._acks.values()):
        await acks.flush_now()  # what the loop does on its next turn
    assert first._connection is not None
    await first._connection.close()  # a crash as the broker sees it: the channel goes, unacked return
    for task in list(first._in_flight):
        task.cancel()

    second = RabbitMQBus(rabbit_url, exchange="t", topology=TEST_TOPOLOGY)
    await second.start()
    again: list[int] = []

    async def record(envelope: Envelope) -> None:
        again.append(int(envelope.payload["n"]))

    await second.consume("t.work", record, prefetch=20)
    try:

        async def zero_back() -> bool:
            return 0 in again

        await wait_until(zero_back, "the stuck message redelivered")
    finally:
        await second.stop()
    assert again == [0]  # nothing lost (0 came back), no finished message came back
    assert await ready_messages(rabbit_url, "t.work") == 0
