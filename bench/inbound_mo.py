"""The inbound part of an MO round trip: ``handle_mo`` for ``TALEP n`` (and a USSD query step) on PostgreSQL
with 50,000 muhtars and 100,000 requests — the database lookup, authorization, access log and reply text
that the full ``bench/mo_roundtrip.py`` (SMSC → gateway → RabbitMQ → workflow → SMSC) includes.

Run: ``.venv/bin/python bench/inbound_mo.py [--muhtars 50000] [--requests 100000] [--seconds 5]
[--rates 100,500,1000,1500]``

``--consumer``: instead, the CPU of the workflow service's ``sms.inbound`` handler alone (the batch
transaction of ``Consumers.on_sms_inbound`` with its direct reply publishing, on an in-process bus), in
batches of 1 MO (what low rates give) and of 20 (under load), after 100,000 earlier MOs are loaded as in
``bench/mo_roundtrip.py``: wall time per batch, CPU per MO of this process and of the database's backends.

Open loop: at each rate, MOs from random owners about one of their own requests start on schedule whether
or not earlier ones have finished; latency is measured from the scheduled start, so queueing shows. A
PostgreSQL database with a unique name is created and dropped (MUHTAR_TEST_PG_* overrides as in tests).
Record the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
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


def _cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def consumer_cpu(services: Services, pairs: list[tuple[str, int]], batches: int) -> None:
    """The ``--consumer`` figures (see the module docstring)."""
    from mo_roundtrip import load_history  # the same earlier MOs as the round trip

    from tests.messaging.conftest import MemoryDeadLetters
    from workflow.entrypoints.workflow_service import Consumers
    from workflow.messaging.envelope import Envelope
    from workflow.messaging.inprocess import InProcessBus
    from workflow.messaging.relay import DirectPublisher

    engine = services.engine
    await load_history(engine, 100_000)
    async with engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM ANALYZE"))
    random.Random(3).shuffle(pairs)
    bus = InProcessBus(MemoryDeadLetters())
    await bus.start()

    async def gateway(_envelope: Envelope) -> None:
        pass

    await bus.consume("sms.outbound", gateway)
    direct = DirectPublisher(engine, bus)
    consumers = Consumers(services.settings, engine, services, direct)

    def mo(phone: str, number: int) -> Envelope:
        payload = {
            "mo_id": uuid.uuid4().hex,
            "from": phone,
            "to": "4444",
            "text": f"TALEP {number}",
            "data_coding": 0,
            "received_at": datetime.now(UTC).isoformat(),
        }
        return Envelope.new("sms.inbound", payload, message_id=payload["mo_id"])

    try:
        for size in (1, 20):
            for _ in range(20):  # warm-up: connections, prepared statements
                await consumers.on_sms_inbound([mo(*pairs.pop()) for _ in range(size)])
            async with engine.connect() as conn:
                query = text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_type = 'client backend'"
                )
                pids = [int(pid) for pid in (await conn.execute(query)).scalars()]
            work = [[mo(*pairs.pop()) for _ in range(size)] for _ in range(batches // size)]
            usage, backends, t = resource.getrusage(resource.RUSAGE_SELF), _cpu_s(pids), time.perf_counter()
            for batch in work:
                await consumers.on_sms_inbound(batch)
            wall, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
            count = len(work) * size
            own = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
            print(
                f"sms.inbound batches of {size:2d}: {1000 * wall / len(work):6.2f} ms/batch wall,"
                f" CPU {1000 * own / count:.3f} ms/MO here + {1000 * (_cpu_s(pids) - backends) / count:.3f}"
                f" ms/MO PostgreSQL ({count} MOs)"
            )
    finally:
        await direct.drain()
        await bus.stop()


async def main(args: argparse.Namespace) -> None:
    name = await create_pg_database()
    # --consumer: as the workflow service creates it (no pre-ping: three round trips per checkout).
    engine = create_engine(pg_url(name), pool_size=args.pool, pre_ping=not args.consumer)
    try:
        await migrate(engine)
        base = load_settings(env={}, var_dir=Path(tempfile.mkdtemp()))
        settings = replace(base, inbound=InboundSettings(commands_per_hour=10_000))
        services = bootstrap(settings, engine=engine)
        t = time.perf_counter()
        pairs = await load(services, args.muhtars, args.requests)
        print(f"loaded {args.muhtars} muhtars, {args.requests} requests in {time.perf_counter() - t:.1f} s")
        if args.consumer:
            await consumer_cpu(services, pairs, args.batches)
            return
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
    parser.add_argument("--consumer", action="store_true", help="the sms.inbound handler's CPU alone")
    parser.add_argument("--batches", type=int, default=2000, help="--consumer: MOs per batch size")
    parser.add_argument(
        "--rates", type=lambda s: [int(x) for x in s.split(",")], default=[100, 500, 1000, 1500]
    )
    asyncio.run(main(parser.parse_args()))
