"""The few SQL pieces PostgreSQL and SQLite spell differently, each behind one function.

Percentiles are nearest-rank (the value at position ceil(p·n) in ascending order): PostgreSQL's
``percentile_disc``; on SQLite, which has no ordered-set aggregates, the same rank picked with
``row_number()``/``count()`` window functions. Both are checked against hand-computed figures in the tests.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import ColumnElement, Date, Float, Select, String, case, cast, func, select
from sqlalchemy.sql.expression import Subquery

from workflow.reports.filters import Period

PG_TRUNC: Final = {Period.DAY: "day", Period.WEEK: "week", Period.MONTH: "month"}


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def period_of_day(dialect: str, day: Any, period: Period) -> ColumnElement[str]:
    """The first day (YYYY-MM-DD) of the week (Monday) or month of a YYYY-MM-DD calendar day."""
    if period is Period.DAY:
        return cast(day, String)
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(PG_TRUNC[period], cast(day, Date)), "YYYY-MM-DD")
    if period is Period.WEEK:
        return cast(func.date(day, "weekday 0", "-6 days"), String)
    return cast(func.strftime("%Y-%m-01", day), String)


def percentiles(dialect: str, source: Subquery, keys: list[str], value: str = "d") -> Select[Any]:
    """``keys…, n, median, p90`` of ``source.value`` per group of ``keys`` (nearest rank)."""
    group = [source.c[k] for k in keys]
    v = source.c[value]
    if dialect == "postgresql":
        return select(
            *group,
            func.count().label("n"),
            func.percentile_disc(0.5).within_group(v).label("median"),
            func.percentile_disc(0.9).within_group(v).label("p90"),
        ).group_by(*group)
    ranked = select(
        *group,
        v.label("v"),
        func.row_number().over(partition_by=group, order_by=v).label("rn"),
        func.count().over(partition_by=group).label("cnt"),
    ).subquery("ranked")
    rk = [ranked.c[k] for k in keys]
    # ceil(p·n) in integer arithmetic: (pct·n + 99) / 100.
    k50 = (ranked.c.cnt * 50 + 99) // 100
    k90 = (ranked.c.cnt * 90 + 99) // 100
    return select(
        *rk,
        func.max(ranked.c.cnt).label("n"),
        func.max(case((ranked.c.rn == k50, ranked.c.v))).label("median"),
        func.max(case((ranked.c.rn == k90, ranked.c.v))).label("p90"),
    ).group_by(*rk)
