"""Reading the trigger-kept counts of 0011_report_counts, exactly, for any date range.

Day counts (``report_volume_days``) answer any range of Istanbul days. Month counts (places, units) answer
the whole months inside a range; the days at either end that do not fill a month are read from the same
counts kept per day, and the two are added. PostgreSQL's triggers append changes to
``<table>_delta`` instead of updating shared rows, so every read adds the delta rows too (one statement,
one snapshot: always exact); ``fold`` moves them into the counts from time to time.
"""

from __future__ import annotations

import logging
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Table, and_, false, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.reports.filters import Filters
from workflow.reports.schema import COUNT_TABLES, DAY_TABLE

log = logging.getLogger(__name__)
#: One folder at a time (the others read the counts plus the pending changes, which is just as exact).
FOLD_LOCK: Final = 0x6D75_6B30  # "muk0"


@dataclass(frozen=True)
class Split:
    """A date range as whole months (inclusive YYYY-MM bounds, None for open ends) and edge day ranges."""

    first_month: str | None
    last_month: str | None
    edges: tuple[tuple[date, date], ...]
    no_months: bool = False


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def _last_day(day: date) -> date:
    return day.replace(day=monthrange(day.year, day.month)[1])


def split(f: Filters) -> Split:
    start, end = f.start, f.end
    if start and end and (start.year, start.month) == (end.year, end.month):
        if start.day == 1 and end == _last_day(end):
            return Split(_month(start), _month(end), ())
        return Split(None, None, ((start, end),), no_months=True)
    edges: list[tuple[date, date]] = []
    first = last = None
    if start:
        if start.day == 1:
            first = _month(start)
        else:
            edges.append((start, _last_day(start)))
            first = _month(_last_day(start) + timedelta(days=1))
    if end:
        if end == _last_day(end):
            last = _month(end)
        else:
            edges.append((end.replace(day=1), end))
            last = _month(end.replace(day=1) - timedelta(days=1))
    return Split(first, last, tuple(edges))


def month_clause(column: Any, s: Split) -> ColumnElement[bool]:
    if s.no_months:
        return false()
    parts = []
    if s.first_month:
        parts.append(column >= s.first_month)
    if s.last_month:
        parts.append(column <= s.last_month)
    return and_(true(), *parts)


def counted(table: Table, columns: list[str], where: Any) -> list[Any]:
    """``columns`` of a counts table and of its pending changes: two parts of a UNION ALL to group."""
    delta = next(d for t, d, _, _ in COUNT_TABLES if t is table)
    return [select(*(t.c[c] for c in columns)).where(where(t)) for t in (table, delta)]


def ranged(table: Table, columns: list[str], f: Filters, extra: Any = None) -> list[Any]:
    """``columns`` within ``f``'s date range: the month table for whole months and its day table for the days
    at the ends, each with its pending changes; ``extra(table)`` adds conditions (scope, unit)."""
    s = split(f)

    def more(t: Table) -> Any:
        return extra(t) if extra is not None else true()

    parts = [] if s.no_months else counted(table, columns, lambda t: and_(month_clause(t.c.month, s), more(t)))
    if s.edges:
        def in_edges(t: Table) -> Any:
            days = or_(*(t.c.local_day.between(a.isoformat(), b.isoformat()) for a, b in s.edges))
            return and_(days, more(t))

        parts += counted(DAY_TABLE[table], columns, in_edges)
    return parts


async def fold(engine: AsyncEngine) -> None:
    """PostgreSQL: move the pending changes into the counts (in key order, so folders never deadlock)."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        if not (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FOLD_LOCK})).scalar():
            return
        for table, delta, keys, counts in COUNT_TABLES:
            key_list = ", ".join(keys)
            all_columns = ", ".join((*keys, *counts))
            sums = ", ".join(f"sum({c})" for c in counts)
            updates = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in counts)
            result = await conn.execute(text(
                f"WITH d AS (DELETE FROM {delta.name} RETURNING {all_columns}) "
                f"INSERT INTO {table.name} ({all_columns}) SELECT {key_list}, {sums} FROM d "
                f"GROUP BY {key_list} ORDER BY {key_list} "
                f"ON CONFLICT ({key_list}) DO UPDATE SET {updates}"
            ))
            if result.rowcount:
                log.debug("report counts: %d keys of %s folded", result.rowcount, table.name)
