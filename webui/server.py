"""Serving the web app inside ``muhtar run`` (or alone): an AppRunner with one TCP site.

In production a reverse proxy (nginx, HAProxy) usually sits in front: it terminates TLS, may serve
``/static/`` itself from ``webui/static`` (file names are versioned by content through ``?v=``, so
``Cache-Control: public, max-age=31536000, immutable`` is safe there too) and must pass the client address
on; see docs/webui.md.
"""

from __future__ import annotations

import logging
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.simulator import Simulator
from webui.app import init_app
from workflow.service_layer.messagebus import MessageBus
from workflow.settings import Settings

logger = logging.getLogger(__name__)


class Stoppable(Protocol):
    async def stop(self) -> None: ...


class WebServer:
    def __init__(self, runner: web.AppRunner) -> None:
        self._runner = runner

    @property
    def addresses(self) -> list[str]:
        return [str(a) for a in self._runner.addresses]

    async def stop(self) -> None:
        await self._runner.cleanup()
        logger.info("web server stopped")


async def start_web(
    settings: Settings,
    engine: AsyncEngine,
    bus: MessageBus | None = None,
    *,
    simulator: Simulator | None = None,
    reuse_port: bool = False,
) -> WebServer:
    """Start serving on settings.web.host:port; ``engine``, ``bus`` and ``simulator`` stay the caller's.

    With ``simulator`` (the embedded default's SMSC simulator) staff also get its page, /personel/simulator.
    ``reuse_port``: several processes listen on the same port and the kernel spreads connections over them.
    """
    app = init_app(settings, engine=engine, bus=bus, simulator=simulator)
    runner = web.AppRunner(app, access_log=None)  # access lines would carry request numbers and addresses
    await runner.setup()
    site = web.TCPSite(runner, settings.web.host, settings.web.port, reuse_port=reuse_port or None)
    await site.start()
    server = WebServer(runner)
    logger.info("web server listening on %s", ", ".join(server.addresses))
    return server
