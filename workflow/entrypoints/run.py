"""`muhtar run`: the whole system in one process — the embedded default behind `make run`.

Order matters: the schema first, then demo data (first start only), the bus, the consumers and relay that
drain it, the SMSC side, and the web last so nobody can act before the rest listens. Shutdown runs in
reverse: the web stops taking work, the gateway drains its window, the bus drains in-flight messages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.service import start_gateway, start_simulator
from gateway_sms.simulator import Simulator
from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.bootstrap import bootstrap
from workflow.entrypoints.demo_seed import demo_logins, seed
from workflow.entrypoints.workflow_service import COMPANIONS, start_workflow_service
from workflow.messaging.bus import Bus
from workflow.messaging.deadletters import SqlDeadLetterStore
from workflow.messaging.factory import create_bus, start_with_retry
from workflow.messaging.relay import notify_new_outbox
from workflow.settings import Settings

logger = logging.getLogger(__name__)

Stop = Callable[[], Awaitable[None]]


def _banner(settings: Settings, seeded: bool) -> str:
    lines = [
        "",
        "Muhtar Bilgi Sistemi is running.",
        f"  web:       {settings.web.base_url}",
        f"  SMS:       {'SMSC simulator, its phone page at ' + settings.web.base_url + '/personel/simulator' if settings.smpp.simulator else 'SMSC ' + settings.smpp.host}",
        f"  database:  {'SQLite ' + str(settings.database.sqlite_file) if settings.database.sqlite_file else 'PostgreSQL'}",
        f"  bus:       {'in-process (one machine; production uses RabbitMQ)' if settings.bus.kind == 'inprocess' else 'RabbitMQ'}",
    ]
    if settings.mode == "embedded":
        lines.append("Demo log-ins" + (" (just created):" if seeded else ":"))
        lines += demo_logins()
    lines.append("Stop with Ctrl+C.")
    return "\n".join(lines)


async def _start_sms_side(
    settings: Settings, engine: AsyncEngine, bus: Bus, stops: list[Stop]
) -> Simulator | None:
    """The SMSC simulator (embedded default) and the SMPP gateway talking to it over real TCP."""
    simulator = None
    if settings.smpp.simulator:
        simulator = await start_simulator(settings)
        stops.append(simulator.stop)
    gateway = await start_gateway(settings, bus, dead_letters=SqlDeadLetterStore(engine))
    stops.append(gateway.stop)
    return simulator


async def run_system(settings: Settings, stopping: asyncio.Event) -> int:
    engine: AsyncEngine = create_engine(
        settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    stops: list[Stop] = []
    try:
        await migrate(engine)
        seeded = await seed(settings, engine) if settings.mode == "embedded" else False
        bus = create_bus(settings.bus, engine)
        if not await start_with_retry(bus, settings.bus.reconnect_s, stopping):
            return 0
        stops.append(bus.stop)
        workflow = await start_workflow_service(settings, engine, bus)
        stops.append(workflow.stop)
        for start_companion in COMPANIONS:  # e-mail delivery
            companion = await start_companion(settings, engine, bus)
            stops.append(companion.stop)
        simulator = await _start_sms_side(settings, engine, bus, stops)
        from webui.server import start_web

        services = bootstrap(settings, engine=engine, after_commit=notify_new_outbox)
        web = await start_web(settings, engine, services.commands, simulator=simulator)
        stops.append(web.stop)
        print(_banner(settings, seeded), file=sys.stderr, flush=True)
        await stopping.wait()
        logger.info("stopping")
    finally:
        for stop in reversed(stops):
            try:
                await stop()
            except Exception as exc:  # keep stopping the rest
                logger.error("error while stopping: %s", exc.__class__.__name__)
        await engine.dispose()
    return 0


async def run(settings: Settings, _args: argparse.Namespace) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stopping.set)
    return await run_system(settings, stopping)


async def run_web(settings: Settings, _args: argparse.Namespace) -> int:
    """`muhtar web`: the web server alone; the outbox rows it commits are published by `muhtar workflow`."""
    from webui.server import start_web

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stopping.set)
    engine = create_engine(
        settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    try:
        services = bootstrap(settings, engine=engine)
        web = await start_web(settings, engine, services.commands)
        print(f"web: {settings.web.base_url}", file=sys.stderr, flush=True)
        await stopping.wait()
        await web.stop()
    finally:
        await engine.dispose()
    return 0
