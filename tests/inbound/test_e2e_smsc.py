"""End to end: an MO injected at the SMSC simulator → gateway → bus → workflow service → inbound →
reply submitted back at the simulator. For the owner, a stranger and an unregistered number."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.simulator import SimMessage, Simulator
from tests.inbound.conftest import DESCRIPTION, OTHER_MUHTAR_PHONE, OWNER_PHONE, UNREGISTERED_PHONE, Cast
from tests.messaging.conftest import rabbit_url, rabbit_vhost  # noqa: F401  (fixtures: a private vhost)
from tests.system import workflow_and_gateway
from workflow.bootstrap import Services, bootstrap
from workflow.domain import commands
from workflow.messaging.bus import Bus
from workflow.messaging.factory import create_bus
from workflow.messaging.relay import notify_new_outbox
from workflow.messaging.sms_store import sms_messages
from workflow.settings import Settings, load_settings

pytestmark = pytest.mark.integration
SHORT_CODE = "4444"


@dataclass
class System:
    sim: Simulator
    services: Services
    engine: AsyncEngine

    def received(self, phone: str) -> list[SimMessage]:
        return [m for m in self.sim.messages if m.destination_addr == phone.lstrip("+")]

    async def ask(self, phone: str, text: str) -> SimMessage:
        """Send an MO from ``phone`` and wait for the next SMS the simulator receives for that phone."""
        seen = len(self.received(phone))
        statuses = await self.sim.inject_mo(phone.lstrip("+"), SHORT_CODE, text)
        assert set(statuses) == {0}  # ESME_ROK: the gateway took it
        await self.sim.wait_until(lambda: len(self.received(phone)) > seen, within_s=20)
        return self.received(phone)[seen]


@pytest.fixture(params=["inprocess", "rabbitmq"])
def e2e_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    base = load_settings(env={}, var_dir=tmp_path)
    bus = replace(base.bus, relay_poll_s=0.05)
    if request.param == "rabbitmq":
        bus = replace(bus, kind="rabbitmq", amqp_url=request.getfixturevalue("rabbit_url"))
    return replace(base, bus=bus)


@pytest.fixture
async def system(engine: AsyncEngine, e2e_settings: Settings, cast: Cast) -> AsyncIterator[System]:
    sim = Simulator({e2e_settings.smpp.system_id: e2e_settings.smpp.password}, port=0)
    await sim.start()
    settings = replace(e2e_settings, smpp=replace(e2e_settings.smpp, port=sim.port))
    bus: Bus = create_bus(settings.bus, engine)
    await bus.start()
    try:
        async with workflow_and_gateway(settings, engine, bus):
            yield System(sim, bootstrap(settings, engine=engine, after_commit=notify_new_outbox), engine)
    finally:
        await sim.stop()


async def test_owner_stranger_and_unregistered_through_the_smsc(system: System, cast: Cast) -> None:
    number = await system.services.commands.handle(commands.FileRequest(cast.owner, "istek", DESCRIPTION))
    # The web filing's own confirmation SMS comes first; the replies are what follows.
    await system.sim.wait_until(lambda: len(system.received(OWNER_PHONE)) == 1, within_s=20)
    owner = await system.ask(OWNER_PHONE, f"talep {number}")
    assert owner.text.startswith(f"Talep {number}: Bekleyen, son hareket ")
    stranger = await system.ask(OTHER_MUHTAR_PHONE, f"TALEP {number}")
    missing = await system.ask(OWNER_PHONE, f"TALEP {number + 100}")
    unregistered = await system.ask(UNREGISTERED_PHONE, f"TALEP {number}")
    assert "bulunamad" in stranger.text
    assert stranger.text == unregistered.text == missing.text.replace(str(number + 100), str(number))
    # Every MO and its reply are stored and linked in the SMS log.
    async with system.engine.connect() as conn:
        rows = (await conn.execute(select(sms_messages))).mappings().all()
    incoming = {r["id"]: r for r in rows if r["direction"] == "in"}
    replies = [r for r in rows if r["purpose"] == "reply"]
    assert len(incoming) == 4 and len(replies) == 4
    assert all(r["reply_to_id"] in incoming for r in replies)


async def test_filing_by_sms_through_the_smsc(system: System, cast: Cast) -> None:
    reply = await system.ask(OWNER_PHONE, "ŞİKAYET " + DESCRIPTION)
    assert "talep no: " in reply.text
    number = int(reply.text.split("talep no: ")[1].split(".")[0])
    status = await system.ask(OWNER_PHONE, f"T{number}")
    assert status.text.startswith(f"Talep {number}: Bekleyen")
