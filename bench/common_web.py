"""What the web benchmarks (bench/web_muhtar.py, bench/web_staff.py) share: the database they create, the
server process they measure, and the two load models.

Server process: ``python bench/common_web.py --serve URL PORT BARE_PORT pre-ping|no-pre-ping [reuse-port]``
serves the real app on PORT and a bare aiohttp handler (one indexed query) on BARE_PORT, prints "ready" and
runs until SIGTERM. With ``reuse-port`` several such processes share the ports (as ``web.workers`` does).

Load models, each per target and recording, for every request, the client's time (from sending the request
to the last byte read) and the server's own time (its ``Server-Timing: app;dur=…`` header: from the outermost
middleware to the response being prepared, so without the wait in the socket backlog):

- ``closed_loop``: ``concurrency`` users, each sending its next request as soon as the last one is answered
  (no think time). This saturates the server: it measures capacity, and its p95 is mostly queueing.
- ``think_time``: ``users`` users, each loading a page, then thinking a random 1–3 s (uniform), then the
  next page; they start spread over the first think interval. Offered load ≈ users / (2 s + response
  time): with 50 users about 25 pages/s, what 50 clerks clicking through an inbox produce.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webui.app import COOKIE_NAME, init_app
from workflow.adapters.db import create_engine
from workflow.settings import Settings, WebSettings

PG = {
    "host": os.environ.get("MUHTAR_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("MUHTAR_TEST_PG_PORT", "5432")),
    "user": os.environ.get("MUHTAR_TEST_PG_USER", "postgres"),
    "database": os.environ.get("MUHTAR_TEST_PG_DB", "test"),
}
SECRET = "bench-" + "s" * 40
KINDS = ("sikayet", "istek", "ihbar", "gorus_oneri")
WORDS = (
    "mahallemizde",
    "yol",
    "su",
    "kanalizasyon",
    "park",
    "aydınlatma",
    "okul",
    "çöp",
    "kaldırım",
    "köprü",
    "sağlık",
    "ocağı",
    "otobüs",
    "durağı",
    "tehlikeli",
    "acil",
    "yapılmasını",
    "rica",
    "ederiz",
)
BARE_QUERY = text(
    "SELECT number, kind, state, created_at, substr(description, 1, 120) AS excerpt FROM requests "
    "WHERE muhtar_id = :m AND state = 'bekleyen' ORDER BY created_at DESC LIMIT 21"
)
THINK_S = (1.0, 3.0)

# A target: request number i -> (HTTP status, server time in ms or None without the header).
Target = Callable[[int], Awaitable[tuple[int, float | None]]]
PageGet = Callable[[str, "str | None"], Awaitable[tuple[int, float | None]]]


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_ms(header: str | None) -> float | None:
    """``app;dur=12.34`` -> 12.34."""
    if not header or "dur=" not in header:
        return None
    return float(header.split("dur=", 1)[1].split(";", 1)[0].split(",", 1)[0])


def page_getter(http: aiohttp.ClientSession) -> PageGet:
    """GET a page (with the session cookie, if any) and read it whole: (status, Server-Timing ms)."""

    async def get(url: str, cookie: str | None = None) -> tuple[int, float | None]:
        headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie else {}
        async with http.get(url, headers=headers, allow_redirects=False) as response:
            await response.read()
            return response.status, server_ms(response.headers.get("Server-Timing"))

    return get


# ---------------------------------------------------------------- server process
async def serve(url: str, port: int, bare_port: int, pre_ping: bool, reuse_port: bool) -> None:
    engine = create_engine(url, pool_size=10)
    if not pre_ping:  # what the pool's liveness check (one extra round trip per checkout) costs
        engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=False)
    settings = Settings(
        mode="production", web=WebSettings(secret_key=SECRET, base_url=f"http://127.0.0.1:{port}")
    )

    async def bare(request: web.Request) -> web.Response:
        started = time.perf_counter()
        async with engine.connect() as conn:
            rows = (await conn.execute(BARE_QUERY, {"m": request.query["m"]})).all()
        response = web.json_response(
            [[r.number, r.kind, r.state, r.created_at.isoformat(), r.excerpt] for r in rows]
        )
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response

    bare_app = web.Application()
    bare_app.router.add_get("/bare", bare)
    runners = [
        web.AppRunner(init_app(settings, engine=engine), access_log=None),
        web.AppRunner(bare_app, access_log=None),
    ]
    for runner, p in zip(runners, (port, bare_port), strict=True):
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", p, reuse_port=reuse_port or None).start()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()
    await engine.dispose()


async def start_servers(
    url: str, port: int, bare_port: int, *, processes: int = 1, pre_ping: bool = True
) -> list[asyncio.subprocess.Process]:
    servers = []
    for _ in range(processes):
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve",
            url,
            str(port),
            str(bare_port),
            "pre-ping" if pre_ping else "no-pre-ping",
            "reuse-port" if processes > 1 else "single",
            stdout=asyncio.subprocess.PIPE,
        )
        servers.append(server)
        assert server.stdout is not None
        if (await asyncio.wait_for(server.stdout.readline(), 120)).strip() != b"ready":
            raise SystemExit("server did not start")
    return servers


async def stop_servers(servers: list[asyncio.subprocess.Process]) -> None:
    for server in servers:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
    for server in servers:
        await server.wait()


# ---------------------------------------------------------------- load
@dataclass
class Sample:
    """One target's figures, accumulated over rounds."""

    elapsed: float = 0.0
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    cpu: float = 0.0

    def add(self, other: Sample) -> None:
        self.elapsed += other.elapsed
        self.client_ms += other.client_ms
        self.server_ms += other.server_ms
        self.cpu += other.cpu

    def row(self) -> tuple[float, float, float, float, float, float]:
        """requests/s, client p50, client p95, server p50, server p95, server CPU ms per request."""
        c = statistics.quantiles(self.client_ms, n=100)
        s = statistics.quantiles(self.server_ms, n=100) if len(self.server_ms) > 1 else [float("nan")] * 99
        n = len(self.client_ms)
        return n / self.elapsed, c[49], c[94], s[49], s[94], self.cpu / n * 1000


