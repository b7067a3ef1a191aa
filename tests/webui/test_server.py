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


async def test_web_workers_share_the_port(settings: Settings, engine: AsyncEngine) -> None:
    """`muhtar web` with web.workers = 2: two processes answer on one port and stop with the parent."""
    import asyncio

    from workflow.entrypoints import run

    port = free_port()
    settings = dataclasses.replace(
        settings,
        web=dataclasses.replace(settings.web, port=port, workers=2),
        database=dataclasses.replace(settings.database, url=engine.url.render_as_string(hide_password=False)),
    )
    assert run.web_workers(settings) == 2
    assert (
        run.web_workers(dataclasses.replace(settings, web=dataclasses.replace(settings.web, workers=0))) >= 1
    )
    stopping = asyncio.Event()
    supervisor = asyncio.create_task(run._supervise_web(settings, 2, stopping))
    try:
        listeners: set[int] = set()
        async with aiohttp.ClientSession() as http:
            for _ in range(600):  # the workers import the app first: wait for both, without a time limit test
                listeners = await asyncio.to_thread(_listening_pids, port)
                if len(listeners) == 2:
                    break
                await asyncio.sleep(0.1)
            assert len(listeners) == 2
            for _ in range(4):
                async with http.get(f"http://127.0.0.1:{port}/") as response:
                    assert response.status == 200
    finally:
        stopping.set()
        assert await supervisor == 0


def _listening_pids(port: int) -> set[int]:
    """Processes with a listening socket on ``port`` (Linux /proc)."""
    from pathlib import Path

    hexport = f"{port:04X}"
    inodes = {
        line.split()[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[1].endswith(":" + hexport) and line.split()[3] == "0A"
    }
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = str(fd.readlink())
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.add(int(proc.name))
        except OSError:
            continue
    return pids
