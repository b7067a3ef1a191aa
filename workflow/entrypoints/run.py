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
import os
import pickle
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


def web_workers(settings: Settings) -> int:
    """How many processes `muhtar web` serves with (``web.workers``; 0 = one per CPU core)."""
    return settings.web.workers or os.cpu_count() or 1


async def run_web(settings: Settings, _args: argparse.Namespace) -> int:
    """`muhtar web`: the web server alone; the outbox rows it commits are published by `muhtar workflow`.

    With ``web.workers`` above one this process starts that many copies of itself, each with its own event
    loop and database pool, all listening on the same port (SO_REUSEPORT: the kernel spreads connections),
    and stops them all on SIGTERM/SIGINT; if one dies, the rest are stopped too and the exit code says so,
    so the service manager restarts the whole set.
    """
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stopping.set)
    count = web_workers(settings)
    if count == 1:
        return await _serve_web(settings, stopping, reuse_port=False)
    return await _supervise_web(settings, count, stopping)


async def _serve_web(settings: Settings, stopping: asyncio.Event, *, reuse_port: bool) -> int:
    from webui.server import start_web

    engine = create_engine(
        settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    try:
        services = bootstrap(settings, engine=engine)
        web = await start_web(settings, engine, services.commands, reuse_port=reuse_port)
        print(f"web: {settings.web.base_url} (process {os.getpid()})", file=sys.stderr, flush=True)
        await stopping.wait()
        await web.stop()
    finally:
        await engine.dispose()
    return 0


# A worker reads the parent's settings (already loaded and checked) from its stdin: no second parse that
# could differ, and the secret key never appears on a command line or in the environment.
_WORKER_CODE = "import sys; from workflow.entrypoints.run import web_worker; sys.exit(web_worker())"


def web_worker() -> int:
    """Entry of one `muhtar web` worker process (started by ``_supervise_web``)."""
    from workflow.entrypoints.cli import configure_logging

    settings = pickle.loads(sys.stdin.buffer.read())  # our own parent's pipe
    if not isinstance(settings, Settings):
        return 2
    configure_logging(settings.logging.level)

    async def main() -> int:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stopping.set)
        loop.add_signal_handler(signal.SIGINT, lambda: None)  # Ctrl+C reaches the group: the parent decides
        return await _serve_web(settings, stopping, reuse_port=True)

    return asyncio.run(main())


async def _supervise_web(settings: Settings, count: int, stopping: asyncio.Event) -> int:
    payload = pickle.dumps(settings)
    children: list[asyncio.subprocess.Process] = []
    failed = True
    try:
        for _ in range(count):
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _WORKER_CODE, stdin=asyncio.subprocess.PIPE
            )
            assert child.stdin is not None
            child.stdin.write(payload)
            child.stdin.close()
            children.append(child)
        logger.info("web: %d worker processes on port %d", count, settings.web.port)
        stop_task = asyncio.ensure_future(stopping.wait())
        exits = [asyncio.ensure_future(child.wait()) for child in children]
        await asyncio.wait([stop_task, *exits], return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        failed = not stopping.is_set()
        if failed:
            logger.error("web: a worker process exited; stopping the others")
    finally:
        for child in children:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
        codes = [await child.wait() for child in children]
    return 1 if failed or any(codes) else 0
