"""A gateway process killed in the middle of a burst (RabbitMQ real, the simulator over TCP): the broker
redelivers what was unacked, so every SMS is submitted at least once, and no more than W of them twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from gateway_sms.service import Gateway
from gateway_sms.simulator import Simulator
from tests.gateway.conftest import MemoryDeadLetters, fast_config
from workflow.messaging.envelope import Envelope
from workflow.messaging.rabbitmq import RabbitMQBus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
ROOT = Path(__file__).resolve().parents[2]
PHONE = "+905321234567"
WINDOW = 10
COUNT = 600


async def test_a_killed_gateway_loses_nothing_and_duplicates_at_most_w(
    rabbit_url: str, sim: Simulator, tmp_path: Path
) -> None:
    bus = RabbitMQBus(rabbit_url, dead_letters=MemoryDeadLetters())
    await bus.start()
    try:
        texts = [f"kopya sınaması {n}" for n in range(COUNT)]
        for n, text in enumerate(texts):
            payload = {"sms_id": f"crash-{n}", "to": PHONE, "text": text}
            await bus.publish("sms.outbound", Envelope.new("sms.outbound", payload))
        ready = tmp_path / "ready"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.gateway.gateway_proc",
            rabbit_url,
            str(sim.port),
            str(WINDOW),
            "0.05",
            str(ready),
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            await sim.wait_until(lambda: len(sim.messages) >= COUNT // 4, 60)  # mid-burst
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert ready.exists(), "the gateway process did not start"
        killed_at = len(sim.messages)
        assert killed_at < COUNT, "the burst ended before the kill"

        # A new gateway takes over; the broker has put the dead one's unacked messages back in the queue.
        gateway = Gateway(fast_config(sim.port, window=WINDOW), bus)
        await gateway.start()
        try:
            await sim.wait_until(lambda: set(texts) <= {m.text for m in sim.messages}, 60)
        finally:
            await gateway.stop()
    finally:
        await bus.stop()
    seen = Counter(m.text for m in sim.messages)
    assert set(seen) == set(texts)  # every SMS submitted at least once
    duplicates = sum(n - 1 for n in seen.values())
    assert duplicates <= WINDOW, f"{duplicates} SMS sent twice (killed after {killed_at})"
