"""``sms.inbound`` version 2: the MOs the gateway reads while the previous message awaits its confirm leave
as one message; the workflow answers each MO of it, once, also when the message is delivered again; a failed
publish answers every deliver_sm of the batch with ESME_RX_T_APPN (the SMSC delivers them again).

End to end on the real RabbitMQ: SMSC simulator → gateway → ``sms.inbound`` → workflow → reply at the SMSC.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.pdus import status as st
from gateway_sms.service import Gateway, MoBatcher
from gateway_sms.simulator import SimMessage, Simulator
from tests.integration.world import World, build_world
from tests.messaging.conftest import OWNER_PHONE, rabbit_url, rabbit_vhost  # noqa: F401  (fixtures)
from tests.system import workflow_and_gateway
from workflow.bootstrap import Services, bootstrap
from workflow.domain import commands
from workflow.messaging.bus import Bus, PublishFailed
from workflow.messaging.deadletters import dead_letters
from workflow.messaging.envelope import Envelope, MalformedMessage, decode
from workflow.messaging.factory import create_bus
from workflow.messaging.relay import notify_new_outbox
from workflow.messaging.sms_store import sms_messages
from workflow.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
SHORT_CODE = "4444"
WAIT_S = 30.0


def mo_payload(mo_id: str, text: str, sender: str = OWNER_PHONE) -> dict[str, Any]:
    return {
        "mo_id": mo_id,
        "from": sender,
        "to": SHORT_CODE,
        "text": text,
        "data_coding": 0,
        "received_at": "2026-11-26T06:00:00+00:00",
    }


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S  # a liveness bound, not a speed assertion
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


# --- the schema ----------------------------------------------------------------------------------------------


def test_inbound_v2_carries_version_1_mos_each_validated() -> None:
    items = [mo_payload("mo-a", "YARDIM"), mo_payload("mo-b", "TALEP 12")]
    decoded = decode(Envelope.new("sms.inbound", {"items": items}, version=2).encode())
    assert (decoded.schema, decoded.version) == ("sms.inbound", 2)
    assert decoded.payload["items"] == items
    broken = [items[0], {**items[1], "text": 12}]
    with pytest.raises(MalformedMessage, match=r"items\[1\]: payload field text has the wrong type"):
        decode(Envelope.new("sms.inbound", {"items": broken}, version=2).encode())
    with pytest.raises(MalformedMessage, match="needs 1 to"):
        decode(Envelope.new("sms.inbound", {"items": []}, version=2).encode())
    with pytest.raises(MalformedMessage, match="lacks items"):  # a version 1 payload is not a version 2
        decode(Envelope.new("sms.inbound", items[0], version=2).encode())


# --- the gateway's batches -----------------------------------------------------------------------------------


class HeldPublishes:
    """Wraps a bus's ``publish`` (the instance's own, as tests/gateway/test_service.py's FlakyBus does):
    ``sms.inbound`` publishes are recorded, held while ``gate`` is clear, and fail while ``fail`` is set."""

    def __init__(self, bus: Any) -> None:
        self.attempts: list[Envelope] = []
        self.published: list[Envelope] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False
        self._publish = bus.publish
        bus.publish = self._held

    async def _held(self, topic: str, envelope: Envelope) -> None:
        if topic != "sms.inbound":
            await self._publish(topic, envelope)
            return
        self.attempts.append(envelope)
        await self.gate.wait()
        if self.fail:
            raise PublishFailed("broker unavailable (test)")
        await self._publish(topic, envelope)
        self.published.append(envelope)


def shape(envelopes: list[Envelope]) -> list[tuple[int, list[str]]]:
    """(version, the mo_ids it carries) of each message."""
    return [
        (e.version, [i["mo_id"] for i in e.payload["items"]] if e.version == 2 else [e.payload["mo_id"]])
        for e in envelopes
    ]


class Sink:
    """Just ``publish``, which is all MoBatcher needs: takes every message."""

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await asyncio.sleep(0)


async def test_a_lone_mo_leaves_as_version_1_and_those_read_meanwhile_as_one_version_2() -> None:
    sink = Sink()
    held = HeldPublishes(sink)
    batcher = MoBatcher(sink)  # type: ignore[arg-type]
    held.gate.clear()
    first = asyncio.ensure_future(batcher.add([mo_payload("m1", "A")]))
    await until(lambda: len(held.attempts) == 1)
    later = [asyncio.ensure_future(batcher.add([mo_payload(f"m{n}", "B")])) for n in (2, 3, 4)]
    await until(lambda: batcher.gathering == 3)
    assert not first.done()  # nobody returns before the bus has confirmed its message
    held.gate.set()
    await asyncio.gather(first, *later)
    assert shape(held.published) == [(1, ["m1"]), (2, ["m2", "m3", "m4"])]
    assert held.published[0].message_id == "m1"
    for envelope in held.published:  # what the gateway sends is what the consumers accept
        decode(envelope.encode())


# --- end to end on RabbitMQ ----------------------------------------------------------------------------------


@dataclass
class System:
    sim: Simulator
    gateway: Gateway
    bus: Bus
    held: HeldPublishes
    services: Services
    world: World
    engine: AsyncEngine

    def received(self, phone: str = OWNER_PHONE) -> list[SimMessage]:
        return [m for m in self.sim.messages if m.destination_addr == phone.lstrip("+")]

    async def inject_held(self, texts: list[str]) -> list[tuple[int, ...]]:
        """Inject MOs so that the first leaves alone and the others gather while it is held, then release
        the gate; the deliver_sm_resp statuses of each."""
        self.held.gate.clear()
        seen = len(self.held.attempts)
        first = asyncio.ensure_future(self.sim.inject_mo(OWNER_PHONE.lstrip("+"), SHORT_CODE, texts[0]))
        await until(lambda: len(self.held.attempts) == seen + 1)
        rest = [
            asyncio.ensure_future(self.sim.inject_mo(OWNER_PHONE.lstrip("+"), SHORT_CODE, text))
            for text in texts[1:]
        ]
        await until(lambda: self.gateway._mos.gathering == len(texts) - 1)
        self.held.gate.set()
        return list(await asyncio.gather(first, *rest))


@pytest.fixture
async def system(engine: AsyncEngine, tmp_path: Path, rabbit_url: str) -> AsyncIterator[System]:  # noqa: F811
    world = await build_world(engine)
    base = load_settings(env={}, var_dir=tmp_path)
    sim = Simulator({base.smpp.system_id: base.smpp.password}, port=0, dlr_delay_s=0.0)
    await sim.start()
    settings = replace(
        base,
        bus=replace(base.bus, kind="rabbitmq", amqp_url=rabbit_url, relay_poll_s=0.05),
        smpp=replace(base.smpp, port=sim.port),
    )
    bus = create_bus(settings.bus, engine)
    await bus.start()
    held = HeldPublishes(bus)
    try:
        async with workflow_and_gateway(settings, engine, bus) as gateway:
            await gateway.connector.wait_bound(10)
            services = bootstrap(settings, engine=engine, after_commit=notify_new_outbox)
            yield System(sim, gateway, bus, held, services, world, engine)
    finally:
        await sim.stop()


async def count_rows(engine: AsyncEngine, purpose: str) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(sms_messages).where(sms_messages.c.purpose == purpose)
        return int((await conn.execute(query)).scalar_one())


async def test_a_batch_of_mos_is_answered_through_rabbitmq_once_also_when_delivered_again(
    system: System,
) -> None:
    number = await system.services.commands.handle(
        commands.FileRequest(system.world.muhtars[0], "istek", "Ana caddede yol çalışması bitmedi.")
    )
    await system.sim.wait_until(lambda: len(system.received()) == 1, within_s=20)  # the confirmation
    texts = ["YARDIM", f"TALEP {number}", f"talep {number + 100}", "?"]
    assert await system.inject_held(texts) == [(st.ESME_ROK,)] * 4
    mo_ids = [mo_id for _, ids in shape(system.held.published) for mo_id in ids]
    assert shape(system.held.published) == [(1, mo_ids[:1]), (2, mo_ids[1:])]
    await system.sim.wait_until(lambda: len(system.received()) == 5, within_s=20)
    replies = [m.text for m in system.received()[1:]]
    assert sum(r.startswith(f"Talep {number}: ") for r in replies) == 1
    assert sum("bulunamad" in r for r in replies) == 1
    # The broker delivers the version 2 message again (say the workflow died before its ack): no new reply.
    await system.bus.publish("sms.inbound", system.held.published[1])
    marker = f"TALEP  {number}"  # another text: the gateway takes it as a new MO
    assert await system.sim.inject_mo(OWNER_PHONE.lstrip("+"), SHORT_CODE, marker) == (st.ESME_ROK,)
    await system.sim.wait_until(lambda: len(system.received()) == 6, within_s=20)
    assert system.received()[5].text.startswith(f"Talep {number}: ")
    assert await count_rows(system.engine, "mo") == 5
    assert await count_rows(system.engine, "reply") == 5


async def test_a_failed_publish_answers_every_mo_of_the_batch_with_a_temporary_error(system: System) -> None:
    texts = ["YARDIM", "TALEP 999999", "?", "HELP"]
    system.held.fail = True
    assert await system.inject_held(texts) == [(st.ESME_RX_T_APPN,)] * 4
    assert [len(ids) for _, ids in shape(system.held.attempts)] == [1, 3]
    assert system.held.published == []
    system.held.fail = False
    # The SMSC delivers them again: taken now, each answered once.
    again = await asyncio.gather(
        *(system.sim.inject_mo(OWNER_PHONE.lstrip("+"), SHORT_CODE, text) for text in texts)
    )
    assert again == [(st.ESME_ROK,)] * 4
    await system.sim.wait_until(lambda: len(system.received()) == 4, within_s=20)
    assert sum(len(ids) for _, ids in shape(system.held.published)) == 4
    assert await count_rows(system.engine, "mo") == 4  # nothing of the failed batch reached the workflow


async def test_a_bad_mo_in_a_version_2_message_is_parked_after_the_others_are_answered(
    system: System,
) -> None:
    good, bad = mo_payload("mo-good", "YARDIM"), mo_payload("mo-bad", "YARDIM", sender="+90" + "5" * 20)
    await system.bus.publish("sms.inbound", Envelope.new("sms.inbound", {"items": [good, bad]}, version=2))
    await system.sim.wait_until(lambda: len(system.received()) == 1, within_s=20)

    async def parked() -> list[str]:
        async with system.engine.connect() as conn:
            query = select(dead_letters.c.reason).where(dead_letters.c.queue == "sms.inbound")
            return [str(r) for r in (await conn.execute(query)).scalars()]

    deadline = time.monotonic() + WAIT_S
    while not (reasons := await parked()):
        assert time.monotonic() < deadline, "the message was not parked"
        await asyncio.sleep(0.05)
    [reason] = reasons
    assert "items[1]" in reason and "longer than the columns" in reason
    assert await count_rows(system.engine, "mo") == 1