async def _timed(make: Target, i: int, into: Sample) -> None:
    start = time.perf_counter()
    status, server = await make(i)
    into.client_ms.append((time.perf_counter() - start) * 1000)
    if server is not None:
        into.server_ms.append(server)
    if status != 200:
        raise SystemExit(f"unexpected HTTP {status}")


async def closed_loop(hits: int, concurrency: int, make: Target, pids: list[int]) -> Sample:
    """``hits`` requests from ``concurrency`` users with no think time."""
    sample = Sample()
    counter = iter(range(hits))

    async def user() -> None:
        for i in counter:
            await _timed(make, i, sample)

    cpu = sum(cpu_seconds(p) for p in pids)
    start = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    sample.elapsed = time.perf_counter() - start
    sample.cpu = sum(cpu_seconds(p) for p in pids) - cpu
    return sample


async def think_time(seconds: float, users: int, make: Target, pids: list[int], seed: int = 1) -> Sample:
    """``users`` users for ``seconds``: page, think U(1, 3) s, page, … (see the module text)."""
    sample, rng = Sample(), random.Random(seed)
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds

    async def user() -> None:
        await asyncio.sleep(rng.uniform(0, THINK_S[1]))
        while time.perf_counter() < deadline:
            await _timed(make, next(counter), sample)
            await asyncio.sleep(rng.uniform(*THINK_S))

    cpu = sum(cpu_seconds(p) for p in pids)
    start = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(users)))
    sample.elapsed = time.perf_counter() - start
    sample.cpu = sum(cpu_seconds(p) for p in pids) - cpu
    return sample


TABLE_HEAD = (
    "| what | model | requests/s | client p50 ms | client p95 ms | server p50 ms | server p95 ms "
    "| server CPU ms/request |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def table_row(what: str, model: str, sample: Sample) -> str:
    rps, c50, c95, s50, s95, cpu = sample.row()
    return f"| {what} | {model} | {rps:.0f} | {c50:.1f} | {c95:.1f} | {s50:.1f} | {s95:.1f} | {cpu:.2f} |"


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "--serve":
        _, _, url, port, bare_port, ping, reuse = sys.argv
        asyncio.run(serve(url, int(port), int(bare_port), ping == "pre-ping", reuse == "reuse-port"))
        return
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
