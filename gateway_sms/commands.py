"""``muhtar gateway``: the SMPP gateway as its own process (production: one per SMPP account or bind)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from gateway_sms.service import start_gateway, start_simulator
from workflow.adapters.db import create_engine
from workflow.messaging.deadletters import SqlDeadLetterStore
from workflow.messaging.factory import create_bus, start_with_retry
from workflow.settings import Settings

logger = logging.getLogger(__name__)


async def run(settings: Settings, _args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT; then stop consuming, drain the window (bounded), unbind, exit 0."""
    if settings.bus.kind == "inprocess":
        logger.warning(
            "bus.kind is inprocess: this gateway only sees its own process; use `muhtar run` or RabbitMQ"
        )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    # The database only keeps undecodable PDUs (dead letters, with their raw bytes and the reason).
    engine = create_engine(settings.database.url, echo=settings.database.echo, pool_size=2)
    bus = create_bus(settings.bus, engine, dead_letter_sink=False)
    simulator = None
    try:
        if not await start_with_retry(bus, settings.bus.reconnect_s, stopping):
            return 0
        if settings.smpp.simulator:
            simulator = await start_simulator(settings)
        gateway = await start_gateway(settings, bus, dead_letters=SqlDeadLetterStore(engine))
        logger.info("gateway started towards %s:%d", settings.smpp.host, settings.smpp.port)
        await stopping.wait()
        logger.info("gateway: stopping, draining the window")
        await gateway.stop()
        await bus.stop()
    finally:
        if simulator is not None:
            await simulator.stop()
        await engine.dispose()
    return 0
