"""TALEP SORGULAMA under load: requests/s and latency of the muhtar's list and request pages, next to a bare
aiohttp handler doing one indexed query, all in the same run against the same PostgreSQL database.

Run: ``.venv/bin/python bench/web_muhtar.py [--muhtars 50000] [--requests 1000000] [--hits 3000]
[--concurrency 16]``

A uniquely named database is created (127.0.0.1:5432, trust auth; MUHTAR_TEST_PG_* overrides as in the tests),
filled with COPY (muhtarlıks, muhtars, requests with their FILED movement), served by a separate process
(``--serve``: the real app on one port, the bare handler on another) and dropped at the end. Sessions are
made the way log-in makes them (a web_sessions row and an encrypted cookie), so every page request pays the
real session, CSRF-token and access-log costs. Target: the list page reaches at least a third of the bare
handler's rate. Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webui.app import COOKIE_NAME, init_app
from webui.crypto import Keys, sha256_hex
from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.registry.testdata import make_muhtars
from workflow.settings import Settings, WebSettings

PG = {
    "host": os.environ.get("MUHTAR_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("MUHTAR_TEST_PG_PORT", "5432")),
    "user": os.environ.get("MUHTAR_TEST_PG_USER", "postgres"),
    "database": os.environ.get("MUHTAR_TEST_PG_DB", "test"),
}
SECRET = "bench-" + "s" * 40
STATES = ("bekleyen",) * 2 + ("yonlendirilen",) * 3 + ("sonuclanan",) * 5
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
SAMPLE_MUHTARS = 300
BATCH = 50_000
BARE_QUERY = text(
    "SELECT number, kind, state, created_at, substr(description, 1, 120) AS excerpt FROM requests "
    "WHERE muhtar_id = :m AND state = 'bekleyen' ORDER BY created_at DESC LIMIT 21"
)


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


# ---------------------------------------------------------------- data
async def fill(name: str, n_muhtars: int, n_requests: int) -> None:
    rng = random.Random(6)
    now = datetime.now(UTC)
    conn = await asyncpg.connect(**{**PG, "database": name})
    try:
        n_places = max(1, n_muhtars // 10)
        await conn.copy_records_to_table(
            "muhtarliks",
            columns=[
                "id",
                "code",
                "kind",
                "name",
                "province_id",
                "district_id",
                "province_name",
                "district_name",
            ],
            records=[
                (i, f"M-{i}", "mahalle", f"Mahalle {i}", 6, 1231, "Ankara", "Çankaya")
                for i in range(1, n_places + 1)
            ],
        )
        codes = [str(i) for i in range(n_muhtars)]
        people = list(make_muhtars(rng, codes, n_muhtars))
        ids = [uuid.uuid4().hex for _ in people]
        await conn.copy_records_to_table(
            "muhtars",
            columns=[
                "id",
                "tckn",
                "full_name",
                "phone_e164",
                "muhtarlik_id",
                "active",
                "created_at",
                "updated_at",
            ],
            records=[
                (ids[i], p.tckn, p.full_name, p.phone_e164, i % n_places + 1, True, now, now)
                for i, p in enumerate(people)
            ],
        )
        for start in range(0, n_requests, BATCH):
            requests, movements = [], []
            for number in range(start + 1000, min(start + BATCH, n_requests) + 1000):
                rid, muhtar = uuid.uuid4().hex, ids[rng.randrange(n_muhtars)]
                created = now - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
                state = rng.choice(STATES)
                words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60)))
                requests.append(
                    (
                        rid,
                        number,
                        muhtar,
                        rng.choice(KINDS),
                        words.capitalize() + ".",
                        "web",
                        "normal",
                        state,
                        state == "bekleyen",
                        created,
                        created,
                        created + timedelta(days=9) if state == "sonuclanan" else None,
                        "[]",
                        0,
                    )
                )
                movements.append((rid, 1, created, "filed", "muhtar", muhtar, "Muhtar", True, False))
            await conn.copy_records_to_table(
                "requests",
                columns=[
                    "id",
                    "number",
                    "muhtar_id",
                    "kind",
                    "description",
                    "channel",
                    "priority",
                    "state",
                    "migm_pending",
                    "created_at",
                    "updated_at",
                    "concluded_at",
                    "public_attachment_ids",
                    "version",
                ],
                records=requests,
            )
            await conn.copy_records_to_table(
                "movements",
                columns=[
                    "request_id",
                    "seq",
                    "at",
                    "action",
                    "actor_kind",
                    "actor_id",
                    "actor_name",
                    "public",
                    "note_public",
                ],
                records=movements,
            )
            print(f"  {start + len(requests):,} requests", file=sys.stderr, flush=True)
        await conn.execute("UPDATE counters SET value = $1 WHERE name = 'request_number'", n_requests + 999)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def sessions_for(name: str) -> list[tuple[str, int]]:
    """Sign in SAMPLE_MUHTARS muhtars that have requests: (cookie value, one of their request numbers)."""
    fernet = Fernet(base64.urlsafe_b64encode(Keys.from_secret(SECRET).cookie))
    conn = await asyncpg.connect(**{**PG, "database": name})
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT ON (muhtar_id) muhtar_id, number FROM requests "
            "WHERE muhtar_id IN (SELECT id FROM muhtars ORDER BY random() LIMIT $1) ORDER BY muhtar_id, number",
            SAMPLE_MUHTARS,
        )
        out, now = [], datetime.now(UTC)
        for row in rows:
            token = secrets.token_urlsafe(32)
            await conn.execute(
                "INSERT INTO web_sessions (token_hash, subject_kind, subject_id, created_at, last_seen_at) "
                "VALUES ($1, 'muhtar', $2, $3, $3)",
                sha256_hex(token),
                row["muhtar_id"],
                now,
            )
            data = {"created": int(time.time()), "session": {"sid": token, "csrf": secrets.token_urlsafe(32)}}
            out.append((fernet.encrypt(json.dumps(data).encode()).decode(), row["number"]))
        return out
    finally:
        await conn.close()


# ---------------------------------------------------------------- server process
async def serve(url: str, port: int, bare_port: int, pre_ping: bool) -> None:
    engine = create_engine(url, pool_size=10)
    if not pre_ping:  # what the pool's liveness check (one extra round trip per checkout) costs
        engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=False)
    settings = Settings(web=WebSettings(secret_key=SECRET, base_url=f"http://127.0.0.1:{port}"))

    async def bare(request: web.Request) -> web.Response:
        async with engine.connect() as conn:
            rows = (await conn.execute(BARE_QUERY, {"m": request.query["m"]})).all()
        return web.json_response(
            [[r.number, r.kind, r.state, r.created_at.isoformat(), r.excerpt] for r in rows]
        )

    bare_app = web.Application()
    bare_app.router.add_get("/bare", bare)
    runners = [
        web.AppRunner(init_app(settings, engine=engine), access_log=None),
        web.AppRunner(bare_app, access_log=None),
    ]
    for runner, p in zip(runners, (port, bare_port), strict=True):
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", p).start()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()
    await engine.dispose()


# ---------------------------------------------------------------- load
async def load(
    hits: int, concurrency: int, make: Callable[[int], Awaitable[int]]
) -> tuple[float, list[float]]:
    """Run ``hits`` requests, ``concurrency`` at a time; return the elapsed seconds and each latency (ms)."""
    latencies: list[float] = []
    counter = iter(range(hits))

    async def worker() -> None:
        for i in counter:
            start = time.perf_counter()
            status = await make(i)
            latencies.append((time.perf_counter() - start) * 1000)
            if status != 200:
                raise SystemExit(f"unexpected HTTP {status}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


async def measure(
    port: int,
    bare_port: int,
    signed_in: list[tuple[str, int]],
    muhtar_ids: list[str],
    hits: int,
    concurrency: int,
    rounds: int,
    server_pid: int,
) -> list[tuple[str, float, float, float, float]]:
    """The targets take turns in ``rounds`` rounds, so a change in machine load hits them alike.

    Besides wall-clock figures, the server process's own CPU time per request is measured: it does not
    depend on what else the machine is doing, so it compares the handlers even on a busy machine.
    """
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def get(url: str, cookie: str | None = None) -> int:
            headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie else {}
            async with http.get(url, headers=headers, allow_redirects=False) as response:
                await response.read()
                return response.status

        def person(i: int) -> tuple[str, int]:
            return signed_in[i % len(signed_in)]

        targets: dict[str, Callable[[int], Awaitable[int]]] = {
            "bare handler, one indexed query": lambda i: get(
                f"http://127.0.0.1:{bare_port}/bare?m={muhtar_ids[i % len(muhtar_ids)]}"
            ),
            "TALEP SORGULAMA list page (Bekleyen)": lambda i: get(
                f"http://127.0.0.1:{port}/talepler?durum=bekleyen", person(i)[0]
            ),
            "request page (detail + access log)": lambda i: get(
                f"http://127.0.0.1:{port}/talepler/{person(i)[1]}", person(i)[0]
            ),
        }
        totals: dict[str, tuple[float, list[float], float]] = {what: (0.0, [], 0.0) for what in targets}
        for make in targets.values():
            await load(min(300, hits), concurrency, make)  # warm-up: pools, caches, session touches
        for _ in range(rounds):
            for what, make in targets.items():
                cpu_before = cpu_seconds(server_pid)
                elapsed, latencies = await load(hits // rounds, concurrency, make)
                cpu = cpu_seconds(server_pid) - cpu_before
                before = totals[what]
                totals[what] = (before[0] + elapsed, before[1] + latencies, before[2] + cpu)
        results = []
        for what, (elapsed, latencies, cpu) in totals.items():
            q = statistics.quantiles(latencies, n=100)
            results.append((what, len(latencies) / elapsed, q[49], q[94], cpu / len(latencies) * 1000))
        return results


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main_async(args: argparse.Namespace) -> None:
    name = f"muhtar_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(**PG)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        engine = create_engine(pg_url(name))
        await migrate(engine)
        await engine.dispose()
        started = time.perf_counter()
        await fill(name, args.muhtars, args.requests)
        print(f"filled in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        signed_in = await sessions_for(name)
        conn = await asyncpg.connect(**{**PG, "database": name})
        muhtar_ids = [
            r["id"]
            for r in await conn.fetch("SELECT id FROM muhtars ORDER BY random() LIMIT $1", SAMPLE_MUHTARS)
        ]
        await conn.close()
        port, bare_port = 18080 + random.randrange(500), 18680 + random.randrange(500)
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve",
            pg_url(name),
            str(port),
            str(bare_port),
            "no-pre-ping" if args.no_pre_ping else "pre-ping",
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert server.stdout is not None
            if (await asyncio.wait_for(server.stdout.readline(), 60)).strip() != b"ready":
                raise SystemExit("server did not start")
            results = await measure(
                port, bare_port, signed_in, muhtar_ids, args.hits, args.concurrency, args.rounds, server.pid
            )
        finally:
            if server.returncode is None:
                server.send_signal(signal.SIGTERM)
            await server.wait()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    print(
        f"\n{args.muhtars:,} muhtars, {args.requests:,} requests, {args.hits} hits each, "
        f"concurrency {args.concurrency}, {args.rounds} interleaved rounds; load average before: "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    print("| what | requests/s | p50 ms | p95 ms | server CPU ms/request |\n| --- | --- | --- | --- | --- |")
    for what, rps, p50, p95, cpu_ms in results:
        print(f"| {what} | {rps:.0f} | {p50:.1f} | {p95:.1f} | {cpu_ms:.2f} |")
    print(
        f"\nlist page / bare handler: {results[1][1] / results[0][1]:.2f} by requests/s, "
        f"{results[0][4] / results[1][4]:.2f} by server CPU per request (target ≥ 0.33)"
    )


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--serve":
        asyncio.run(serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "pre-ping"))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--muhtars", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--hits", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--no-pre-ping",
        action="store_true",
        help="serve with pool_pre_ping off (the project's engine has it on)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
