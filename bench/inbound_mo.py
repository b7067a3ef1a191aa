"""The inbound part of an MO round trip: ``handle_mo`` for ``TALEP n`` (and a USSD query step) on PostgreSQL
with 50,000 muhtars and 100,000 requests — the database lookup, authorization, access log and reply text
that the full ``bench/mo_roundtrip.py`` (SMSC → gateway → RabbitMQ → workflow → SMSC) includes.

Run: ``.venv/bin/python bench/inbound_mo.py [--muhtars 50000] [--requests 100000] [--seconds 5]
[--rates 100,500,1000,1500]``

Open loop: at each rate, MOs from random owners about one of their own requests start on schedule whether
or not earlier ones have finished; latency is measured from the scheduled start, so queueing shows. A
PostgreSQL database with a unique name is created and dropped (MUHTAR_TEST_PG_* overrides as in tests).
Record the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inbound.service import MoMessage, handle_mo
from inbound.ussd import UssdRequest, handle_ussd
from tests.conftest import create_pg_database, drop_pg_database, pg_url
from workflow.adapters import orm
from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.bootstrap import Services, bootstrap
from workflow.settings import InboundSettings, load_settings

CHUNK = 5000


async def load(services: Services, muhtars: int, requests: int) -> list[tuple[str, int]]:
    """Muhtars with phones +90532xxxxxxx and requests spread over them; returns (phone, number) pairs."""
    now = datetime.now(UTC)
    rng = random.Random(7)
    phones = [f"+9053{i:08d}" for i in range(muhtars)]
    ids = [uuid.uuid4().hex for _ in range(muhtars)]
    pairs: list[tuple[str, int]] = []
    async with services.engine.begin() as conn:
        result = await conn.execute(
            insert(orm.muhtarliks).values(
                code="M-1",
                kind="mahalle",
                name="Bench",
                province_id=6,
                district_id=1,
                province_name="Ankara",
                district_name="Çankaya",
            )
        )
        muhtarlik = result.inserted_primary_key[0]
        for start in range(0, muhtars, CHUNK):
            await conn.execute(
                insert(orm.muhtars),
                [
                    {
                        "id": ids[i],
                        "tckn": f"{10_000_000_000 + i}",
                        "full_name": "Bench Muhtar",
                        "phone_e164": phones[i],
                        "muhtarlik_id": muhtarlik,
                        "active": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(start + CHUNK, muhtars))
                ],
            )
        for start in range(0, requests, CHUNK):
            rows, moves = [], []
            for n in range(start, min(start + CHUNK, requests)):
                owner = rng.randrange(muhtars)
                rid, number = uuid.uuid4().hex, 1000 + n
                at = now - timedelta(minutes=requests - n)
                rows.append(
                    {
                        "id": rid,
                        "number": number,
                        "muhtar_id": ids[owner],
                        "kind": "istek",
                        "description": "Bench talebi, yeterince uzun bir açıklama.",
                        "channel": "web",
                        "priority": "normal",
                        "state": "bekleyen",
                        "migm_pending": True,
                        "created_at": at,
                        "updated_at": at,
                        "public_attachment_ids": "[]",
                        "version": 1,
                    }
                )
                moves.append(
                    {
                        "request_id": rid,
                        "seq": 1,
                        "at": at,
                        "action": "filed",
                        "actor_kind": "muhtar",
                        "actor_id": ids[owner],
                        "actor_name": "Bench Muhtar",
                        "public": True,
                        "note_public": False,
                    }
                )
                pairs.append((phones[owner], number))
            await conn.execute(insert(orm.requests), rows)
            await conn.execute(insert(orm.movements), moves)
        await conn.execute(
            text("UPDATE counters SET value = :v WHERE name = 'request_number'"), {"v": 1000 + requests}
        )
    async with services.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
    return pairs


async def open_loop(rate: int, seconds: float, job) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    total = int(rate * seconds)
    latencies: list[float] = []
    tasks = []
    t0 = time.perf_counter()

    async def run(i: int, scheduled: float) -> None:
        await job(i)
        latencies.append(time.perf_counter() - scheduled)

    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(run(i, scheduled)))
    await asyncio.gather(*tasks)
    return total / (time.perf_counter() - t0), latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


async def main(args: argparse.Namespace) -> None:
    name = await create_pg_database()
    engine = create_engine(pg_url(name), pool_size=args.pool)
    try:
        await migrate(engine)
        base = load_settings(env={}, var_dir=Path(tempfile.mkdtemp()))
        settings = replace(base, inbound=InboundSettings(commands_per_hour=10_000))
        services = bootstrap(settings, engine=engine)
        t = time.perf_counter()
        pairs = await load(services, args.muhtars, args.requests)
        print(f"loaded {args.muhtars} muhtars, {args.requests} requests in {time.perf_counter() - t:.1f} s")
        rng = random.Random(11)

        async def sms(i: int) -> None:
            phone, number = rng.choice(pairs)
            reply = await handle_mo(
                services, MoMessage(f"bench-{i}-{uuid.uuid4().hex}", phone, f"TALEP {number}")
            )
            assert reply is not None and reply.startswith(f"Talep {number}:"), reply

        async def ussd(i: int) -> None:
            phone, number = rng.choice(pairs)
            reply = await handle_ussd(
                services, UssdRequest(f"b{i}-{uuid.uuid4().hex}", "*4444#", phone, f"1*{number}")
            )
            assert reply.end and reply.text.startswith(f"Talep {number}:"), reply

        for label, job in (("handle_mo TALEP n", sms), ("USSD query step", ussd)):
            for rate in args.rates:
                achieved, lat = await open_loop(rate, args.seconds, job)
                print(
                    f"{label:18} offered {rate:5d}/s achieved {achieved:7.1f}/s  p50 {pct(lat, 0.5):7.1f} ms"
                    f"  p95 {pct(lat, 0.95):7.1f} ms  p99 {pct(lat, 0.99):7.1f} ms  mean {statistics.mean(lat) * 1000:7.1f} ms"
                )
    finally:
        await engine.dispose()
        await drop_pg_database(name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--muhtars", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--pool", type=int, default=20)
    parser.add_argument(
        "--rates", type=lambda s: [int(x) for x in s.split(",")], default=[100, 500, 1000, 1500]
    )
    asyncio.run(main(parser.parse_args()))
