"""MO round trip: ``TALEP n`` injected at the SMSC simulator → reply submit_sm back at the simulator, through
the real gateway (``muhtar gateway``), RabbitMQ, the workflow service (``muhtar workflow``, one or more
processes) and PostgreSQL with 50,000 muhtars and 100,000 requests.

Run: ``.venv/bin/python bench/mo_roundtrip.py [--rates 100,500,1000] [--seconds 10] [--workflows 1]``

Open loop: at each offered rate MOs start on schedule, from the owner's phone about one of their own requests
(each (phone, request) pair used once, so the hourly limit never interferes); the latency of an MO is from its
scheduled start to the moment the simulator accepted the reply's submit_sm. The simulator and this load
generator share one process; the gateway and workflow service are separate processes as in production.
A uniquely named PostgreSQL database and RabbitMQ vhost are created and removed. Figures go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from inbound_mo import load, pct  # noqa: E402  (sibling benchmark: the same data set)
from smpp import _cpu_s, _pids_named  # noqa: E402  (sibling benchmark: CPU accounting)
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from gateway_sms.simulator import Simulator  # noqa: E402
from tests.conftest import create_pg_database, drop_pg_database, pg_url  # noqa: E402
from workflow.adapters.db import create_engine  # noqa: E402
from workflow.adapters.migrate import migrate  # noqa: E402
from workflow.bootstrap import bootstrap  # noqa: E402
from workflow.settings import load_settings  # noqa: E402

REPLY = re.compile(r"^Talep (\d+):")
SHORT_CODE = "4444"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


def spawn(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen([str(ROOT / ".venv/bin/muhtar"), command], env=env, stdout=out, stderr=out)


HISTORY = [
    # MOs answered before the run, each with its reply, the reply's part and its sent outbox message; and
    # the hourly counters of other phones active in the current window. Ids are md5 hex (32 characters).
    """
INSERT INTO sms_messages (id, direction, phone_e164, text, purpose, state, mo_id, created_at, updated_at)
SELECT md5('h-in-' || g), 'in', '+90538' || lpad(g::text, 7, '0'), 'TALEP ' || g, 'mo', 'handled',
    'hist-' || g, now() - interval '2 days', now() - interval '2 days'
FROM generate_series(1, :n) AS g
""",
    """
INSERT INTO sms_messages (id, direction, phone_e164, text, purpose, state, reply_to_id, part_count,
    created_at, updated_at)
SELECT md5('h-out-' || g), 'out', '+90538' || lpad(g::text, 7, '0'), 'Talep ' || g || ': Bekleyen', 'reply',
    'delivered', md5('h-in-' || g), 1, now() - interval '2 days', now() - interval '2 days'
FROM generate_series(1, :n) AS g
""",
    """
INSERT INTO sms_parts (sms_id, part_index, smsc_message_id, state, submitted_at, dlr_at, dlr_state)
SELECT md5('h-out-' || g), 0, 'hist-' || g, 'delivered', now() - interval '2 days', now() - interval '2 days',
    'DELIVRD'
FROM generate_series(1, :n) AS g
""",
    """
INSERT INTO outbox (message_id, topic, schema, schema_version, payload, correlation_id, ordering_key,
    created_at, sent_at, attempts)
SELECT md5('h-ob-' || g), 'sms.outbound', 'sms.outbound', 1, '{}', md5('h-ob-' || g), md5('h-out-' || g),
    now() - interval '2 days', now() - interval '2 days', -1
FROM generate_series(1, :n) AS g
""",
    """
