"""A gateway process for the crash test: ``python -m tests.gateway.gateway_proc AMQP_URL SMSC_PORT WINDOW
STATUS_DELAY_S READY_MARKER [PREFETCH]``.

It runs the real ``Gateway`` (RabbitMQ bus, connector over TCP to the test's simulator) until it is killed.
``STATUS_DELAY_S`` holds every ``sms.status`` publish that long before it goes to the broker, like a slow
publisher confirm: SMS the SMSC has accepted then wait, unacked, for their status — the state a crash
catches most of them in. ``PREFETCH`` overrides the gateway's own ``sms.outbound`` prefetch.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway_sms.service import Gateway
from tests.gateway.conftest import fast_config
from tests.messaging.conftest import MemoryDeadLetters
from workflow.messaging.envelope import Envelope
from workflow.messaging.rabbitmq import RabbitMQBus


async def main(amqp_url: str, port: int, window: int, delay_s: float, ready: Path, prefetch: int) -> None:
    bus = RabbitMQBus(amqp_url, dead_letters=MemoryDeadLetters())
    await bus.start()
    publish = bus.publish

    async def slow_status(topic: str, envelope: Envelope) -> None:
        if topic == "sms.status":
            await asyncio.sleep(delay_s)
        await publish(topic, envelope)

    bus.publish = slow_status  # type: ignore[method-assign]
    gateway = Gateway(fast_config(port, window=window), bus)
    await gateway.start(prefetch=prefetch or None)
    await gateway.connector.wait_bound(10)
    await asyncio.to_thread(ready.touch)
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, port, window, delay, ready = sys.argv[1:6]
    extra = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    asyncio.run(main(url, int(port), int(window), float(delay), Path(ready), extra))
