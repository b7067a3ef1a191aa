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
from workflow.messaging.envelope import Envelope, sms_status_items
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
def smsc(port: int, receipts_delay_s: float) -> Iterator[int]:
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
        yield proc.pid
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


def _cpu_s(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 if it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


async def _db_backends(engine: AsyncEngine | None) -> list[int]:
    """The PostgreSQL backends serving the bench's own database (other sessions' work is not counted)."""
    if engine is None or engine.dialect.name != "postgresql":
        return []
    from sqlalchemy import text

    async with engine.connect() as conn:
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [int(pid) for pid in (await conn.execute(query)).scalars()]


class CpuMeter:
    """CPU seconds spent by this process, the SMSC simulator, RabbitMQ and the bench database's backends."""

    def __init__(self, smsc_pid: int, workflow_pid: int = 0) -> None:
        self.smsc_pid = smsc_pid
        self.workflow_pid = workflow_pid
        self.beam = _pids_named("beam.smp")
        self.start: dict[str, float] = {}
        self.backends: dict[int, float] = {}

    def _self(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    async def begin(self, engine: AsyncEngine | None) -> None:
        self.start = {
            "this": self._self(),
            "smsc": _cpu_s(self.smsc_pid),
            "rabbitmq": sum(_cpu_s(p) for p in self.beam),
            "workflow": _cpu_s(self.workflow_pid) if self.workflow_pid else 0.0,
        }
        self.backends = {pid: _cpu_s(pid) for pid in await _db_backends(engine)}

    async def end(self, engine: AsyncEngine | None) -> dict[str, float]:
        used = {
            "this": self._self() - self.start["this"],
            "smsc": _cpu_s(self.smsc_pid) - self.start["smsc"],
            "rabbitmq": sum(_cpu_s(p) for p in self.beam) - self.start["rabbitmq"],
        }
        if self.workflow_pid:
            used["workflow"] = _cpu_s(self.workflow_pid) - self.start["workflow"]
        pids = await _db_backends(engine)
        used["postgres"] = sum(_cpu_s(pid) - self.backends.get(pid, 0.0) for pid in pids)
        return used


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    with smsc(port, 0.0) as smsc_pid:
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
            workflow_pid = 0
            seen = {"ok": 0}
            if args.db != "none":
                engine = await stack.enter_async_context(_engine(args.db))
                await queue_rows(engine, ids)
                if args.workflow_process:
                    workflow_pid = stack.enter_context(_workflow_child(url, engine, args))
                else:
                    await _start_workflow(stack, engine, bus, args)
            else:

                async def count(envelope: Envelope) -> None:
                    seen["ok"] += sum(1 for i in sms_status_items(envelope) if i["kind"] == "submit_ok")

                await bus.consume("sms.status", count, prefetch=args.prefetch)
            for start in range(0, len(ids), 500):  # confirms overlap: setting up is not what we measure
                await asyncio.gather(
                    *(
                        bus.publish(
                            "sms.outbound",
                            Envelope.new(
                                "sms.outbound",
                                {"sms_id": sms_id, "to": PHONE, "text": f"Talebiniz alındı {sms_id[:6]}"},
                            ),
                        )
                        for sms_id in ids[start : start + 500]
                    )
                )
            config = ConnectorConfig(
                link=LinkConfig(
                    "127.0.0.1", port, "bench", "secret", response_timeout_s=30, reconnect_min_s=0.1
                ),
                window=args.window,
                registered_delivery=args.receipts,
                encoding="turkish_shift",
            )
            gateway = Gateway(config, bus, status_in_flight=args.status_in_flight)
            meter = CpuMeter(smsc_pid, workflow_pid)
            await meter.begin(engine)
            print("measuring", flush=True, file=sys.stderr)  # for profilers attaching now
            started = time.perf_counter()
            await gateway.start(prefetch=args.gateway_prefetch or None)  # default: W, as deployed
            stack.push_async_callback(gateway.stop)
            progress = (0, time.perf_counter())
            while True:
                done = await settled(engine) if engine is not None else seen["ok"]
                if done >= args.count:
                    break
                if done > progress[0]:
                    progress = (done, time.perf_counter())
                elif time.perf_counter() - progress[1] > 60:  # never hold the shared bench lock forever
                    raise RuntimeError(f"no progress for 60 s at {done} of {args.count} settled")
                await asyncio.sleep(0.2)  # each poll costs this process (the gateway's) CPU time
            elapsed = time.perf_counter() - started
            cpu = await meter.end(engine)
            load = os.getloadavg()
            return {
                "bus": args.bus,
                "workflow": "own process" if args.workflow_process else "same process",
                "db": args.db,
                "window": args.window,
                "count": args.count,
                "receipts": args.receipts,
                "seconds": round(elapsed, 2),
                "per_s": round(args.count / elapsed),
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "stats": gateway.connector.stats,
                # CPU per SMS (ms): steadier than SMS/s on a shared machine; "this" = gateway + bus client
                # (+ the workflow consumer with --db), "postgres" = the bench database's backends only.
                "cpu_ms_per_sms": {k: round(1000 * v / args.count, 3) for k, v in cpu.items()},
                "cpu_ms_per_sms_total": round(1000 * sum(cpu.values()) / args.count, 3),
                "loadavg_end": [round(x, 1) for x in load],
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


@contextlib.contextmanager
def _workflow_child(amqp_url: str, engine: AsyncEngine, args: argparse.Namespace) -> Iterator[int]:
    """The workflow service in its own process, as deployed (``muhtar workflow`` next to ``muhtar gateway``)."""
    db_url = engine.url.render_as_string(hide_password=False)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child-workflow", amqp_url, db_url, "--prefetch", str(args.prefetch)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the workflow child did not start")
    try:
        yield proc.pid
    finally:
        proc.stdin.close()  # the child stops its service and bus when its stdin closes
        proc.wait(30)


async def _child_workflow(amqp_url: str, db_url: str, prefetch: int) -> None:
    import logging

    from workflow.adapters.db import create_engine

    logging.basicConfig(level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"), stream=sys.stderr)

    bus = RabbitMQBus(amqp_url, dead_letters=NullDeadLetters(), prefetch=prefetch)
    await bus.start()
    engine = create_engine(db_url, pool_size=10)
    stack = contextlib.AsyncExitStack()
    args = argparse.Namespace(prefetch=prefetch)
    await _start_workflow(stack, engine, bus, args)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await stack.aclose()
    await bus.stop()
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bus", choices=["inprocess", "rabbitmq"], default="inprocess")
    parser.add_argument("--db", choices=["none", "sqlite", "postgres"], default="none")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--prefetch", type=int, default=200)
    parser.add_argument(
        "--gateway-prefetch", type=int, default=0, help="sms.outbound prefetch (default: the window W)"
    )
    parser.add_argument(
        "--status-in-flight",
        type=int,
        default=1,
        help="sms.status messages awaiting confirms (0: no limit; default 1, as deployed)",
    )
    parser.add_argument("--receipts", action="store_true", help="ask for delivery receipts (twice the PDUs)")
    parser.add_argument(
        "--workflow-process",
        action="store_true",
        help="with --bus rabbitmq and --db: run the workflow service in its own process, as deployed",
    )
    parser.add_argument("--child-workflow", nargs=2, metavar=("AMQP_URL", "DB_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_workflow:
        asyncio.run(_child_workflow(*args.child_workflow, args.prefetch))
        return
    if args.workflow_process and (args.bus != "rabbitmq" or args.db == "none"):
        parser.error("--workflow-process needs --bus rabbitmq and --db")
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