INSERT INTO inbound_rate_counters (phone_e164, window_start, count)
SELECT '+90537' || lpad(g::text, 7, '0'), date_trunc('hour', now()), 1 FROM generate_series(1, :n / 10) AS g
""",
]


async def load_history(engine: AsyncEngine, count: int) -> None:
    """What a server that has been answering MOs holds: ``count`` earlier MOs with their replies (rows the
    run's tables would otherwise start without, so their statistics say "empty"). This server runs with
    autovacuum off, so without history the tables the run writes are never analyzed: their plans stay the
    ones for empty tables (sequential scans, foreign-key checks included), and the CPU per MO grows with
    every MO already handled — a figure of this machine's configuration, not of the code."""
    async with engine.begin() as conn:
        for statement in HISTORY:
            await conn.execute(text(statement), {"n": count})


class Tracker:
    """Replies seen at the simulator, matched to the MOs waiting for them."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.seen = 0
        self.pending: dict[tuple[str, int], float] = {}
        self.latencies: list[float] = []
        self.last_done = 0.0
        self.done: dict[tuple[str, int], tuple[float, float]] = {}  # (phone, number) -> (start, reply seen)

    def poll(self) -> None:
        messages = self.sim.messages
        while self.seen < len(messages):
            message = messages[self.seen]
            self.seen += 1
            match = REPLY.match(message.text)
            if match is None:
                continue
            started = self.pending.pop((message.destination_addr, int(match.group(1))), None)
            if started is not None:
                self.latencies.append(message.at.timestamp() - started)
                self.last_done = message.at.timestamp()
                self.done[(message.destination_addr, int(match.group(1)))] = (started, message.at.timestamp())


HOPS = """
SELECT mo.phone_e164, mo.text, mo.created_at AS received, mo.updated_at AS handled, o.sent_at
FROM sms_messages mo
JOIN sms_messages r ON r.reply_to_id = mo.id
JOIN outbox o ON o.ordering_key = r.id AND o.topic = 'sms.outbound'
WHERE mo.direction = 'in' AND mo.created_at >= :since
"""


async def hops(engine: AsyncEngine, tracker: Tracker, since: datetime) -> str:
    """Median and p99 per hop, from the timestamps the processes stored (one clock: one machine):
    start -> gateway published sms.inbound (``received_at``) -> workflow answered the batch (the MO row's
    ``updated_at``, before its commit) -> relay confirmed the reply's publish (``outbox.sent_at``) ->
    simulator accepted the reply's submit_sm."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text(HOPS), {"since": since})).all()
    steps: list[list[float]] = [[], [], [], []]
    for phone, mo_text, received, handled, sent in rows:
        number = int(mo_text.split()[-1])
        seen = tracker.done.get((phone.lstrip("+"), number))
        if seen is None or sent is None:
            continue
        start, replied = seen
        marks = [start, received.timestamp(), handled.timestamp(), sent.timestamp(), replied]
        for i in range(4):
            steps[i].append(marks[i + 1] - marks[i])
    if not steps[0]:
        return "hops: no rows"
    names = (
        "SMSC->gateway published",
        "->workflow took the batch",
        "->committed, reply published",
        "->reply at SMSC",
    )
    return "hops (p50/p99 ms): " + ", ".join(
        f"{name} {pct(values, 0.5):.1f}/{pct(values, 0.99):.1f}"
        for name, values in zip(names, steps, strict=True)
    )


BACKENDS = text(
    "SELECT pid, backend_type FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


class Cpu:
    """CPU seconds per process group over one rate: gateway, workflow process(es), RabbitMQ (all of the
    broker, other vhosts included), the bench database's PostgreSQL client backends, its autovacuum
    workers if the server runs any (reported apart: housekeeping, not the MOs' work), and this process
    (the SMSC simulator and the load generator). A backend that starts during the rate is counted from zero; one that ends during it
    is missed (the workflow service keeps its pooled connections, so that is mostly autovacuum)."""

    def __init__(self, engine: AsyncEngine, gateway: int, workflows: list[int]) -> None:
        self.engine, self.gateway, self.workflows = engine, gateway, workflows
        self.beam = _pids_named("beam.smp")
        self.start: dict[str, float] = {}
        self.backends: dict[int, float] = {}

    def _now(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "gateway": _cpu_s(self.gateway),
            "workflow": sum(_cpu_s(pid) for pid in self.workflows),
            "rabbitmq": sum(_cpu_s(pid) for pid in self.beam),
            "smsc+load": usage.ru_utime + usage.ru_stime,
        }

    async def _backends(self) -> list[tuple[int, str]]:
        async with self.engine.connect() as conn:
            return [(int(pid), str(kind)) for pid, kind in (await conn.execute(BACKENDS)).all()]

    async def begin(self) -> None:
        self.start = self._now()
        self.backends = {pid: _cpu_s(pid) for pid, _ in await self._backends()}

    async def end(self, count: int) -> str:
        now = self._now()
        used = {key: now[key] - self.start[key] for key in now}
        used["postgres"] = used["autovacuum"] = 0.0
        for pid, kind in await self._backends():
            key = "autovacuum" if kind == "autovacuum worker" else "postgres"
            used[key] += _cpu_s(pid) - self.backends.get(pid, 0.0)
        vacuum = used.pop("autovacuum")
        per = {key: 1000 * value / max(count, 1) for key, value in used.items()}
        return (
            f"CPU ms/MO {sum(per.values()):.2f} ("
            + ", ".join(f"{k} {v:.2f}" for k, v in per.items())
            + f"; autovacuum of the bench database {1000 * vacuum / max(count, 1):.2f} more)"
        )


async def offer(
    sim: Simulator, tracker: Tracker, pairs: list[tuple[str, int]], rate: int, seconds: float
) -> str:
    total = int(rate * seconds)
    batch = [pairs.pop() for _ in range(total)]
    tracker.latencies, tasks = [], []
    tracker.done = {}
    t0 = time.time()

    refused = 0

    async def one(phone: str, number: int, scheduled: float) -> None:
        nonlocal refused
        tracker.pending[(phone, number)] = scheduled
        try:
            statuses = await sim.inject_mo(phone, SHORT_CODE, f"TALEP {number}")
        except (TimeoutError, ConnectionError):
            statuses = (-1,)
        if set(statuses) != {0}:  # not taken by the gateway (no deliver_sm_resp OK): the SMSC would retry
            refused += 1
            tracker.pending.pop((phone, number), None)

    for i, (phone, number) in enumerate(batch):
        scheduled = t0 + i / rate
        delay = scheduled - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tracker.poll()
        tasks.append(asyncio.ensure_future(one(phone.lstrip("+"), number, scheduled)))
    await asyncio.gather(*tasks)
    deadline = time.time() + 60 + seconds * 4
    while tracker.pending and time.time() < deadline:
        tracker.poll()
        await asyncio.sleep(0.01)
    lost = len(tracker.pending)
    tracker.pending.clear()
    done = tracker.latencies
    if not done:
        return f"offered {rate:5d}/s: no replies"
    achieved = len(done) / max(tracker.last_done - t0, 1e-9)
    return (
        f"offered {rate:5d}/s achieved {achieved:7.1f}/s  p50 {pct(done, 0.5):8.1f} ms  p95 {pct(done, 0.95):8.1f} ms"
        f"  p99 {pct(done, 0.99):8.1f} ms  replies {len(done)}/{total}" + (f"  LOST {lost}" if lost else "")
    )


async def main(args: argparse.Namespace) -> None:
    name = await create_pg_database()
    vhost = f"muhtar-bench-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    engine = create_engine(pg_url(name))
    sim = Simulator({"muhtar": "bench"}, port=0)
    children: list[subprocess.Popen[bytes]] = []
    logs = Path(tempfile.mkdtemp(prefix="mo-roundtrip-"))
    try:
        await migrate(engine)
        settings = load_settings(env={}, var_dir=logs)
        t = time.perf_counter()
        pairs = await load(bootstrap(replace(settings), engine=engine), args.muhtars, args.requests)
        await load_history(engine, args.history)
        print(
            f"loaded {args.muhtars} muhtars, {args.requests} requests, {args.history} earlier MOs"
            f" in {time.perf_counter() - t:.1f} s"
        )
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            # Vacuum and analyze the loaded tables now (what autovacuum does soon after a bulk load on a live
            # server; it is off on this one), then write it all out.
            if not args.no_vacuum:
                await autocommit.execute(text("VACUUM ANALYZE"))
            await autocommit.execute(text("CHECKPOINT"))
        random.Random(3).shuffle(pairs)
        await sim.start()
        env = {
            **os.environ,
            "MUHTAR_DATABASE_URL": pg_url(name),
            "MUHTAR_DATABASE_POOL_SIZE": str(args.pool),
            "MUHTAR_BUS_KIND": "rabbitmq",
            "MUHTAR_BUS_AMQP_URL": f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}",
            "MUHTAR_SMPP_PORT": str(sim.port),
            "MUHTAR_SMPP_PASSWORD": "bench",
            "MUHTAR_SMPP_SIMULATOR": "false",
            "MUHTAR_INBOUND_COMMANDS_PER_HOUR": "10000",
            "MUHTAR_LOGGING_LEVEL": "WARNING",
        }
        children.append(spawn("gateway", env, logs / "gateway.log"))
        for i in range(args.workflows):
            children.append(spawn("workflow", env, logs / f"workflow-{i}.log"))
        await sim.wait_until(lambda: sim.bound_sessions > 0, within_s=60)
        tracker = Tracker(sim)
        print(await offer(sim, tracker, pairs, 5, 2.0) + "  (warm-up)")
        cpu = Cpu(engine, children[0].pid, [child.pid for child in children[1:]])
        for rate in args.rates:
            since = datetime.now(UTC)
            load_before = os.getloadavg()[0]
            await cpu.begin()
            print(await offer(sim, tracker, pairs, rate, args.seconds), flush=True)
            per_mo = await cpu.end(len(tracker.latencies))
            print("    " + await hops(engine, tracker, since), flush=True)
            print(f"    {per_mo}  load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        await sim.stop()
        await engine.dispose()
        await drop_pg_database(name)
        await asyncio.to_thread(rabbitmqctl, "delete_vhost", vhost)
        print(f"process logs: {logs}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--muhtars", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workflows", type=int, default=1)
    parser.add_argument("--pool", type=int, default=10)
    parser.add_argument(
        "--no-vacuum",
        action="store_true",
        help="no VACUUM ANALYZE after the load (as before 2026-11-26)",
    )
    parser.add_argument(
        "--history", type=int, default=100_000, help="earlier MOs (with replies) in the database; 0: none"
    )
    parser.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")], default=[100, 500, 1000])
    asyncio.run(main(parser.parse_args()))
