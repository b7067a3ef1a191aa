"""Outbound SMS throughput: ``sms.outbound`` → gateway → SMSC → submit_sm_resp → ``sms.status`` → acked.

The SMSC is the simulator in its own process (``python -m gateway_sms.simulator``), so it does not share
this process's CPU time slice. N one-part SMS are queued on the bus first; the clock runs from starting the
gateway until every SMS is settled:
- ``--db none``: until a status consumer has seen N ``submit_ok``;
- ``--db sqlite|postgres``: the real workflow service consumes ``sms.status`` and records every SMS's
  state; until all N rows in ``sms_messages`` have left ``queued``.

Examples::

    .venv/bin/python bench/smpp.py --bus inprocess --window 10 --count 20000
    .venv/bin/python bench/smpp.py --bus rabbitmq --window 50 --count 20000 --db postgres

Prints one line per run: messages/s, seconds, and the peak resident memory of this process (gateway, bus
client and — with ``--db`` — the workflow consumer, which share it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.connector import ConnectorConfig
from gateway_sms.link import LinkConfig
from gateway_sms.service import Gateway
from workflow.messaging.bus import Bus, DeadLetter
from workflow.messaging.envelope import Envelope
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.rabbitmq import RabbitMQBus

PHONE = "+905321234567"


class NullDeadLetters:
    async def park(self, letter: DeadLetter) -> None:
        print(f"dead letter: {letter.reason}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smsc(port: int, receipts_delay_s: float) -> Iterator[None]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway_sms.simulator",
            "--port",
            str(port),
            "--account",
            "bench:secret",
            "--no-records",
            "--dlr-delay-s",
            str(receipts_delay_s),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "listening <port>"
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def rabbit_vhost() -> Iterator[str]:
    name = f"muhtar-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True)


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    import asyncpg

    name = f"muhtar_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="test")
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def queue_rows(engine: AsyncEngine, ids: list[str]) -> None:
    from workflow.messaging.sms_store import sms_messages

    now = datetime.now(UTC)
    rows = [
        {
            "id": i,
            "direction": "out",
            "phone_e164": PHONE,
            "text": f"bench {i}",
            "purpose": "notice",
            "state": "queued",
            "created_at": now,
            "updated_at": now,
        }
        for i in ids
    ]
    async with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            await conn.execute(insert(sms_messages), rows[start : start + 1000])


async def settled(engine: AsyncEngine) -> int:
    from workflow.messaging.sms_store import sms_messages

    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).where(sms_messages.c.state != "queued"))).scalar_one()
        )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    with smsc(port, 0.0):
        async with contextlib.AsyncExitStack() as stack:
            url = stack.enter_context(rabbit_vhost()) if args.bus == "rabbitmq" else ""
            bus: Bus = (
                RabbitMQBus(url, dead_letters=NullDeadLetters(), prefetch=args.prefetch)
                if args.bus == "rabbitmq"
                else InProcessBus(NullDeadLetters(), prefetch=args.prefetch)
            )
            await bus.start()
            stack.push_async_callback(bus.stop)
            ids = [uuid.uuid4().hex for _ in range(args.count)]
            engine = None
            seen = {"ok": 0}
            if args.db != "none":
                engine = await stack.enter_async_context(_engine(args.db))
                await queue_rows(engine, ids)
                await _start_workflow(stack, engine, bus, args)
            else:

                async def count(envelope: Envelope) -> None:
                    if envelope.payload["kind"] == "submit_ok":
                        seen["ok"] += 1

                await bus.consume("sms.status", count, prefetch=args.prefetch)
            for sms_id in ids:
                await bus.publish(
                    "sms.outbound",
                    Envelope.new(
                        "sms.outbound",
                        {"sms_id": sms_id, "to": PHONE, "text": f"Talebiniz alındı {sms_id[:6]}"},
                    ),
                )
            config = ConnectorConfig(
                link=LinkConfig(
                    "127.0.0.1", port, "bench", "secret", response_timeout_s=30, reconnect_min_s=0.1
                ),
                window=args.window,
                registered_delivery=args.receipts,
                encoding="turkish_shift",
            )
            gateway = Gateway(config, bus)
            started = time.perf_counter()
            await gateway.start(prefetch=args.prefetch)
            stack.push_async_callback(gateway.stop)
            while True:
                done = await settled(engine) if engine is not None else seen["ok"]
                if done >= args.count:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            return {
                "bus": args.bus,
                "db": args.db,
                "window": args.window,
                "count": args.count,
                "receipts": args.receipts,
                "seconds": round(elapsed, 2),
                "per_s": round(args.count / elapsed),
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "stats": gateway.connector.stats,
            }


@contextlib.asynccontextmanager
async def _engine(kind: str) -> AsyncIterator[AsyncEngine]:
    from workflow.adapters.db import create_engine
    from workflow.adapters.migrate import migrate

    async with database(kind) as url:
        engine = create_engine(url, pool_size=10)
        await migrate(engine)
        try:
            yield engine
        finally:
            await engine.dispose()


async def _start_workflow(
    stack: contextlib.AsyncExitStack, engine: AsyncEngine, bus: Bus, args: argparse.Namespace
) -> None:
    from workflow.entrypoints.workflow_service import start_workflow_service
    from workflow.settings import load_settings

    settings = load_settings(
        env={
            "MUHTAR_DATABASE_URL": str(engine.url.render_as_string(hide_password=False)),
            "MUHTAR_BUS_PREFETCH": str(args.prefetch),
        }
    )
    service = await start_workflow_service(settings, engine, bus)
    stack.push_async_callback(service.stop)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bus", choices=["inprocess", "rabbitmq"], default="inprocess")
    parser.add_argument("--db", choices=["none", "sqlite", "postgres"], default="none")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--prefetch", type=int, default=200)
    parser.add_argument("--receipts", action="store_true", help="ask for delivery receipts (twice the PDUs)")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
