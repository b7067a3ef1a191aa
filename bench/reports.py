"""Report speed at ministry scale: 1,000,000 requests and ~2,500,000 assignments in PostgreSQL.

Builds a dedicated database (real units from config/registry, 50,000 muhtars, requests over two years
generated with INSERT … SELECT generate_series), times every report page's queries (target ≤ 1 s) for MİGM
and for a Valilik, then downloads a 100,000-row request-list export (CSV and XLSX) through the real web
app and samples this process's resident memory (target: < 100 MB growth). The database is dropped at the
end. Prints one line per figure.

    .venv/bin/python bench/reports.py [--requests 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy import event

from webui.app import init_app
from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.domain.units import StaffRole
from workflow.domain.vocabulary import Channel, RequestKind, RequestState
from workflow.registry.load import load_registry
from workflow.reports.filters import Filters
from workflow.reports.listing import Drill, list_page
from workflow.reports.queries import Section, section_tables
from workflow.reports.scope import load_scope
from workflow.settings import load_settings
from workflow.staff_accounts import NewStaffUser, create_staff_user

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
PASSWORD = "Bench.Parola.2026"

MUHTARS_SQL = """
INSERT INTO muhtars (id, tckn, full_name, phone_e164, muhtarlik_id, active, created_at, updated_at)
SELECT md5('m' || id), lpad(id::text, 11, '0'), 'Muhtar ' || id, '+90532' || lpad(id::text, 7, '0'), id, true,
       now(), now()
FROM muhtarliks ORDER BY id LIMIT 50000
"""
REQUESTS_SQL = """
CREATE TEMP TABLE mids AS SELECT row_number() OVER (ORDER BY id) AS rn, id FROM muhtars;
INSERT INTO requests (id, number, muhtar_id, kind, description, channel, priority, state, migm_pending,
                      created_at, updated_at, concluded_at, public_attachment_ids, version)
SELECT md5('r' || g), 999 + g, m.id, (ARRAY['sikayet','istek','ihbar','gorus_oneri'])[1 + g % 4],
       'Bench talebi ' || g, (ARRAY['web','sms','sms','ussd'])[1 + (g / 4) % 4], 'normal',
       CASE WHEN g % 100 = 0 THEN 'bekleyen'
            WHEN c.created < now() - interval '45 days' AND g % 10 <> 1 THEN 'sonuclanan'
            ELSE 'yonlendirilen' END,
       g % 100 = 0, c.created, c.created,
       CASE WHEN g % 100 <> 0 AND c.created < now() - interval '45 days' AND g % 10 <> 1
            THEN c.created + (3 + random() * 40) * interval '1 day' END,
       '[]', 1
FROM generate_series(1, :n) AS g
CROSS JOIN LATERAL (SELECT now() - random() * interval '730 days' + g * interval '0 second' AS created) c
JOIN mids m ON m.rn = 1 + (g::bigint * 7919) % (SELECT count(*) FROM mids);
UPDATE counters SET value = 999 + :n WHERE name = 'request_number';
"""
ASSIGNMENTS_SQL = """
CREATE TEMP TABLE req AS
  SELECT r.id, r.number AS g, r.created_at, r.state, ml.province_id
  FROM requests r JOIN muhtars mu ON mu.id = r.muhtar_id JOIN muhtarliks ml ON ml.id = mu.muhtarlik_id
  WHERE r.state <> 'bekleyen';
CREATE TEMP TABLE val AS SELECT province_id, id FROM units WHERE kind = 'valilik';
CREATE TEMP TABLE sub AS SELECT province_id, id, row_number() OVER (PARTITION BY province_id ORDER BY id) AS rn,
  count(*) OVER (PARTITION BY province_id) AS cnt FROM units WHERE kind IN ('il_mudurlugu','kaymakamlik');
CREATE TEMP TABLE bel AS SELECT province_id, id, row_number() OVER (PARTITION BY province_id ORDER BY id) AS rn,
  count(*) OVER (PARTITION BY province_id) AS cnt FROM units WHERE kind = 'belediye';
CREATE TEMP TABLE top AS
  SELECT q.id AS request_id, q.g, q.state AS rstate, v.id AS unit_id, q.province_id,
         q.created_at + random() * interval '4 days' AS assigned_at, random() AS x
  FROM req q JOIN val v ON v.province_id = q.province_id;
INSERT INTO assignments (id, request_id, unit_id, parent_id, state, routing_note, assigned_by_unit_id,
                         assigned_at, due_at, completed_at, attachment_ids, closed_at, handback_reviewed)
