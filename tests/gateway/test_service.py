"""The gateway service between a bus (in-process and real RabbitMQ) and the simulator over TCP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from gateway_sms.pdus import status as st
from gateway_sms.pdus.codec import Pdu
from gateway_sms.service import Gateway, StatusBatcher
from gateway_sms.simulator import Simulator
from tests.gateway.conftest import MemoryDeadLetters, fast_config
from workflow.messaging.bus import Bus, PublishFailed, RetryPolicy
from workflow.messaging.envelope import Envelope, sms_status_items
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.rabbitmq import RabbitMQBus

pytestmark = pytest.mark.timeout(90)
WAIT_S = 30.0
PHONE = "+905321234567"
POLICY = RetryPolicy(delays_s=(0.05, 0.1, 0.2), max_attempts=6)


class Collector:
    def __init__(self) -> None:
        self.items: list[Envelope] = []

    async def __call__(self, envelope: Envelope) -> None:
        self.items.append(envelope)

    def of(self, kind: str) -> list[dict[str, object]]:
        return [p for e in self.items for p in sms_status_items(e) if p.get("kind") == kind]


class FlakyBus:
    """A real bus whose ``publish`` can be made to fail like a broker outage (``fail_publishes``).

    It wraps the instance's own ``publish`` rather than subclassing ``Bus``, so it keeps working
    whatever else the bus interface grows.
    """

    def __init__(self, inner: Bus) -> None:
        self.inner = inner
        self.fail_publishes = 0
        self._publish = inner.publish
        inner.publish = self._flaky_publish  # type: ignore[method-assign]

    async def _flaky_publish(self, topic: str, envelope: Envelope) -> None:
        if self.fail_publishes > 0:
            self.fail_publishes -= 1
            raise PublishFailed("broker unavailable (test)")
        await self._publish(topic, envelope)


@pytest.fixture(params=["inprocess", "rabbitmq"])
async def flaky(request: pytest.FixtureRequest) -> AsyncIterator[FlakyBus]:
    inner: Bus
    if request.param == "inprocess":
        inner = InProcessBus(MemoryDeadLetters(), POLICY, prefetch=50)
    else:
        url = request.getfixturevalue("rabbit_url")
        inner = RabbitMQBus(
            url, policy=POLICY, dead_letters=MemoryDeadLetters(), prefetch=50, reconnect_s=0.5
        )
    await inner.start()
    yield FlakyBus(inner)
    await inner.stop()


@pytest.fixture
def bus(flaky: FlakyBus) -> Bus:
    return flaky.inner


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    s = Simulator({"muhtar": "secret"}, dlr_delay_s=0.0)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def status() -> Collector:
    return Collector()


@pytest.fixture
async def inbound() -> Collector:
    return Collector()


@pytest.fixture
async def gateway(
    bus: Bus, sim: Simulator, status: Collector, inbound: Collector
) -> AsyncIterator[tuple[Gateway, MemoryDeadLetters]]:
    await bus.consume("sms.status", status)
    await bus.consume("sms.inbound", inbound)
    dead = MemoryDeadLetters()
    gw = Gateway(fast_config(sim.port, window=10), bus, dead_letters=dead, drain_timeout_s=5)
    await gw.start()
    await gw.connector.wait_bound(10)
    yield gw, dead
    await gw.stop()


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S  # a liveness bound, not a speed assertion
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


def outbound(sms_id: str, text: str, to: str = PHONE) -> Envelope:
    return Envelope.new("sms.outbound", {"sms_id": sms_id, "to": to, "text": text})


async def test_outbound_parts_statuses_and_receipts(
    bus: Bus, sim: Simulator, gateway: tuple[Gateway, MemoryDeadLetters], status: Collector
) -> None:
    text = "Sayın muhtarımız, talebiniz sonuçlandı. " * 5
    await bus.publish("sms.outbound", outbound("s1", text))
    await bus.publish("sms.outbound", outbound("s2", "Onay kodunuz: 482913"))
    await until(lambda: len(status.of("submit_ok")) == 3 and len(status.of("dlr")) == 3)
    s1 = sorted((p["part_index"], p["part_count"]) for p in status.of("submit_ok") if p["sms_id"] == "s1")
    assert s1 == [(1, 2), (2, 2)]
    submitted_ids = {p["smsc_message_id"] for p in status.of("submit_ok")}
    assert {p["smsc_message_id"] for p in status.of("dlr")} == submitted_ids
    assert {p["dlr_state"] for p in status.of("dlr")} == {"DELIVRD"}
    assert all(isinstance(i, str) and not i.startswith("0") for i in submitted_ids)
    assert sorted(m.text for m in sim.messages) == sorted([text, "Onay kodunuz: 482913"])


async def test_permanent_failure_is_published_and_acked(
    bus: Bus, sim: Simulator, gateway: tuple[Gateway, MemoryDeadLetters], status: Collector
) -> None:
    sim.faults.fail_destinations["905321234567"] = st.ESME_RINVDSTADR
    await bus.publish("sms.outbound", outbound("s3", "x"))
    await bus.publish("sms.outbound", outbound("s4", "x", to="+90 12"))
    await until(lambda: len(status.of("submit_failed")) == 2)
    assert {p["smpp_status"] for p in status.of("submit_failed")} == {"ESME_RINVDSTADR"}
    assert sim.messages == []


async def test_status_publish_failure_redelivers_without_resending_parts(
    bus: Bus, sim: Simulator, gateway: tuple[Gateway, MemoryDeadLetters], status: Collector
) -> None:
    text = "ğ" * 100  # two UCS-2 parts

    original = bus.publish
    failed = {"n": 0}

    async def publish_failing_first_status(topic: str, envelope: Envelope) -> None:
        kinds = {p.get("kind") for p in sms_status_items(envelope)} if topic == "sms.status" else set()
        if "submit_ok" in kinds and failed["n"] == 0:
            failed["n"] += 1
            raise PublishFailed("broker unavailable (test)")
        await original(topic, envelope)

    bus.publish = publish_failing_first_status  # type: ignore[method-assign]
    await bus.publish("sms.outbound", outbound("s5", text))
    await until(lambda: len({p["part_index"] for p in status.of("submit_ok")}) == 2)
    assert failed["n"] == 1
    assert len(sim.parts) == 2  # the retry published again but did not submit again
    assert [m.text for m in sim.messages] == [text]


async def test_mo_published_with_e164_sender(
    sim: Simulator, gateway: tuple[Gateway, MemoryDeadLetters], inbound: Collector
) -> None:
    assert await sim.inject_mo("905321234567", "4567", "TALEP 1234") == (st.ESME_ROK,)
    await until(lambda: len(inbound.items) == 1)
    payload = inbound.items[0].payload
    assert (payload["from"], payload["to"], payload["text"], payload["data_coding"]) == (
        "+905321234567",
        "4567",
        "TALEP 1234",
        0,
    )
    assert inbound.items[0].message_id == payload["mo_id"]


async def test_mo_not_acknowledged_when_publish_fails(
    flaky: FlakyBus, sim: Simulator, gateway: tuple[Gateway, MemoryDeadLetters], inbound: Collector
) -> None:
    flaky.fail_publishes = 1
    assert await sim.inject_mo("905321234567", "4567", "TALEP 9") == (st.ESME_RX_T_APPN,)
    assert await sim.inject_mo("905321234567", "4567", "TALEP 9") == (st.ESME_ROK,)
    assert await sim.inject_mo("905321234567", "4567", "TALEP 9") == (st.ESME_ROK,)  # redelivery: deduped
    await until(lambda: len(inbound.items) >= 1)
    await asyncio.sleep(0.2)  # give a wrong second publish the chance to show up
    assert [e.payload["text"] for e in inbound.items] == ["TALEP 9"]


async def test_undecodable_mo_is_parked_with_raw_bytes(
    sim: Simulator, gateway: tuple[Gateway, MemoryDeadLetters]
) -> None:
    _, dead = gateway
    pdu = Pdu(
        "deliver_sm", 0, params={"source_addr": "905321234567", "data_coding": 8, "short_message": b"\x00"}
    )
    assert await sim.deliver_raw(pdu) == st.ESME_ROK
    [letter] = await dead.wait_for(1)
    assert "odd length" in letter.reason and letter.queue == "sms.inbound" and b"\x00" in letter.body


async def test_stop_drains_then_unbinds(
    bus: Bus, sim: Simulator, gateway: tuple[Gateway, MemoryDeadLetters], status: Collector
) -> None:
    gw, _ = gateway
    for i in range(30):
        await bus.publish("sms.outbound", outbound(f"d{i}", f"mesaj {i}"))
    await until(lambda: len(status.of("submit_ok")) >= 5)
    await gw.stop()
    await sim.wait_until(lambda: sim.bound_sessions == 0)
    handled = {p["sms_id"] for p in status.of("submit_ok")}
    assert {m.text for m in sim.messages} >= {f"mesaj {i[1:]}" for i in handled}


class RecordingBus:
    """Just ``publish``: what StatusBatcher needs; ``fail`` makes the next publish fail."""

    def __init__(self) -> None:
        self.published: list[Envelope] = []
        self.fail = False
        self.gate = asyncio.Event()
        self.gate.set()

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self.gate.wait()
        if self.fail:
            raise PublishFailed("broker unavailable (test)")
        self.published.append(envelope)


async def test_status_items_added_in_one_loop_turn_leave_as_one_confirmed_message() -> None:
    fake = RecordingBus()
    batcher = StatusBatcher(fake)  # type: ignore[arg-type]
    fake.gate.clear()
    waiters = [asyncio.ensure_future(batcher.add([{"n": n}])) for n in range(3)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)  # nobody returns before the bus has the message
    waiters[0].cancel()  # a caller that goes away does not take the batch with it
    fake.gate.set()
    await asyncio.gather(*waiters[1:])
    assert [(e.schema, e.version) for e in fake.published] == [("sms.status", 2)]
    assert fake.published[0].payload == {"items": [{"n": 0}, {"n": 1}, {"n": 2}]}
    await batcher.add([{"n": 3}])  # a later turn: a message of its own
    assert [e.payload["items"] for e in fake.published[1:]] == [[{"n": 3}]]


async def test_a_failed_status_batch_fails_every_caller_in_it() -> None:
    fake = RecordingBus()
    batcher = StatusBatcher(fake)  # type: ignore[arg-type]
    fake.fail = True
    results = await asyncio.gather(batcher.add([{"n": 1}]), batcher.add([{"n": 2}]), return_exceptions=True)
    assert [type(r) for r in results] == [PublishFailed, PublishFailed]
    fake.fail = False
    await batcher.add([{"n": 1}])
    assert [e.payload["items"] for e in fake.published] == [[{"n": 1}]]


async def test_with_a_confirm_limit_items_gather_while_a_status_message_is_unconfirmed() -> None:
    fake = RecordingBus()
    batcher = StatusBatcher(fake, max_in_flight=1)  # type: ignore[arg-type]
    fake.gate.clear()
    first = asyncio.ensure_future(batcher.add([{"n": 1}]))
    await asyncio.sleep(0.01)  # the first message is out, waiting for its confirm
    later = [asyncio.ensure_future(batcher.add([{"n": n}])) for n in (2, 3)]
    await asyncio.sleep(0.01)
    later.append(asyncio.ensure_future(batcher.add([{"n": 4}])))  # another loop turn, same batch
    await asyncio.sleep(0.01)
    fake.gate.set()
    await asyncio.gather(first, *later)
    assert [e.payload["items"] for e in fake.published] == [[{"n": 1}], [{"n": 2}, {"n": 3}, {"n": 4}]]
