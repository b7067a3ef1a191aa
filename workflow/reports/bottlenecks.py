"""Where requests wait: open assignments by age, overdue counts, hand-backs and an honest on-time rate.

An assignment's age is whole days since it reached the unit (``now`` is passed in, never read here).
On time means completed by its due date; late means completed after it *or still open past it* — leaving
open overdue work out would flatter exactly the units that are furthest behind.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Final

from sqlalchemy import and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters.orm import assignments, units
from workflow.domain.vocabulary import OPEN_ASSIGNMENT_STATES, AssignmentState
from workflow.reports.filters import Filters, assigned_window, fact_clause
from workflow.reports.schema import report_requests as rr
from workflow.reports.scope import Scope
from workflow.reports.tables import Col, ColKind, ReportTable, Row

#: (key used in links, Turkish header, lowest age in days, highest age in days or None)
AGE_BUCKETS: Final = (
    ("0-7", "0–7 gün", 0, 7),
    ("8-15", "8–15 gün", 8, 15),
    ("16-30", "16–30 gün", 16, 30),
    ("30+", "30 günden fazla", 31, None),
)
AGE_KEYS: Final = frozenset(key for key, *_ in AGE_BUCKETS)
OPEN: Final = tuple(s.value for s in OPEN_ASSIGNMENT_STATES)
UNIT: Final = Col("unit", "Birim")

a = assignments.c


def age_clause(key: str, now: datetime) -> Any:
    """Assignments whose age in whole days falls in the bucket ``key``."""
    _, _, low, high = next(b for b in AGE_BUCKETS if b[0] == key)
    upper = a.assigned_at <= now - timedelta(days=low)
    return upper if high is None else and_(upper, a.assigned_at > now - timedelta(days=high + 1))


def _base(scope: Scope, f: Filters) -> Any:
    """Assignments of the scope's units (which puts their requests in scope) on filtered requests."""
    own = a.unit_id == f.unit_id if f.unit_id else true()
    narrowed = fact_clause(f) if f.narrows_requests else true()
    return and_(narrowed, assigned_window(f), scope.unit_clause(a.unit_id), own)


def _from(f: Filters) -> Any:
    """Assignments; the request summary joins only when a filter needs it (it costs)."""
    return assignments.join(rr, rr.c.request_id == a.request_id) if f.narrows_requests else assignments


async def unit_totals(conn: AsyncConnection, scope: Scope, f: Filters) -> list[Any]:
    """Per unit: assignments received, handed back, completed on time and late — one pass with few, simple
    conditions, grouped by unit id alone (names are joined to the small result)."""
    done = a.state == AssignmentState.COMPLETED.value
    totals = (
        select(
            a.unit_id,
            func.count().label("total"),
            func.count().filter(a.state == AssignmentState.HANDED_BACK.value).label("back"),
            func.count().filter(and_(done, a.completed_at <= a.due_at)).label("on"),
            func.count().filter(and_(done, a.completed_at > a.due_at)).label("late_done"),
        )
        .select_from(_from(f))
        .where(_base(scope, f))
        .group_by(a.unit_id)
        .subquery("totals")
    )
    named = select(units.c.id, units.c.name, totals.c.total, totals.c.back, totals.c.on, totals.c.late_done).join(
        units, units.c.id == totals.c.unit_id
    )
    return list((await conn.execute(named)).all())


async def open_counts(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> dict[int, Any]:
    """Per unit id: open assignments by age bucket, overdue and in all — a pass over the open ones only."""
    ages = [func.count().filter(age_clause(key, now)).label(f"b{i}") for i, (key, *_) in enumerate(AGE_BUCKETS)]
    query = (
        select(a.unit_id, *ages, func.count().filter(a.due_at < now).label("overdue"), func.count().label("open"))
        .select_from(_from(f))
        .where(_base(scope, f), a.state.in_(OPEN))
        .group_by(a.unit_id)
    )
    return {row.unit_id: row for row in (await conn.execute(query)).all()}


def merge_counts(totals: list[Any], opened: dict[int, Any]) -> list[Any]:
    """One record per unit with every count the bottleneck tables read."""
    empty = {f"b{i}": 0 for i in range(len(AGE_BUCKETS))} | {"overdue": 0, "open": 0}
    out = []
    for row in totals:
        values = dict(row._mapping)
        o = opened.get(row.id)
        values.update({k: getattr(o, k) for k in empty} if o is not None else empty)
        out.append(SimpleNamespace(**values))
    return out


def open_by_age(counts: list[Any]) -> ReportTable:
    columns = (
        UNIT,
        *(Col(f"b{i}", label, ColKind.COUNT, (("yas", key),)) for i, (key, label, *_) in enumerate(AGE_BUCKETS)),
        Col("overdue", "Süresi geçmiş", ColKind.COUNT, (("geciken", "1"),)),
        Col("total", "Açık görev", ColKind.COUNT, (("acik", "1"),)),
    )
    rows = []
    for row in sorted((r for r in counts if r.open), key=lambda r: (-r.open, r.name)):
        values = {"unit": row.name, "overdue": row.overdue, "total": row.open}
        values.update({f"b{i}": getattr(row, f"b{i}") for i in range(len(AGE_BUCKETS))})
        rows.append(Row(values, {"birim": str(row.id)}))
    return ReportTable("darbogaz-yas", "Açık görevler: bekleme süresine göre", columns, rows)


def handbacks(counts: list[Any]) -> ReportTable:
    columns = (
        UNIT,
        Col("total", "Gelen görev", ColKind.COUNT),
        Col("back", "İade edilen", ColKind.COUNT, (("iade", "1"),)),
        Col("rate", "İade oranı", ColKind.PERCENT),
    )
    rows = [
        Row({"unit": r.name, "total": r.total, "back": r.back, "rate": r.back / r.total}, {"birim": str(r.id)})
        for r in sorted(counts, key=lambda r: (-r.back / r.total, r.name))
    ]
    return ReportTable("darbogaz-iade", "Birimlerin iade oranı", columns, rows)


def on_time(counts: list[Any]) -> ReportTable:
    columns = (
        UNIT,
        Col("on", "Süresinde tamamlanan", ColKind.COUNT),
        Col("late_done", "Geç tamamlanan", ColKind.COUNT),
        Col("late_open", "Süresi geçmiş, açık", ColKind.COUNT, (("geciken", "1"),)),
        Col("rate", "Zamanında tamamlama oranı", ColKind.PERCENT),
    )
    rows = []
    for r in counts:
        decided = r.on + r.late_done + r.overdue
        if decided:
            values = {"unit": r.name, "on": r.on, "late_done": r.late_done, "late_open": r.overdue,
                      "rate": r.on / decided}
            rows.append(Row(values, {"birim": str(r.id)}))
    rows.sort(key=lambda row: (row.values["rate"], row.values["unit"]))
    note = "Süresi geçtiği hâlde açık olan görevler geç sayılır; süresi dolmamış açık görevler oranda yer almaz."
    return ReportTable("darbogaz-zamaninda", "Zamanında tamamlama oranı", columns, rows, note)


def slowest(per_unit: ReportTable, limit: int = 10) -> ReportTable:
    """The units with the longest median completion, from the per-unit duration table."""
    ranked = sorted(per_unit.rows, key=lambda r: (-r.values["median"], r.values["unit"]))[:limit]
    return ReportTable(
        "darbogaz-en-yavas", "Ortanca tamamlama süresi en uzun birimler", per_unit.columns, ranked
    )


def from_counts(counts: list[Any]) -> list[ReportTable]:
    return [open_by_age(counts), handbacks(counts), on_time(counts)]