SELECT md5('v' || g), request_id, unit_id, NULL,
       CASE WHEN rstate = 'sonuclanan' THEN 'completed' WHEN x < 0.03 THEN 'handed_back' ELSE 'forwarded' END,
       'not', (SELECT id FROM units WHERE kind = 'migm'), assigned_at, assigned_at + interval '15 days',
       CASE WHEN rstate = 'sonuclanan' THEN assigned_at + (1 + x * 30) * interval '1 day' END, '[]', NULL, false
FROM top;
INSERT INTO assignments (id, request_id, unit_id, parent_id, state, routing_note, assigned_by_unit_id,
                         assigned_at, due_at, completed_at, attachment_ids, closed_at, handback_reviewed)
SELECT md5('s' || t.g), t.request_id, s.id, md5('v' || t.g),
       CASE WHEN t.rstate = 'sonuclanan' OR t.x < 0.5 THEN 'completed' ELSE 'in_progress' END,
       'not', t.unit_id, t.assigned_at + interval '1 day', t.assigned_at + interval '16 days',
       CASE WHEN t.rstate = 'sonuclanan' OR t.x < 0.5 THEN t.assigned_at + (1 + t.x * 20) * interval '1 day' END,
       '[]', NULL, false
FROM top t JOIN sub s ON s.province_id = t.province_id AND s.rn = 1 + t.g % s.cnt;
INSERT INTO assignments (id, request_id, unit_id, parent_id, state, routing_note, assigned_by_unit_id,
                         assigned_at, due_at, completed_at, attachment_ids, closed_at, handback_reviewed)
SELECT md5('b' || t.g), t.request_id, b.id, NULL,
       CASE WHEN t.rstate = 'sonuclanan' OR t.x > 0.6 THEN 'completed' WHEN t.x < 0.1 THEN 'new'
            ELSE 'in_progress' END,
       'not', (SELECT id FROM units WHERE kind = 'migm'), t.assigned_at, t.assigned_at + interval '15 days',
       CASE WHEN t.rstate = 'sonuclanan' OR t.x > 0.6 THEN t.assigned_at + (t.x * 35) * interval '1 day' END,
       '[]', NULL, false
