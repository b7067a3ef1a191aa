"""The report queries' one entry point: every figure is computed by the database, within the viewer's scope.

``load_scope(engine, staff_user_id)`` (workflow.reports.scope) gives the scope from the user's own unit;
the section functions below take it and never widen it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.reports import bottlenecks, counts, durations, volumes
from workflow.reports import schema as _schema  # noqa: F401  (the report indexes join the metadata)
from workflow.reports.filters import Filters
from workflow.reports.scope import Scope
from workflow.reports.tables import ReportTable


class Section(StrEnum):
    VOLUMES = "hacim"
    DURATIONS = "sureler"
    BOTTLENECKS = "darbogazlar"


SECTION_TITLES: Final = {
    Section.VOLUMES: "Talep sayıları",
    Section.DURATIONS: "Süreler",
    Section.BOTTLENECKS: "Darboğazlar",
}

#: A job reads on one connection; a section's jobs are independent and their results are put together by
#: the section's finishing function (most jobs simply return tables).
Job = Callable[[AsyncConnection, Scope, Filters, datetime], Awaitable[Any]]
#: PostgreSQL runs a page's queries on this many connections at once (they are independent reads).
PARALLEL: Final = 3
#: For the report transaction only: JIT compiling a report query costs more than its run (each query scans
#: narrow index entries for well under a second); a larger sort memory keeps what sorts remain in memory.
PG_REPORT_SETTINGS: Final = text("SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true)")


async def tune(conn: AsyncConnection) -> None:
    """Transaction-local settings for report reads on PostgreSQL (nothing on SQLite)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(PG_REPORT_SETTINGS)


def _v(fn: Callable[..., Awaitable[ReportTable]], *args: Any) -> Job:
    async def job(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> list[ReportTable]:
        return [await fn(conn, scope, f, *args)]

    return job


async def _requests(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> list[ReportTable]:
    return await volumes.request_tables(conn, scope, f)


async def _totals(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> list[Any]:
    return await bottlenecks.unit_totals(conn, scope, f)


async def _open(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> dict[int, Any]:
    return await bottlenecks.open_counts(conn, scope, f, now)


async def _slowest(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> list[ReportTable]:
    if bottlenecks.histogram_usable(conn, f):
        return [bottlenecks.slowest(await bottlenecks.slowest_candidates(conn, scope, f=f))]
    return [bottlenecks.slowest(await durations.unit_work_per_unit(conn, scope, f))]


JOBS: Final[dict[Section, tuple[Job, ...]]] = {
    Section.VOLUMES: (_requests, _v(volumes.by_unit)),
    Section.DURATIONS: (
        _v(durations.triage), _v(durations.unit_work_per_unit), _v(durations.unit_work_per_province),
        _v(durations.closing), _v(durations.whole),
    ),
    # The totals and the open-assignment counts run side by side, then are merged per unit.
    Section.BOTTLENECKS: (_totals, _open, _slowest),
}
#: The sections that read the trigger-kept counts (their pending changes are folded in first on PostgreSQL).
COUNTED: Final = frozenset({Section.VOLUMES, Section.BOTTLENECKS})
#: Where each table stands on its page.
VOLUME_ORDER: Final = ("hacim-tur", "hacim-durum", "hacim-kanal", "hacim-il", "hacim-ilce", "hacim-birim",
                       "hacim-donem")
BOTTLENECK_ORDER: Final = ("darbogaz-yas", "darbogaz-en-yavas", "darbogaz-iade", "darbogaz-zamaninda")


def _finish(section: Section, results: list[Any]) -> list[ReportTable]:
    if section is Section.BOTTLENECKS:
        totals, opened, slowest = results
        tables = [*bottlenecks.from_counts(bottlenecks.merge_counts(totals, opened)), *slowest]
        return sorted(tables, key=lambda t: BOTTLENECK_ORDER.index(t.name))
    tables = [table for result in results for table in result]
    if section is Section.VOLUMES:
        tables.sort(key=lambda t: VOLUME_ORDER.index(t.name))
    return tables


async def section_tables(
    engine: AsyncEngine, scope: Scope, f: Filters, now: datetime, section: Section
) -> list[ReportTable]:
    """Every table of one report page. PostgreSQL answers the queries side by side on a few pooled
    connections; SQLite (one writer, BEGIN IMMEDIATE) reads them one after another on one connection."""
    jobs = JOBS[section]
    if engine.dialect.name == "postgresql":
        if section in COUNTED:
            await counts.fold(engine)
        gate = asyncio.Semaphore(PARALLEL)

        async def run(job: Job) -> Any:
            async with gate, engine.connect() as conn:
                await tune(conn)
                return await job(conn, scope, f, now)

        results = list(await asyncio.gather(*(run(job) for job in jobs)))
    else:
        async with engine.connect() as conn:
            results = [await job(conn, scope, f, now) for job in jobs]
    return _finish(section, results)


async def find_table(
    engine: AsyncEngine, scope: Scope, f: Filters, now: datetime, name: str
) -> ReportTable | None:
    """One table by its name (for exports); None when no section has it."""
    for section in Section:
        for table in await section_tables(engine, scope, f, now, section):
            if table.name == name:
                return table
    return None
