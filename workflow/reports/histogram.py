"""Exact median and 90th percentile (nearest rank, to the second) from a trigger-kept work-time histogram.

A histogram (0011's ``report_work_days``, 0012's keyed ``report_work_days_keyed`` and
``report_work_province_days_keyed``) counts completions per group and whole day of work. From it each
group's total and the day its k-th value falls in are known; the value itself is then the k-th entry of that
day in a ``(group, seconds)`` index — a skip over the entries of one day instead of sorting every completion.
PostgreSQL only (SQLite cannot skip a number of index entries given by the outer row).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import CTE, Integer, cast, func, select, union_all
from sqlalchemy.sql.expression import Subquery

from workflow.reports import counts
from workflow.reports.schema import COUNT_TABLES

#: (day, k) → the k-th value (seconds) within that whole day of work for the outer row's group
Lookup = Callable[[Any, Any], Any]


def histogram(table: Any, group: str, where: Callable[[Any], Any]) -> Subquery:
    """``g, work_day, n`` of a histogram table plus its pending changes, summed over its other keys."""
    assert any(t is table for t, _, _, _ in COUNT_TABLES)
    h = union_all(*counts.counted(table, [group, "work_day", "n"], where)).subquery("h")
    return (
        select(h.c[group].label("g"), h.c.work_day, cast(func.sum(h.c.n), Integer).label("n"))
        .group_by(h.c[group], h.c.work_day)
        .having(func.sum(h.c.n) != 0)
        .subquery("g")
    )


def day_ranks(g: Subquery) -> CTE:
    """Per group: ``total``, and for the median and the 90th percentile the day (``median_day``,
    ``p90_day``) and the rank within that day (``median_k``, ``p90_k``)."""
    c = select(
        g.c.g, g.c.work_day, g.c.n,
        func.sum(g.c.n).over(partition_by=g.c.g, order_by=g.c.work_day).label("upto"),
        func.sum(g.c.n).over(partition_by=g.c.g).label("total"),
    ).cte("c")  # a CTE, read by both percentiles: computed once

    def rank(pct: int) -> Any:  # nearest rank ceil(pct/100 · n) in integer arithmetic
        return (c.c.total * pct + 99) // 100

    def day_of(pct: int, name: str) -> Any:
        before = c.c.upto - c.c.n
        return select(c.c.g, c.c.total, c.c.work_day.label(f"{name}_day"),
                      (rank(pct) - before).label(f"{name}_k")).where(before < rank(pct), rank(pct) <= c.c.upto)

    med = day_of(50, "median").subquery("med")
    p90 = day_of(90, "p90").subquery("p90")
    return (
        select(med.c.g, med.c.total, med.c.median_day, med.c.median_k, p90.c.p90_day, p90.c.p90_k)
        .join(p90, p90.c.g == med.c.g)
        .cte("both")
    )


def kth(seconds: Any, group_match: Any, more: Any, day: Any, k: Any) -> Any:
    """The k-th ``seconds`` value from the start of ``day`` among rows matching ``group_match`` and
    ``more`` (read in index order)."""
    return (
        select(seconds)
        .where(group_match, seconds >= day * 86400, more)
        .order_by(seconds)
        .offset(k - 1)
        .limit(1)
        .scalar_subquery()
    )


def stats(ranked: Any, lookup: Lookup) -> list[Any]:
    """``n``, ``median`` and ``p90`` columns of a ``day_ranks`` row (or a row selected from it)."""
    return [
        ranked.c.total.label("n"),
        lookup(ranked.c.median_day, ranked.c.median_k).label("median"),
        lookup(ranked.c.p90_day, ranked.c.p90_k).label("p90"),
    ]
