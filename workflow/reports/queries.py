"""The report queries' one entry point: every figure is computed by the database, within the viewer's scope.

``load_scope(engine, staff_user_id)`` (workflow.reports.scope) gives the scope from the user's own unit;
the section functions below take it and never widen it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.reports import schema as _schema  # noqa: F401  (the report indexes join the metadata)
from workflow.reports.bottlenecks import all_bottlenecks
from workflow.reports.durations import all_durations
from workflow.reports.filters import Filters
from workflow.reports.scope import Scope
from workflow.reports.tables import ReportTable
from workflow.reports.volumes import all_volumes


class Section(StrEnum):
    VOLUMES = "hacim"
    DURATIONS = "sureler"
    BOTTLENECKS = "darbogazlar"


SECTION_TITLES: Final = {
    Section.VOLUMES: "Talep sayıları",
    Section.DURATIONS: "Süreler",
    Section.BOTTLENECKS: "Darboğazlar",
}

Builder = Callable[[AsyncConnection, Scope, Filters, datetime], Awaitable[list[ReportTable]]]


async def _volumes(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> list[ReportTable]:
    return await all_volumes(conn, scope, f)


async def _durations(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> list[ReportTable]:
    return await all_durations(conn, scope, f)


BUILDERS: Final[dict[Section, Builder]] = {
    Section.VOLUMES: _volumes,
    Section.DURATIONS: _durations,
    Section.BOTTLENECKS: all_bottlenecks,
}


async def section_tables(
    engine: AsyncEngine, scope: Scope, f: Filters, now: datetime, section: Section
) -> list[ReportTable]:
    """Every table of one report page, read in one read-only connection."""
    async with engine.connect() as conn:
        return await BUILDERS[section](conn, scope, f, now)


async def find_table(
    engine: AsyncEngine, scope: Scope, f: Filters, now: datetime, name: str
) -> ReportTable | None:
    """One table by its name (for exports); None when no section has it."""
    for section in Section:
        for table in await section_tables(engine, scope, f, now, section):
            if table.name == name:
                return table
    return None
