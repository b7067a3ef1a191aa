"""`muhtar workflow` as a process on PostgreSQL and RabbitMQ: it consumes, and on SIGTERM it drains and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.messaging.conftest import WAIT_S, wait_until
from tests.messaging.test_rabbit_resilience import ready_messages
from workflow.adapters.orm import processed_messages
from workflow.messaging.envelope import Envelope
from workflow.messaging.rabbitmq import RabbitMQBus

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


def note_added(n: int) -> Envelope:
    return Envelope.new(
        "request.note_added",
        {"request_id": f"r{n}", "number": n, "at": "2026-11-25T09:00:00+00:00", "public": True},
    )


async def test_workflow_process_consumes_then_drains_and_exits_on_sigterm(
    pg_engine: AsyncEngine, pg_database_url: str, rabbit_url: str, tmp_path: Path
) -> None:
    env = {
        **{
            k: v for k, v in os.environ.items() if not k.startswith("MUHTAR_") or k.startswith("MUHTAR_TEST_")
        },
        "MUHTAR_DATABASE_URL": pg_database_url,
        "MUHTAR_BUS_KIND": "rabbitmq",
        "MUHTAR_BUS_AMQP_URL": rabbit_url,
        "PYTHONPATH": str(ROOT),
    }
    process = spawn_workflow(env, tmp_path)
    publisher = RabbitMQBus(rabbit_url)  # declares the same topology, so messages wait for the consumer
    try:
        await publisher.start()

        async def consumed() -> bool:
            assert process.poll() is None, "muhtar workflow exited on its own"
            async with pg_engine.connect() as conn:
                query = select(func.count()).where(processed_messages.c.consumer == "workflow.events")
                return int((await conn.execute(query)).scalar_one()) == 20

        for n in range(20):
            await publisher.publish("events.request.note_added", note_added(n))
        await wait_until(consumed, "20 events handled by the workflow process")
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, WAIT_S)
    finally:
        await publisher.stop()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 0
    assert await ready_messages(rabbit_url, "events") == 0  # everything acked before it exited


def spawn_workflow(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    command = "from workflow.entrypoints.cli import main; raise SystemExit(main())"
    return subprocess.Popen([sys.executable, "-c", command, "workflow"], cwd=cwd, env=env)
