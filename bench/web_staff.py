"""Staff inboxes under load: the MİGM inbox, a Valilik inbox (İstanbul, the largest) and a staff request page,
next to the muhtar-side benchmark's bare handler (one indexed query), all in the same run against the same
PostgreSQL database, under two load models (bench/common_web.py):

- closed loop: 50 users with no think time against the server: capacity, and a p95 that is mostly queueing;
- think time: 50 users each loading a page, then thinking 1–3 s (uniform), about 25 pages/s offered.

For each: requests/s, client p50/p95 (send to last byte) and server p50/p95 (the app's own Server-Timing
header, which excludes the wait in the socket backlog), and server CPU per request.

Run: ``.venv/bin/python bench/web_staff.py [--requests 1000000] [--muhtars 50000] [--hits 3000]
[--concurrency 50] [--think-seconds 40] [--workers 1] [--keep | --database NAME]``

A uniquely named database is created (127.0.0.1:5432, trust auth; MUHTAR_TEST_PG_* overrides as in the
tests), filled with COPY: MİGM, 81 Valilik each with 10 İl Müdürlüğü and 10 Kaymakamlık, a Büyükşehir and
10 ilçe Belediyesi per il; muhtars; requests (1 % awaiting triage, 19 % with units, 80 % concluded; İstanbul
18 %, Ankara 6 %, İzmir 5 %) with about 2.5 assignments each (the il's Valilik; its Belediye for 60 %; one or
two sub-units for 70 %). ``--keep`` leaves it for a later ``--database NAME`` run (filling 1 M requests
takes many minutes on a busy machine); drop it yourself afterwards. The app and the bare handler are served
by ``--workers`` server processes (bench/common_web.py; several share the port as ``web.workers`` does);
staff sessions are made the way log-in makes them (a web_sessions row and an encrypted cookie), so every
page pays the real session, staff-session check, counts and access-log costs.
Target: p95 ≤ 50 ms server time for the inbox pages. Figures go in docs/benchmarks.md.
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
from typing import Any

import aiohttp
import asyncpg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common_data import (  # noqa: E402
    MOVEMENT_COLUMNS,
    MUHTAR_COLUMNS,
    MUHTARLIK_COLUMNS,
    REQUEST_COLUMNS,
    cookie_fernet,
    filed_movement,
    request_record,
    signed_in,
)
from bench.common_web import (  # noqa: E402
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
    think_time,
)
from workflow.adapters.db import create_engine  # noqa: E402
from workflow.adapters.migrate import migrate  # noqa: E402
from workflow.registry.testdata import make_muhtars  # noqa: E402

BATCH = 50_000
SUBS = 10  # İl Müdürlüğü and Kaymakamlık per Valilik, each
DISTRICTS = 10
HEAVY = {34: 0.18, 6: 0.06, 35: 0.05}  # share of requests by province plate; the rest spread evenly
SAMPLE = 200


class Units:
    """Ids of the generated registry: MİGM 1, then per il its Valilik, sub-units and Belediyeler."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = [
            (1, "MIGM", "migm", None, "Mahalli İdareler Genel Müdürlüğü", None, None, True)
        ]
        self.valilik: dict[int, int] = {}
        self.subs: dict[int, list[int]] = {}
        self.belediye: dict[int, list[int]] = {}
        for p in range(1, 82):
            vid = self._add(f"VAL-{p:02d}", "valilik", None, f"İl {p} Valiliği", None, p)
            self.valilik[p] = vid
            self.subs[p] = [
                self._add(f"ILM-{p}-{i}", "il_mudurlugu", None, f"İl {p} Müdürlüğü {i}", vid, p)
                for i in range(SUBS)
            ]
            self.subs[p] += [
                self._add(f"KAY-{p}-{i}", "kaymakamlik", None, f"İlçe {p}-{i} Kaymakamlığı", vid, p)
                for i in range(SUBS)
            ]
            self.belediye[p] = [
                self._add(f"BEL-BB-{p}", "belediye", "buyuksehir", f"İl {p} Belediyesi", None, p)
            ]
            self.belediye[p] += [
                self._add(f"BEL-{p}-{i}", "belediye", "ilce", f"İlçe {p}-{i} Belediyesi", None, p)
                for i in range(DISTRICTS)
            ]

    def _add(self, code: str, kind: str, bkind: str | None, name: str, parent: int | None, p: int) -> int:
        uid = len(self.rows) + 1
        self.rows.append((uid, code, kind, bkind, name, parent, p, True))
        return uid


