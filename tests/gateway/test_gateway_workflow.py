"""Gateway ↔ workflow contract, end to end: queue_sms → outbox relay → bus → gateway → simulator over TCP →
sms.status → the workflow's recorder → every SMS's state in the database (SQLite and PostgreSQL).

Receipts are written by the SMSC before the submit_sm_resp, the order that makes the recorder keep a receipt
pending until the submit result names its part.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.encoding import segments
from gateway_sms.service import Gateway
from gateway_sms.simulator import Simulator
from tests.gateway.conftest import MemoryDeadLetters, fast_config
from workflow.entrypoints.workflow_service import start_workflow_service
from workflow.messaging.bus import RetryPolicy
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.relay import notify_new_outbox
from workflow.messaging.sms_store import queue_sms, sms_messages, sms_parts
from workflow.settings import load_settings

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def system(engine: AsyncEngine) -> AsyncIterator[tuple[Simulator, AsyncEngine]]:
    sim = Simulator({"muhtar": "secret"}, dlr_delay_s=0.0)
    sim.receipts_first = True
    await sim.start()
    bus = InProcessBus(MemoryDeadLetters(), RetryPolicy(delays_s=(0.05, 0.1), max_attempts=20), prefetch=20)
    await bus.start()
    settings = load_settings(env={"MUHTAR_DATABASE_URL": engine.url.render_as_string(hide_password=False)})
    workflow = await start_workflow_service(settings, engine, bus)
    gateway = Gateway(fast_config(sim.port), bus, drain_timeout_s=5)
    await gateway.start()
    try:
        yield sim, engine
    finally:
        await gateway.stop()
        await bus.stop()
        await workflow.stop()
        await sim.stop()


async def _states(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(sms_messages.c.id, sms_messages.c.state))).all()
    return {row.id: row.state for row in rows}


async def _until_settled(engine: AsyncEngine, count: int) -> dict[str, str]:
    deadline = time.monotonic() + 60  # liveness bound, not a speed assertion
    while True:
        states = await _states(engine)
        if len(states) == count and all(s in ("delivered", "failed") for s in states.values()):
            return states
        if time.monotonic() > deadline:
            raise TimeoutError(f"SMS states not settled: {sorted(set(states.values()))}")
        await asyncio.sleep(0.05)


async def test_every_sms_state_recorded_with_receipts_first(system: tuple[Simulator, AsyncEngine]) -> None:
    sim, engine = system
    sim.faults.undeliverable.add("905559998877")
    texts = {
        "+905321234567": "Onay kodunuz: 482913",
        "+905337654321": "Sayın muhtarımız, 1234 numaralı talebiniz sonuçlandı. " * 3,  # several parts
        "+905559998877": "Bu numaraya ulaşılamıyor.",
    }
    async with engine.begin() as conn:
        ids = {phone: await queue_sms(conn, phone, text, "notice") for phone, text in texts.items()}
    notify_new_outbox()
    states = await _until_settled(engine, len(texts))
    assert states == {
        ids["+905321234567"]: "delivered",
        ids["+905337654321"]: "delivered",
        ids["+905559998877"]: "failed",
    }
    async with engine.connect() as conn:
        parts = (await conn.execute(select(sms_parts.c.sms_id, sms_parts.c.smsc_message_id))).all()
    long_parts = [p for p in parts if p.sms_id == ids["+905337654321"]]
    expected = segments(texts["+905337654321"], "turkish_shift")
    assert expected > 1 and len(long_parts) == expected and all(p.smsc_message_id for p in long_parts)
    assert sorted(m.text for m in sim.messages) == sorted(texts.values())
