"""One suite, both buses: routing, at-least-once with back-off, dead letters, malformed bodies, replay, drain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest

from tests.messaging.conftest import FAST_POLICY, WAIT_S, BusFactory, MemoryDeadLetters, Recorder, ping
from workflow.messaging.bus import PublishFailed, Reject, RetryPolicy
from workflow.messaging.envelope import Envelope

pytestmark = pytest.mark.integration


async def test_round_trip_delivers_every_message_once_unchanged(make_bus: BusFactory) -> None:
    bus = await make_bus()
    seen = Recorder()
    await bus.consume("t.work", seen)
    sent = [ping(i) for i in range(50)]
    for envelope in sent:
        await bus.publish("work.item", envelope)
    got = await seen.wait_for(50)
    assert sorted(e.message_id for e in got) == sorted(e.message_id for e in sent)
    by_id = {e.message_id: e for e in got}
    assert all(by_id[e.message_id] == e for e in sent)


@pytest.mark.parametrize(
    ("topic", "queues"),
    [
        ("work.item", {"t.work"}),
        ("work.special", {"t.work", "t.other"}),
        ("misc.thing", {"t.other"}),
        ("queue.t.other", {"t.other"}),  # the private key: one queue only
    ],
)
async def test_topics_route_like_a_topic_exchange(make_bus: BusFactory, topic: str, queues: set[str]) -> None:
    bus = await make_bus()
    work, other = Recorder(), Recorder()
    await bus.consume("t.work", work)
    await bus.consume("t.other", other)
    await bus.publish(topic, ping(1))
    marker = ping(2)  # a later message to both queues proves nothing else is on its way
    await bus.publish("work.special", marker)
    await work.wait_for(2 if "t.work" in queues else 1)
    await other.wait_for(2 if "t.other" in queues else 1)
    assert {"t.work": len(work.calls) - 1, "t.other": len(other.calls) - 1} == {
        "t.work": int("t.work" in queues),
        "t.other": int("t.other" in queues),
    }


@pytest.mark.parametrize("topic", ["nowhere", "works.x", "misc.a.b", "queue.unknown"])
async def test_unroutable_publish_raises(make_bus: BusFactory, topic: str) -> None:
    bus = await make_bus()
    with pytest.raises(PublishFailed):
        await bus.publish(topic, ping(1))


async def test_failing_handler_is_retried_with_back_off_then_acked(make_bus: BusFactory) -> None:
    dead = MemoryDeadLetters()
    bus = await make_bus(dead)
    flaky = Recorder(fail_first=2)
    await bus.consume("t.work", flaky)
    envelope = ping(7)
    await bus.publish("work.item", envelope)
    calls = await flaky.wait_for(3)
    assert [c.message_id for c in calls] == [envelope.message_id] * 3
    await bus.publish("work.item", ping(8))  # flushes: nothing more of the first one arrives
    await flaky.wait_for(4)
    assert [c.payload["n"] for c in flaky.calls] == [7, 7, 7, 8]
    assert dead.letters == []


async def test_handler_failing_every_time_is_dead_lettered_with_reason(make_bus: BusFactory) -> None:
    dead = MemoryDeadLetters()
    policy = RetryPolicy(delays_s=(0.05,), max_attempts=3)
    bus = await make_bus(dead, policy)
    broken = Recorder(fail_first=99)
    await bus.consume("t.work", broken)
    envelope = ping(1)
    await bus.publish("work.item", envelope)
    [letter] = await dead.wait_for(1)
    assert len(broken.calls) == 3
    assert letter.queue == "t.work"
    assert letter.attempts == 3
    assert "RuntimeError" in letter.reason
    assert json.loads(letter.body)["message_id"] == envelope.message_id


async def test_reject_dead_letters_without_retrying(make_bus: BusFactory) -> None:
    dead = MemoryDeadLetters()
    bus = await make_bus(dead)
    refusing = Recorder(fail_first=99, exc=Reject)
    await bus.consume("t.work", refusing)
    await bus.publish("work.item", ping(1))
    [letter] = await dead.wait_for(1)
    assert len(refusing.calls) == 1
    assert letter.reason.startswith("rejected:")


MALFORMED: list[tuple[str, bytes, str]] = [
    ("not json", b"{nope", "not UTF-8 JSON"),
    ("not utf-8", b"\xff\xfe", "not UTF-8 JSON"),
    ("json array", b"[1, 2]", "not a JSON object"),
    (
        "missing payload",
        b'{"schema":"test.ping","version":1,"message_id":"m","correlation_id":"c",'
        b'"created_at":"2026-01-01T00:00:00+00:00"}',
        "lacks payload",
    ),
    (
        "unknown schema",
        b'{"schema":"nope","version":1,"message_id":"m","correlation_id":"c",'
        b'"created_at":"2026-01-01T00:00:00+00:00","payload":{}}',
        "unknown schema",
    ),
    (
        "unknown version",
        b'{"schema":"test.ping","version":9,"message_id":"m","correlation_id":"c",'
        b'"created_at":"2026-01-01T00:00:00+00:00","payload":{"n":1}}',
        "unknown schema",
    ),
    (
        "wrong payload type",
        b'{"schema":"test.ping","version":1,"message_id":"m","correlation_id":"c",'
        b'"created_at":"2026-01-01T00:00:00+00:00","payload":{"n":"1"}}',
        "wrong type",
    ),
    (
        "naive timestamp",
        b'{"schema":"test.ping","version":1,"message_id":"m","correlation_id":"c",'
        b'"created_at":"2026-01-01T00:00:00","payload":{"n":1}}',
        "no time zone",
    ),
]


@pytest.mark.parametrize(("case", "body", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_body_is_dead_lettered_and_consumer_lives_on(
    make_bus: BusFactory, case: str, body: bytes, reason: str
) -> None:
    dead = MemoryDeadLetters()
    bus = await make_bus(dead)
    seen = Recorder()
    await bus.consume("t.work", seen)
    await bus.requeue("t.work", body)
    [letter] = await dead.wait_for(1)
    assert reason in letter.reason, case
    assert letter.body == body
    assert letter.attempts == 1
    good = ping(5)
    await bus.publish("work.item", good)
    assert [e.message_id for e in await seen.wait_for(1)] == [good.message_id]


async def test_replay_of_a_dead_letter_is_handled(make_bus: BusFactory) -> None:
    dead = MemoryDeadLetters()
    bus = await make_bus(dead, RetryPolicy(delays_s=(0.05,), max_attempts=2))
    handler = Recorder(fail_first=2)  # fails both attempts, succeeds on the replay
    await bus.consume("t.work", handler)
    envelope = ping(3)
    await bus.publish("work.item", envelope)
    [letter] = await dead.wait_for(1)
    await bus.requeue(letter.queue, letter.body)
    calls = await handler.wait_for(3)
    assert [c.message_id for c in calls] == [envelope.message_id] * 3
    assert len(dead.letters) == 1


async def test_stop_lets_the_message_in_flight_finish(make_bus: BusFactory) -> None:
    bus = await make_bus()
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[Envelope] = []

    async def slow(envelope: Envelope) -> None:
        started.set()
        await release.wait()
        finished.append(envelope)

    await bus.consume("t.work", slow)
    await bus.publish("work.item", ping(1))
    await asyncio.wait_for(started.wait(), WAIT_S)
    stopping = asyncio.create_task(bus.stop())
    await asyncio.sleep(0)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, WAIT_S)
    assert len(finished) == 1


class BatchRecorder:
    """A batch handler that fails the whole call when it holds a poison number (like a rolled-back transaction)."""

    def __init__(self, poison: int | None = None) -> None:
        self.handled: list[int] = []
        self.calls: list[int] = []  # batch sizes
        self.poison = poison
        self._changed = asyncio.Event()

    async def __call__(self, envelopes: Sequence[Envelope]) -> None:
        self.calls.append(len(envelopes))
        if any(e.payload["n"] == self.poison for e in envelopes):
            raise RuntimeError("poison in this batch")
        self.handled.extend(e.payload["n"] for e in envelopes)
        self._changed.set()

    async def wait_for(self, count: int) -> list[int]:
        async def until() -> None:
            while len(self.handled) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), WAIT_S)
        return self.handled


async def test_batches_deliver_every_message_once(make_bus: BusFactory) -> None:
    bus = await make_bus(prefetch=40)
    for n in range(300):
        await bus.publish("work.item", ping(n))
    batches = BatchRecorder()
    await bus.consume_batches("t.work", batches, max_batch=20)
    assert sorted(await batches.wait_for(300)) == list(range(300))
    assert max(batches.calls) <= 20


async def test_a_poison_message_in_a_batch_does_not_hold_back_the_others(make_bus: BusFactory) -> None:
    dead = MemoryDeadLetters()
    bus = await make_bus(dead, prefetch=40)
    for n in range(30):
        await bus.publish("work.item", ping(n))
    await bus.requeue("t.work", b"not json")
    batches = BatchRecorder(poison=13)
    await bus.consume_batches("t.work", batches, max_batch=10)
    letters = await dead.wait_for(2)
    assert sorted(await batches.wait_for(29)) == [n for n in range(30) if n != 13]
    reasons = sorted(letter.reason.split(":")[0] for letter in letters)
    assert reasons == [f"attempt {FAST_POLICY.max_attempts}", "malformed"]