def province(rng: random.Random) -> int:
    x = rng.random()
    for plate, share in HEAVY.items():
        if x < share:
            return plate
        x -= share
    return rng.randint(1, 81)


def assignments_for(
    rng: random.Random, units: Units, rid: str, p: int, state: str, ready: bool, at: datetime
) -> list[tuple[Any, ...]]:
    """The request's assignments, in states that fit the request's state."""
    if state == "bekleyen":
        return []
    done = state == "sonuclanan" or ready
    out: list[tuple[Any, ...]] = []

    def add(unit: int, parent: str | None, st: str) -> str:
        aid = uuid.uuid4().hex
        closed = at + timedelta(days=3) if st == "completed" else None
        out.append(
            (
                aid,
                rid,
                unit,
                parent,
                st,
                "",
                parent and units.valilik[p] or 1,
                at,
                at + timedelta(days=15),
                closed,
                "Gereği yapıldı." if closed else None,
                "[]",
                closed,
                False,
            )
        )
        return aid

    children = rng.choice((0, 0, 0, 1, 1, 1, 1, 2, 2, 2))
    open_state = rng.choice(("new", "in_progress"))
    vid = add(units.valilik[p], None, "completed" if done else ("forwarded" if children else open_state))
    for sub in rng.sample(units.subs[p], children):
        add(sub, vid, "completed" if done else rng.choice(("new", "in_progress", "completed")))
    if rng.random() < 0.6:
        add(rng.choice(units.belediye[p]), None, "completed" if done else rng.choice(("new", "in_progress")))
    return out


ASSIGNMENT_COLUMNS = [
    "id",
    "request_id",
    "unit_id",
    "parent_id",
    "state",
    "routing_note",
    "assigned_by_unit_id",
    "assigned_at",
    "due_at",
    "completed_at",
    "completion_note",
    "attachment_ids",
    "closed_at",
    "handback_reviewed",
]


