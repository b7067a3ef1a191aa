"""start_web: the app served on settings.web.host:port over real TCP, and stopped cleanly."""

from __future__ import annotations

import dataclasses
import socket

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from webui.server import start_web
from workflow.settings import Settings

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_start_and_stop(settings: Settings, engine: AsyncEngine) -> None:
    port = free_port()
    settings = dataclasses.replace(settings, web=dataclasses.replace(settings.web, port=port))
    server = await start_web(settings, engine)
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/") as response:
            assert response.status == 200 and "Muhtar Bilgi Sistemi" in await response.text()
        assert any(str(port) in address for address in server.addresses)
    finally:
        await server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/"):
            pass
