"""Time loading the full registry and importing 50,000 muhtars, on a fresh SQLite file and PostgreSQL database.

Run: ``.venv/bin/python bench/registry.py [--muhtars 50000] [--only sqlite|postgres] [--markdown]``

PostgreSQL: 127.0.0.1:5432, trust auth (override with MUHTAR_TEST_PG_HOST/PORT/USER/DB, as the tests do);
a uniquely named database is created and dropped. Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.adapters.orm import muhtarliks
from workflow.registry.load import load_registry
from workflow.registry.muhtar_csv import ParsedFile, decode, parse_muhtar_csv
from workflow.registry.muhtar_import import import_muhtars
from workflow.registry.testdata import make_muhtars, muhtars_csv

PG = {
    "host": os.environ.get("MUHTAR_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("MUHTAR_TEST_PG_PORT", "5432")),
    "user": os.environ.get("MUHTAR_TEST_PG_USER", "postgres"),
    "database": os.environ.get("MUHTAR_TEST_PG_DB", "test"),
}
T = TypeVar("T")
Result = tuple[str, str, float, str]  # backend, what, seconds, detail


async def timed(coro: Awaitable[T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = await coro
    return value, time.perf_counter() - start


async def run_backend(backend: str, url: str, parsed: ParsedFile, count: int) -> list[Result]:
    engine = create_engine(url)
    results: list[Result] = []
    try:
        await migrate(engine)
        report, seconds = await timed(load_registry(engine))
        results.append(
            (
                backend,
                "registry load, empty database",
                seconds,
                f"{report.units.new} units + {report.muhtarliks.new} muhtarlıks",
            )
        )
        report, seconds = await timed(load_registry(engine))
        results.append((backend, "registry load again (no changes)", seconds, f"{report.new} new"))

        imported, seconds = await timed(import_muhtars(engine, parsed, datetime.now(UTC)))
        results.append(
            (backend, f"muhtar import into empty table, {count:,} rows", seconds, f"{imported.new} new")
        )
        imported, seconds = await timed(import_muhtars(engine, parsed, datetime.now(UTC)))
        results.append(
            (
                backend,
                f"muhtar re-import (no changes), {count:,} rows",
                seconds,
                f"{imported.unchanged} unchanged",
            )
        )
    finally:
        await engine.dispose()
    return results


async def pg_admin(sql: str) -> str:
    conn = await asyncpg.connect(**PG)
    try:
        await conn.execute(sql)
        return str(await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()


async def codes_from_registry(count: int) -> list[str]:
    """Muhtarlık codes, read from a scratch in-memory load of the registry (no file, no server)."""
    engine: AsyncEngine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        await migrate(engine)
        await load_registry(engine)
        async with engine.connect() as conn:
            codes = (await conn.execute(select(muhtarliks.c.code).order_by(muhtarliks.c.id))).scalars().all()
    finally:
        await engine.dispose()
    if count > len(codes):
        raise SystemExit(f"only {len(codes)} muhtarlıks exist; ask for at most that many muhtars")
    return list(codes[:count])


def machine() -> str:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return (
        f"{model}, {os.cpu_count()} cores, {mem_kb // 1024 // 1024} GB RAM, {platform.platform(terse=True)}"
    )


async def main_async(args: argparse.Namespace) -> list[Result]:
    codes = await codes_from_registry(args.muhtars)
    people = list(make_muhtars(random.Random(2024), codes, args.muhtars))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="muhtar-bench-") as tmp:
        csv_path = Path(tmp) / "muhtars.csv"
        csv_path.write_text(muhtars_csv(people, delimiter=";"), encoding="utf-8")
        parsed, seconds = await timed(
            asyncio.to_thread(lambda: parse_muhtar_csv(decode(csv_path.read_bytes())))
        )
        results.append(
            (
                "none (pure Python)",
                f"muhtar CSV read + checks, {args.muhtars:,} rows",
                seconds,
                f"{len(parsed.rows)} good, {len(parsed.errors)} bad",
            )
        )
        backends: list[tuple[str, Callable[[], Awaitable[list[Result]]]]] = []
        if args.only in (None, "sqlite"):
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            backends.append(("SQLite file", lambda: run_backend("SQLite file", url, parsed, args.muhtars)))
        if args.only in (None, "postgres"):
            backends.append(("PostgreSQL", lambda: _postgres(parsed, args.muhtars)))
        for _, run in backends:
            results += await run()
    return results


async def _postgres(parsed: ParsedFile, count: int) -> list[Result]:
    name = f"muhtar_bench_{uuid.uuid4().hex[:8]}"
    version = await pg_admin(f"CREATE DATABASE {name}")
    url = f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    try:
        return await run_backend(f"PostgreSQL {version}", url, parsed, count)
    finally:
        await pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--muhtars", type=int, default=50_000)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--markdown", action="store_true", help="print rows for docs/benchmarks.md")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    where = machine()
    print(f"machine: {where}", file=sys.stderr)
    for backend, what, seconds, detail in results:
        if args.markdown:
            print(
                f"| {datetime.now(UTC):%Y-%m-%d} | {where} | {backend} | `.venv/bin/python bench/registry.py` "
                f"| {what} | {seconds:.2f} s | {detail} |"
            )
        else:
            print(f"{backend:<18} {what:<45} {seconds:8.2f} s   {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