FROM top t JOIN bel b ON b.province_id = t.province_id AND b.rn = 1 + t.g % b.cnt
WHERE t.g % 2 = 0;
"""


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(**PG, database="test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fill(name: str, n: int) -> dict[str, int]:
    engine = create_engine(pg_url(name))
    try:
        # Up to the revision before the reports: the bulk rows go in without row triggers, then 0008_reports
        # fills report_requests, 0010_report_summaries report_work, 0011_report_counts the report counts and
        # 0012_report_keyed_counts their keyed variants, each in few statements, and install their triggers,
        # as on a live upgrade.
        await migrate(engine, "0007_mail")
        t0 = time.perf_counter()
        await load_registry(engine)
        print(f"  registry loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(**PG, database=name)
    try:
        for label, sql in (
            ("muhtars", MUHTARS_SQL),
            ("requests", REQUESTS_SQL.replace(":n", str(n))),
            ("assignments", ASSIGNMENTS_SQL),
        ):
            t0 = time.perf_counter()
            await conn.execute(sql)
            print(f"  {label} in {time.perf_counter() - t0:.0f} s", flush=True)
        await conn.execute("ANALYZE")
        t0 = time.perf_counter()
        engine = create_engine(pg_url(name))
        try:
            await migrate(engine)
        finally:
            await engine.dispose()
        print(
            f"  migrations 0008_reports … head (report_requests, report_work, the report counts and keyed "
            f"counts filled) in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        # What autovacuum does soon after a bulk load on a live server: statistics and the visibility map
        # (without it index-only scans still visit the table).
        await conn.execute("VACUUM ANALYZE")
        counts = {
            t: await conn.fetchval(f"SELECT count(*) FROM {t}")
            for t in ("units", "requests", "assignments", "report_requests")
        }
    finally:
        await conn.close()
    return counts


async def make_users(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            now = datetime.now(UTC)
            users = {
                "migm": await create_staff_user(
                    conn, NewStaffUser("bench.migm", "Bench MİGM", "MIGM", StaffRole.CLERK, PASSWORD), now
                ),
                "valilik": await create_staff_user(
                    conn,
                    NewStaffUser("bench.ankara", "Bench Ankara", "VAL-06", StaffRole.CLERK, PASSWORD),
                    now,
                ),
            }
    finally:
        await engine.dispose()
    return users


async def existing_users(name: str) -> dict[str, str]:
    conn = await asyncpg.connect(**PG, database=name)
    try:
        rows = await conn.fetch("SELECT username, id FROM staff_users WHERE username LIKE 'bench.%'")
    finally:
        await conn.close()
    by_name = {r["username"]: r["id"] for r in rows}
    return {"migm": by_name["bench.migm"], "valilik": by_name["bench.ankara"]}


async def unit_id(url: str, code: str) -> int:
    conn = await asyncpg.connect(**PG, database=url.rsplit("/", 1)[1])
    try:
        return int(await conn.fetchval("SELECT id FROM units WHERE code = $1", code))
    finally:
        await conn.close()


async def upgrade(name: str) -> None:
    """Migrate a kept database to the newest revision (timed, as on a live upgrade), then VACUUM ANALYZE
    (what autovacuum does soon after: statistics and the visibility map for index-only scans)."""
    engine = create_engine(pg_url(name))
    try:
        t0 = time.perf_counter()
        await migrate(engine)
        print(f"  upgrade to head in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(**PG, database=name)
    try:
        t0 = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        print(f"  VACUUM ANALYZE in {time.perf_counter() - t0:.0f} s", flush=True)
        sizes = await conn.fetch(
            "SELECT relname, n_live_tup, pg_total_relation_size(relid) AS bytes FROM pg_stat_user_tables "
            "WHERE relname LIKE 'report_%' AND relname NOT LIKE '%_delta' ORDER BY relname"
        )
        for row in sizes:
            print(f"  {row['relname']}: {row['n_live_tup']:,} rows, {row['bytes'] / 2**20:.0f} MB", flush=True)
    finally:
        await conn.close()


class BackendCpu:
    """CPU seconds (user + system) of this process and of the PostgreSQL backends behind the engine's pooled
    connections — the work a page costs, less sensitive to other load on the machine than its wall time."""

    def __init__(self, engine: Any) -> None:
        self.pids: set[int] = set()
        self.tick = os.sysconf("SC_CLK_TCK")

        @event.listens_for(engine.sync_engine, "connect")
        def _pid(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            self.pids.add(int(cursor.fetchone()[0]))
            cursor.close()

    def seconds(self) -> float:
        total = time.process_time()
        for pid in list(self.pids):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime
        return total


async def time_pages(
    url: str, users: dict[str, str], rounds: int, filtered: bool = False
) -> list[tuple[str, float]]:
    engine = create_engine(url)
    cpu = BackendCpu(engine)
    now = datetime.now(UTC)
    today = now.date()
    ranges = {
        "all (2 years)": Filters(),
        "last 90 days": Filters(start=today - timedelta(days=90), end=today),
    }
    if filtered:  # kind/state/channel (keyed counts), place and unit filters, dates, and combinations
        days90 = Filters(start=today - timedelta(days=90), end=today)
        unit = await unit_id(url, "VAL-06")
        ranges |= {
            "all, kind şikâyet": Filters(kind=RequestKind.SIKAYET),
            "all, channel SMS": Filters(channel=Channel.SMS),
            "all, state sonuçlanan": Filters(state=RequestState.SONUCLANAN),
            "all, şikâyet + SMS + sonuçlanan": Filters(
                kind=RequestKind.SIKAYET, channel=Channel.SMS, state=RequestState.SONUCLANAN
            ),
            "all, İstanbul": Filters(province_id=34),
            "all, İstanbul + şikâyet": Filters(province_id=34, kind=RequestKind.SIKAYET),
            "all, unit Ankara Valiliği": Filters(unit_id=unit),
            "all, unit Ankara Valiliği + SMS": Filters(unit_id=unit, channel=Channel.SMS),
            "90 days, state yönlendirilen": days90.with_(state=RequestState.YONLENDIRILEN),
            "90 days, kind şikâyet": days90.with_(kind=RequestKind.SIKAYET),
            "90 days, channel SMS": days90.with_(channel=Channel.SMS),
            "15 Jan – 10 Mar last year, kind istek": Filters(
                start=today.replace(year=today.year - 1, month=1, day=15),
                end=today.replace(year=today.year - 1, month=3, day=10),
                kind=RequestKind.ISTEK,
            ),
        }
    out: list[tuple[str, float]] = []
    try:
        for who, user_id in users.items():
            scope = await load_scope(engine, user_id)
            for range_name, f in ranges.items():
                for section in Section:
                    await section_tables(engine, scope, f, now, section)  # warm: connections opened
                    times, cpus = [], []
                    for _ in range(rounds):
                        c0, t0 = cpu.seconds(), time.perf_counter()
                        await section_tables(engine, scope, f, now, section)
                        times.append(time.perf_counter() - t0)
                        cpus.append(cpu.seconds() - c0)
                    out.append((f"{who} / {section.value} / {range_name}", statistics.median(times)))
                    print(f"  {out[-1][0]}: {out[-1][1]:.2f} s (median of {rounds}, max {max(times):.2f} s), "
                          f"CPU {statistics.median(cpus):.2f} s (this process + its PostgreSQL backends)", flush=True)
                times = []
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    async with engine.connect() as conn:
                        await list_page(conn, scope, f, Drill(), now, 1)
                    times.append(time.perf_counter() - t0)
                out.append((f"{who} / talepler page 1 / {range_name}", statistics.median(times)))
                print(f"  {out[-1][0]}: {out[-1][1]:.2f} s", flush=True)
    finally:
        await engine.dispose()
    return out


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def export(url: str, rows_wanted: int, total: int) -> list[tuple[str, float, float, int]]:
    settings = load_settings(env={}, var_dir=Path(tempfile.mkdtemp(prefix="bench-reports-")))
    engine = create_engine(url)
    app = init_app(settings, engine=engine)
    days = max(1, int(730 * rows_wanted / total))
    today = datetime.now(UTC).date()
    query = f"bas={(today - timedelta(days=days)).isoformat()}&bit={today.isoformat()}"
    out = []
    async with TestServer(app) as server, ClientSession(cookie_jar=CookieJar(unsafe=True)) as client:
        page = await (await client.get(server.make_url("/personel/giris"))).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "no CSRF token on the log-in page"
        await client.post(
            server.make_url("/personel/giris"),
            data={"csrf_token": token.group(1), "kullanici_adi": "bench.migm", "parola": PASSWORD},
        )
        for fmt in ("csv", "xlsx"):
            before, size, lines = rss_mb(), 0, 0
            peak = [before]

            async def sample(peak: list[float] = peak) -> None:  # also while the XLSX is built
                while True:
                    peak[0] = max(peak[0], rss_mb())
                    await asyncio.sleep(0.02)

            sampler = asyncio.create_task(sample())
            t0 = time.perf_counter()
            async with client.get(server.make_url(f"/personel/raporlar/talepler.{fmt}?{query}")) as response:
                assert response.status == 200, response.status
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            elapsed = time.perf_counter() - t0
            sampler.cancel()
            peak = [max(peak[0], rss_mb())]
            out.append((fmt, elapsed, peak[0] - before, lines - 1 if fmt == "csv" else size))
            print(
                f"  export {fmt}: {elapsed:.1f} s, RSS +{peak[0] - before:.0f} MB, "
                f"{'rows' if fmt == 'csv' else 'bytes'} {out[-1][3]:,}",
                flush=True,
            )
    await engine.dispose()
    return out


async def main_async(args: argparse.Namespace) -> None:
    if args.database:  # a database kept by an earlier --keep run: measure again without rebuilding
        name = args.database
        users = await existing_users(name)
        counts = {"requests": args.requests}
        if args.upgrade:
            await upgrade(name)
    else:
        name = f"muhtar_bench_reports_{uuid.uuid4().hex[:8]}"
        await admin(f"CREATE DATABASE {name}")
    try:
        if not args.database:
            t0 = time.perf_counter()
            counts = await fill(name, args.requests)
            print(f"data: {counts} in {time.perf_counter() - t0:.0f} s", flush=True)
            users = await make_users(pg_url(name))
        await time_pages(pg_url(name), users, args.rounds, args.filtered)
        if args.export_rows:
            await export(pg_url(name), args.export_rows, counts["requests"])
    finally:
        if not args.keep:
            await admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        else:
            print(f"kept database {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--export-rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", help="measure a database kept by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep the database (name printed) for inspection")
    parser.add_argument(
        "--filtered", action="store_true",
        help="also time pages filtered by kind, state, channel, province, unit, dates and combinations",
    )
    parser.add_argument(
        "--upgrade", action="store_true",
        help="with --database: first migrate it to the newest revision (timed) and VACUUM ANALYZE it",
    )
    args: Any = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
