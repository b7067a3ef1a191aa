"""The workflow service end to end on the in-process bus, SQLite and PostgreSQL: a web filing and a conclusion
become SMS on ``sms.outbound``; an MO is stored, answered once; the gateway's status reports land on the SMS."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbound.replies import gsm_forms
from tests.integration.world import World, build_world
from tests.messaging.conftest import OWNER_PHONE, MemoryDeadLetters, Recorder, mo, wait_until
from workflow.adapters.orm import outbox
from workflow.bootstrap import Services, bootstrap
from workflow.domain import commands
from workflow.entrypoints.workflow_service import Stoppable, start_workflow_service
from workflow.messaging.envelope import Envelope
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.relay import notify_new_outbox
from workflow.messaging.sms_store import sms_messages
from workflow.settings import Settings, load_settings

pytestmark = pytest.mark.integration


@dataclass
class Running:
    services: Services
    bus: InProcessBus
    gateway: Recorder  # stands in for gateway_sms: what reaches sms.outbound
    world: World
    engine: AsyncEngine
    dead: MemoryDeadLetters


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = load_settings(env={}, var_dir=tmp_path)
    return replace(base, bus=replace(base.bus, relay_poll_s=0.05))


@pytest.fixture
async def running(engine: AsyncEngine, settings: Settings) -> AsyncIterator[Running]:
    world = await build_world(engine)
    dead = MemoryDeadLetters()
    bus = InProcessBus(dead, prefetch=4)
    await bus.start()
    gateway = Recorder()
    await bus.consume("sms.outbound", gateway)
    service: Stoppable = await start_workflow_service(settings, engine, bus)
    try:
        services = bootstrap(settings, engine=engine, after_commit=notify_new_outbox)
        yield Running(services, bus, gateway, world, engine, dead)
    finally:
        await bus.stop()
        await service.stop()


async def sms_rows(engine: AsyncEngine, purpose: str) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        rows = (
            (await conn.execute(select(sms_messages).where(sms_messages.c.purpose == purpose)))
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


async def test_web_filing_sends_one_confirmation_sms(running: Running) -> None:
    muhtar = running.world.muhtars[0]
    number = await running.services.commands.handle(
        commands.FileRequest(muhtar, "istek", "Köy yolu çukurlarla dolu, onarılmalı.")
    )
    [outbound] = await running.gateway.wait_for(1)
    [row] = await sms_rows(running.engine, "confirmation")
    assert outbound.payload == {"sms_id": row["id"], "to": OWNER_PHONE, "text": row["text"]}
    assert f"TALEP {number}" in str(row["text"])
    assert row["state"] == "queued" and row["request_id"] is not None


async def test_sms_filing_gets_no_second_confirmation(running: Running) -> None:
    muhtar = running.world.muhtars[0]
    await running.services.commands.handle(
        commands.FileRequest(muhtar, "istek", "Mahallede iki gündür su kesintisi var.", "sms")
    )
    marker = await running.services.commands.handle(
        commands.FileRequest(muhtar, "istek", "Sokak lambası bir haftadır yanmıyor.")
    )
    [outbound] = await running.gateway.wait_for(1)  # only the web filing's confirmation
    assert f"TALEP {marker}" in outbound.payload["text"]
    assert len(await sms_rows(running.engine, "confirmation")) == 1


async def test_conclusion_sends_the_closure_sms_with_the_final_note(running: Running) -> None:
    muhtar, migm = running.world.muhtars[0], running.world.users["migm"]
    number = await running.services.commands.handle(
        commands.FileRequest(muhtar, "sikayet", "Çöpler üç gündür toplanmıyor, koku var.")
    )
    await running.services.commands.handle(commands.Conclude(migm, number, "Belediyeye iletildi, çözüldü."))
    await running.gateway.wait_for(2)
    [closure] = await sms_rows(running.engine, "closure")
    text = gsm_forms(str(closure["text"]))  # the text may be sent in its GSM 7-bit forms to fit one SMS
    assert f"{number} numarali" in text and gsm_forms("Belediyeye iletildi, çözüldü.") in text


async def test_a_redelivered_event_notifies_once(running: Running) -> None:
    muhtar = running.world.muhtars[0]
    await running.services.commands.handle(
        commands.FileRequest(muhtar, "istek", "Çocuk parkı bakımsız ve tehlikeli.")
    )
    await running.gateway.wait_for(1)
    async with running.engine.connect() as conn:
        row = (await conn.execute(select(outbox).where(outbox.c.schema == "request.filed"))).mappings().one()
    again = Envelope(
        row["schema"],
        row["schema_version"],
        row["message_id"],
        row["correlation_id"],
        row["created_at"],
        json.loads(row["payload"]),
    )
    await running.bus.publish(row["topic"], again)
    marker = await running.services.commands.handle(
        commands.FileRequest(muhtar, "istek", "Okul önündeki kaldırım kırık durumda.")
    )
    calls = await running.gateway.wait_for(2)
    assert f"TALEP {marker}" in calls[1].payload["text"]
    assert len(await sms_rows(running.engine, "confirmation")) == 2  # not 3


async def test_an_mo_is_stored_handed_to_inbound_and_answered_once(running: Running) -> None:
    muhtar = running.world.muhtars[0]
    number = await running.services.commands.handle(
        commands.FileRequest(muhtar, "istek", "Ana caddede yol çalışması bitmedi.")
    )
    await running.gateway.wait_for(1)
    await running.bus.publish("sms.inbound", mo("mo-1", f"TALEP {number}"))
    await running.bus.publish("sms.inbound", mo("mo-1", f"TALEP {number}"))  # the SMSC delivered it twice
    calls = await running.gateway.wait_for(2)
    [stored] = await sms_rows(running.engine, "mo")
    [reply] = await sms_rows(running.engine, "reply")
    assert stored["state"] == "handled" and stored["direction"] == "in"
    assert reply["reply_to_id"] == stored["id"] and str(number) in str(reply["text"])
    assert calls[1].payload["sms_id"] == reply["id"]
    marker = await running.services.commands.handle(
        commands.FileRequest(muhtar, "istek", "Cami yanındaki çeşme akmıyor artık.")
    )
    calls = await running.gateway.wait_for(3)
    assert f"TALEP {marker}" in calls[2].payload["text"]  # and no second reply before it
    assert len(await sms_rows(running.engine, "reply")) == 1


async def test_gateway_status_reports_update_the_stored_sms(running: Running) -> None:
    muhtar = running.world.muhtars[0]
    await running.services.commands.handle(
        commands.FileRequest(muhtar, "istek", "Mahallemizde otobüs durağı bulunmuyor.")
    )
    [outbound] = await running.gateway.wait_for(1)
    sms_id = outbound.payload["sms_id"]
    base = {"part_count": 1, "smpp_status": "ESME_ROK", "error": None, "at": "2026-11-25T09:00:01+00:00"}
    await running.bus.publish(
        "sms.status",
        Envelope.new(
            "sms.status",
            {
                **base,
                "kind": "dlr",
                "sms_id": None,
                "part_index": None,
                "smsc_message_id": "X1",
                "dlr_state": "DELIVRD",
            },
        ),
    )
    await running.bus.publish(
        "sms.status",
        Envelope.new(
            "sms.status",
            {
                **base,
                "kind": "submit_ok",
                "sms_id": sms_id,
                "part_index": 0,
                "smsc_message_id": "X1",
                "dlr_state": None,
            },
        ),
    )

    async def delivered() -> bool:
        async with running.engine.connect() as conn:
            query = select(sms_messages.c.state).where(sms_messages.c.id == sms_id)
            return (await conn.execute(query)).scalar_one() == "delivered"

    await wait_until(delivered, "the receipt that came first is applied once the submit result arrives")


async def test_an_mo_that_cannot_be_stored_is_parked_with_the_reason(running: Running) -> None:
    bad = mo("mo-long", "TALEP 1")
    bad = Envelope.new("sms.inbound", {**bad.payload, "from": "+90" + "5" * 20})
    await running.bus.publish("sms.inbound", bad)
    [letter] = await running.dead.wait_for(1)
    assert letter.queue == "sms.inbound" and "longer than the columns" in letter.reason
    assert await sms_rows(running.engine, "mo") == []
