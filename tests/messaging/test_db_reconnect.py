"""The workflow service's engine runs without pool pre-ping (three round trips saved per transaction): when
PostgreSQL drops every connection (a restart, a failover), the first transaction fails, the pool is renewed
and the bus's retry of that MO succeeds — no MO is lost and none is answered twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER
from tests.integration.world import build_world
from tests.messaging.conftest import MemoryDeadLetters, Recorder, mo
from workflow.adapters.db import create_engine
from workflow.bootstrap import bootstrap
from workflow.domain import commands
from workflow.entrypoints.workflow_service import start_workflow_service
from workflow.messaging.bus import RetryPolicy
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.relay import notify_new_outbox
from workflow.messaging.sms_store import sms_messages
from workflow.settings import load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(pg_database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(pg_database_url, pool_size=2, pre_ping=False)
    try:
        yield eng
    finally:
        await eng.dispose()


async def drop_connections(engine: AsyncEngine) -> int:
    """What a server restart does to the pool: every backend of the test database is terminated."""
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    try:
        return int(
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
                engine.url.database,
            )
        )
    finally:
        await admin.close()


async def test_without_pre_ping_a_dropped_pool_fails_once_then_is_renewed(engine: AsyncEngine) -> None:
    async with engine.connect() as first, engine.connect() as second:  # two pooled connections
        for conn in (first, second):
            await conn.execute(text("SELECT 1"))
    assert await drop_connections(engine) >= 2
    with pytest.raises(DBAPIError) as failed:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated
    # The failure invalidated the whole pool, not just that connection: both work again at once.
    async with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1


async def test_the_workflow_service_answers_an_mo_that_meets_dropped_connections(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    base = load_settings(env={}, var_dir=tmp_path)
    settings = replace(base, bus=replace(base.bus, relay_poll_s=0.05))
    world = await build_world(engine)
    dead = MemoryDeadLetters()
    bus = InProcessBus(dead, RetryPolicy(delays_s=(0.05, 0.1), max_attempts=3), prefetch=4)
    await bus.start()
    gateway = Recorder()
    await bus.consume("sms.outbound", gateway)
    service = await start_workflow_service(settings, engine, bus)
    try:
        services = bootstrap(settings, engine=engine, after_commit=notify_new_outbox)
        number = await services.commands.handle(
            commands.FileRequest(world.muhtars[0], "istek", "Ana caddede yol çalışması bitmedi.")
        )
        await gateway.wait_for(1)  # the filing's confirmation: the pool is in use
        assert await drop_connections(engine) >= 1
        await bus.publish("sms.inbound", mo("mo-after-drop", f"TALEP {number}"))
        calls = await gateway.wait_for(2)
        assert f"Talep {number}:" in calls[1].payload["text"]
        assert dead.letters == []
        async with engine.connect() as conn:
            rows = (await conn.execute(select(sms_messages.c.purpose, sms_messages.c.state))).all()
        assert sorted(rows) == [("confirmation", "queued"), ("mo", "handled"), ("reply", "queued")]
    finally:
        await bus.stop()
        await service.stop()
