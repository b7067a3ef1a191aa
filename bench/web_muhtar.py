"""TALEP SORGULAMA under load: requests/s and latency of the muhtar's list and request pages, next to a bare
aiohttp handler doing one indexed query, all in the same run against the same PostgreSQL database.

Run: ``.venv/bin/python bench/web_muhtar.py [--muhtars 50000] [--requests 1000000] [--hits 3000]
[--concurrency 16]``

A uniquely named database is created (127.0.0.1:5432, trust auth; MUHTAR_TEST_PG_* overrides as in the tests),
filled with COPY (muhtarlıks, muhtars, requests with their FILED movement), served by a separate process
(bench/common_web.py: the real app on one port, the bare handler on another) and dropped at the end. Sessions are
made the way log-in makes them (a web_sessions row and an encrypted cookie), so every page request pays the
real session, CSRF-token and access-log costs. Target: the list page reaches at least a third of the bare
handler's rate. Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common_data import (
    MOVEMENT_COLUMNS,
    MUHTAR_COLUMNS,
    MUHTARLIK_COLUMNS,
    REQUEST_COLUMNS,
    cookie_fernet,
    filed_movement,
    request_record,
    signed_in,
)
from bench.common_web import (
    PG,
    TABLE_HEAD,
    Sample,
    Target,
    closed_loop,
    page_getter,
    pg_url,
    start_servers,
    stop_servers,
    table_row,
)
from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.registry.testdata import make_muhtars

STATES = ("bekleyen",) * 2 + ("yonlendirilen",) * 3 + ("sonuclanan",) * 5
SAMPLE_MUHTARS = 300
BATCH = 50_000


# ---------------------------------------------------------------- data
async def fill(name: str, n_muhtars: int, n_requests: int) -> None:
    rng = random.Random(6)
    now = datetime.now(UTC)
    conn = await asyncpg.connect(**{**PG, "database": name})
    try:
        n_places = max(1, n_muhtars // 10)
        await conn.copy_records_to_table(
            "muhtarliks",
            columns=MUHTARLIK_COLUMNS,
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
            columns=MUHTAR_COLUMNS,
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
                requests.append(
                    request_record(rng, rid, number, muhtar, created, state, migm_pending=state == "bekleyen")
                )
                movements.append(filed_movement(rid, muhtar, created))
            await conn.copy_records_to_table("requests", columns=REQUEST_COLUMNS, records=requests)
            await conn.copy_records_to_table("movements", columns=MOVEMENT_COLUMNS, records=movements)
            print(f"  {start + len(requests):,} requests", file=sys.stderr, flush=True)
        await conn.execute("UPDATE counters SET value = $1 WHERE name = 'request_number'", n_requests + 999)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def sessions_for(name: str) -> list[tuple[str, int]]:
    """Sign in SAMPLE_MUHTARS muhtars that have requests: (cookie value, one of their request numbers)."""
    fernet = cookie_fernet()
    conn = await asyncpg.connect(**{**PG, "database": name})
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT ON (muhtar_id) muhtar_id, number FROM requests "
            "WHERE muhtar_id IN (SELECT id FROM muhtars ORDER BY random() LIMIT $1) ORDER BY muhtar_id, number",
            SAMPLE_MUHTARS,
        )
        out = [(await signed_in(conn, fernet, "muhtar", row["muhtar_id"]), row["number"]) for row in rows]
        return out
    finally:
        await conn.close()


# ---------------------------------------------------------------- load
async def measure(
    port: int,
    bare_port: int,
    signed_in: list[tuple[str, int]],
    muhtar_ids: list[str],
    hits: int,
    concurrency: int,
    rounds: int,
    pids: list[int],
) -> dict[str, Sample]:
    """The targets take turns in ``rounds`` rounds, so a change in machine load hits them alike.

    Besides wall-clock figures, the server process's own CPU time per request is measured: it does not
    depend on what else the machine is doing, so it compares the handlers even on a busy machine.
    """
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        get = page_getter(http)

        def person(i: int) -> tuple[str, int]:
            return signed_in[i % len(signed_in)]

        targets: dict[str, Target] = {
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
        totals = {what: Sample() for what in targets}
        for make in targets.values():
            await closed_loop(min(300, hits), concurrency, make, pids)  # warm-up: pools, caches, sessions
        for _ in range(rounds):
            for what, make in targets.items():
                totals[what].add(await closed_loop(hits // rounds, concurrency, make, pids))
        return totals


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
        servers = await start_servers(pg_url(name), port, bare_port, pre_ping=not args.no_pre_ping)
        try:
            results = await measure(
                port,
                bare_port,
                signed_in,
                muhtar_ids,
                args.hits,
                args.concurrency,
                args.rounds,
                [s.pid for s in servers],
            )
        finally:
            await stop_servers(servers)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    print(
        f"\n{args.muhtars:,} muhtars, {args.requests:,} requests, {args.hits} hits each, "
        f"concurrency {args.concurrency}, {args.rounds} interleaved rounds; load average before: "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    print(TABLE_HEAD)
    for what, sample in results.items():
        print(table_row(what, f"closed loop, {args.concurrency} users", sample))
    bare, listing = (
        results["bare handler, one indexed query"].row(),
        results["TALEP SORGULAMA list page (Bekleyen)"].row(),
    )
    print(
        f"\nlist page / bare handler: {listing[0] / bare[0]:.2f} by requests/s, "
        f"{bare[5] / listing[5]:.2f} by server CPU per request (target ≥ 0.33)"
    )


def main() -> None:
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