async def fill(name: str, n_muhtars: int, n_requests: int) -> tuple[Units, list[str]]:
    rng, now, units = random.Random(7), datetime.now(UTC), Units()
    conn = await asyncpg.connect(**{**PG, "database": name})
    try:
        await conn.copy_records_to_table(
            "units",
            columns=["id", "code", "kind", "belediye_kind", "name", "parent_id", "province_id", "active"],
            records=units.rows,
        )
        await conn.execute("SELECT setval(pg_get_serial_sequence('units', 'id'), $1)", len(units.rows))
        places = [
            (p * 100 + d, f"M-{p}-{d}", "mahalle", f"Mahalle {p}-{d}", p, p * 100 + d, f"İl {p}", f"İlçe {d}")
            for p in range(1, 82)
            for d in range(DISTRICTS)
        ]
        await conn.copy_records_to_table(
            "muhtarliks",
            columns=MUHTARLIK_COLUMNS,
            records=places,
        )
        people = list(make_muhtars(rng, [str(i) for i in range(n_muhtars)], n_muhtars))
        ids = [uuid.uuid4().hex for _ in people]
        by_province: dict[int, list[str]] = {p: [] for p in range(1, 82)}
        records = []
        for i, person in enumerate(people):
            place = places[i % len(places)]
            by_province[place[4]].append(ids[i])
            records.append(
                (ids[i], person.tckn, person.full_name, person.phone_e164, place[0], True, now, now)
            )
        await conn.copy_records_to_table(
            "muhtars",
            columns=MUHTAR_COLUMNS,
            records=records,
        )
        total_assignments = 0
        for start in range(0, n_requests, BATCH):
            requests, assignments, movements = [], [], []
            for number in range(start + 1000, min(start + BATCH, n_requests) + 1000):
                rid, p = uuid.uuid4().hex, province(rng)
                muhtar = rng.choice(by_province[p])
                created = now - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
                x = rng.random()
                state = "bekleyen" if x < 0.01 else "yonlendirilen" if x < 0.20 else "sonuclanan"
                ready = state == "yonlendirilen" and rng.random() < 0.05
                priority = rng.choice(("normal", "normal", "normal", "yuksek", "acil", "dusuk"))
                requests.append(
                    request_record(
                        rng,
                        rid,
                        number,
                        muhtar,
                        created,
                        state,
                        migm_pending=state == "bekleyen" or ready,
                        priority=priority,
                        max_words=40,
                    )
                )
                assignments += assignments_for(rng, units, rid, p, state, ready, created + timedelta(hours=2))
                movements.append(filed_movement(rid, muhtar, created))
            await conn.copy_records_to_table("requests", columns=REQUEST_COLUMNS, records=requests)
            await conn.copy_records_to_table("assignments", columns=ASSIGNMENT_COLUMNS, records=assignments)
            await conn.copy_records_to_table("movements", columns=MOVEMENT_COLUMNS, records=movements)
            total_assignments += len(assignments)
            print(
                f"  {start + len(requests):,} requests, {total_assignments:,} assignments",
                file=sys.stderr,
                flush=True,
            )
        await conn.execute("UPDATE counters SET value = $1 WHERE name = 'request_number'", n_requests + 999)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return units, ids


async def staff_session(conn: asyncpg.Connection, fernet: Fernet, username: str, unit_id: int) -> str:
    """A staff user and a signed-in session for them, as log-in would leave it; returns the cookie value."""
    user_id, now = uuid.uuid4().hex, datetime.now(UTC)
    await conn.execute(
        "INSERT INTO staff_users (id, username, password_hash, full_name, unit_id, role, active, created_at, "
        "updated_at, password_changed_at) VALUES ($1, $2, '-', $2, $3, 'clerk', true, $4, $4, $4)",
        user_id,
        username,
        unit_id,
        now - timedelta(days=1),
    )
    return await signed_in(conn, fernet, "staff", user_id)


async def units_of(conn: asyncpg.Connection) -> Units:
    """The generated registry's ids, read back from a kept database (``--database``)."""
    units = Units()
    rows = await conn.fetch("SELECT code, id FROM units")
    ids = {row["code"]: row["id"] for row in rows}
    if ids.get("VAL-34") != units.valilik[34]:
        raise SystemExit("that database was not filled by this script")
    return units


async def measure(
    args: argparse.Namespace, name: str, units: Units, port: int, bare_port: int, pids: list[int]
) -> list[tuple[str, str, Sample]]:
    """Both load models over the same targets; in the closed loop the targets take turns in ``rounds``
    rounds so a change in machine load hits them alike. The server processes' own CPU time per request is
    steadier than wall-clock figures on a shared machine."""
    fernet = cookie_fernet()
    conn = await asyncpg.connect(**{**PG, "database": name})
    try:
        tag = uuid.uuid4().hex[:6]
        migm = [await staff_session(conn, fernet, f"migm{tag}{i}", 1) for i in range(10)]
        istanbul = [
            await staff_session(conn, fernet, f"istanbul{tag}{i}", units.valilik[34]) for i in range(10)
        ]
        numbers = [
            r["number"]
            for r in await conn.fetch(
                "SELECT r.number FROM assignments a JOIN requests r ON r.id = a.request_id WHERE a.unit_id = $1 "
                "ORDER BY random() LIMIT $2",
                units.valilik[34],
                SAMPLE,
            )
        ]
        muhtar_ids = [
            r["id"] for r in await conn.fetch("SELECT id FROM muhtars ORDER BY random() LIMIT $1", SAMPLE)
        ]
    finally:
        await conn.close()
    limit = max(args.concurrency, args.users)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as http:
        get = page_getter(http)

        app = f"http://127.0.0.1:{port}"
        targets: dict[str, Target] = {
            "bare handler, one indexed query (muhtar bench)": lambda i: get(
                f"http://127.0.0.1:{bare_port}/bare?m={muhtar_ids[i % len(muhtar_ids)]}"
            ),
            "MİGM inbox (Yeni Talepler, 5 tab counts)": lambda i: get(
                f"{app}/personel/gelen-kutusu", migm[i % len(migm)]
            ),
            "MİGM inbox, Birimlerde tab": lambda i: get(
                f"{app}/personel/gelen-kutusu?sekme=birimlerde", migm[i % len(migm)]
            ),
            "İstanbul Valiliği inbox (Yeni)": lambda i: get(
                f"{app}/personel/gelen-kutusu", istanbul[i % len(istanbul)]
            ),
            "staff request page (+ access log)": lambda i: get(
                f"{app}/personel/talepler/{numbers[i % len(numbers)]}", istanbul[i % len(istanbul)]
            ),
        }
        closed = {what: Sample() for what in targets}
        for make in targets.values():
            await closed_loop(min(200, args.hits), args.concurrency, make, pids)  # warm-up
        for _ in range(args.rounds):
            for what, make in targets.items():
                closed[what].add(await closed_loop(args.hits // args.rounds, args.concurrency, make, pids))
        results = [
            (what, f"closed loop, {args.concurrency} users, no think time", closed[what]) for what in targets
        ]
        for what, make in targets.items():
            sample = await think_time(args.think_seconds, args.users, make, pids)
            results.append((what, f"{args.users} users, think 1–3 s", sample))
    return results


async def main_async(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(**PG)
    name = args.database or f"muhtar_bench_{uuid.uuid4().hex[:8]}"
    try:
        if args.database:
            conn = await asyncpg.connect(**{**PG, "database": name})
            try:
                units = await units_of(conn)
            finally:
                await conn.close()
        else:
            await admin.execute(f"CREATE DATABASE {name}")
        engine = create_engine(pg_url(name))
        await migrate(engine)  # a kept database gets the newest migrations too
        await engine.dispose()
        if not args.database:
            started = time.perf_counter()
            units, _ = await fill(name, args.muhtars, args.requests)
            print(f"filled in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        port, bare_port = 19080 + random.randrange(500), 19680 + random.randrange(500)
        load_before = os.getloadavg()
        servers = await start_servers(pg_url(name), port, bare_port, processes=args.workers)
        try:
            results = await measure(args, name, units, port, bare_port, [s.pid for s in servers])
        finally:
            await stop_servers(servers)
        load_after = os.getloadavg()
    finally:
        if not (args.keep or args.database):
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        elif args.keep:
            print(f"kept database {name}: drop it when done", file=sys.stderr)
        await admin.close()
    print(
        f"\n{args.requests:,} requests, {args.muhtars:,} muhtars; closed loop: {args.hits} hits each, "
        f"{args.concurrency} users, {args.rounds} interleaved rounds; think time: {args.users} users, "
        f"{args.think_seconds:.0f} s each; {args.workers} server process(es); load average 1/5/15 min before "
        f"{'/'.join(f'{x:.1f}' for x in load_before)}, after {'/'.join(f'{x:.1f}' for x in load_after)}\n"
    )
    print(TABLE_HEAD)
    for what, model, sample in results:
        print(table_row(what, model, sample))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--muhtars", type=int, default=50_000)
    parser.add_argument("--hits", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50, help="users of the think-time model")
    parser.add_argument(
        "--think-seconds", type=float, default=40.0, help="how long each think-time run lasts"
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes sharing the port")
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument("--keep", action="store_true", help="keep the filled database")
    kept.add_argument("--database", help="measure on a database kept by an earlier --keep run")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
