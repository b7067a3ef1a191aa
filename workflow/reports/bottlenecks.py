"""Where requests wait: open assignments by age, overdue counts, hand-backs and an honest on-time rate.

An assignment's age is whole days since it reached the unit (``now`` is passed in, never read here).
On time means completed by its due date; late means completed after it *or still open past it* — leaving
open overdue work out would flatter exactly the units that are furthest behind.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Float, and_, case, cast, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters.orm import assignments, units
from workflow.domain.vocabulary import OPEN_ASSIGNMENT_STATES, AssignmentState
from workflow.reports.durations import unit_work_per_unit
from workflow.reports.filters import Filters, fact_clause
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
    return and_(fact_clause(f), scope.unit_clause(a.unit_id), own)


def _from() -> Any:
    return assignments.join(rr, rr.c.request_id == a.request_id).join(units, units.c.id == a.unit_id)


def _n(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def open_by_age(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> ReportTable:
    cols = [_n(age_clause(key, now)).label(f"b{i}") for i, (key, *_) in enumerate(AGE_BUCKETS)]
    query = (
        select(units.c.id, units.c.name, *cols, _n(a.due_at < now).label("overdue"), func.count().label("total"))
        .select_from(_from())
        .where(a.state.in_(OPEN), _base(scope, f))
        .group_by(units.c.id, units.c.name)
        .order_by(func.count().desc(), units.c.name)
    )
    columns = (
        UNIT,
        *(Col(f"b{i}", label, ColKind.COUNT, (("yas", key),)) for i, (key, label, *_) in enumerate(AGE_BUCKETS)),
        Col("overdue", "Süresi geçmiş", ColKind.COUNT, (("geciken", "1"),)),
        Col("total", "Açık görev", ColKind.COUNT, (("acik", "1"),)),
    )
    rows = []
    for row in (await conn.execute(query)).all():
        values = {"unit": row.name, "overdue": row.overdue, "total": row.total}
        values.update({f"b{i}": getattr(row, f"b{i}") for i in range(len(AGE_BUCKETS))})
        rows.append(Row(values, {"birim": str(row.id)}))
    return ReportTable("darbogaz-yas", "Açık görevler: bekleme süresine göre", columns, rows)


async def handbacks(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    back = _n(a.state == AssignmentState.HANDED_BACK.value)
    rate = cast(back, Float) / func.count()
    query = (
        select(units.c.id, units.c.name, func.count().label("total"), back.label("back"), rate.label("rate"))
        .select_from(_from())
        .where(_base(scope, f))
        .group_by(units.c.id, units.c.name)
        .order_by(rate.desc(), units.c.name)
    )
    columns = (
        UNIT,
        Col("total", "Gelen görev", ColKind.COUNT),
        Col("back", "İade edilen", ColKind.COUNT, (("iade", "1"),)),
        Col("rate", "İade oranı", ColKind.PERCENT),
    )
    rows = [
        Row({"unit": row.name, "total": row.total, "back": row.back, "rate": row.rate}, {"birim": str(row.id)})
        for row in (await conn.execute(query)).all()
    ]
    return ReportTable("darbogaz-iade", "Birimlerin iade oranı", columns, rows)


async def on_time(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> ReportTable:
    done = a.state == AssignmentState.COMPLETED.value
    on = _n(and_(done, a.completed_at <= a.due_at))
    late_done = _n(and_(done, a.completed_at > a.due_at))
    late_open = _n(and_(a.state.in_(OPEN), a.due_at < now))
    decided = on + late_done + late_open
    rate = case((decided > 0, cast(on, Float) / decided), else_=None)
    query = (
        select(
            units.c.id, units.c.name, on.label("on"), late_done.label("late_done"),
            late_open.label("late_open"), rate.label("rate"),
        )
        .select_from(_from())
        .where(_base(scope, f))
        .group_by(units.c.id, units.c.name)
        .having(decided > 0)
        .order_by(rate, units.c.name)
    )
    columns = (
        UNIT,
        Col("on", "Süresinde tamamlanan", ColKind.COUNT),
        Col("late_done", "Geç tamamlanan", ColKind.COUNT),
        Col("late_open", "Süresi geçmiş, açık", ColKind.COUNT, (("geciken", "1"),)),
        Col("rate", "Zamanında tamamlama oranı", ColKind.PERCENT),
    )
    rows = [
        Row(
            {"unit": row.name, "on": row.on, "late_done": row.late_done, "late_open": row.late_open,
             "rate": row.rate},
            {"birim": str(row.id)},
        )
        for row in (await conn.execute(query)).all()
    ]
    note = "Süresi geçtiği hâlde açık olan görevler geç sayılır; süresi dolmamış açık görevler oranda yer almaz."
    return ReportTable("darbogaz-zamaninda", "Zamanında tamamlama oranı", columns, rows, note)


async def all_bottlenecks(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> list[ReportTable]:
    return [
        await open_by_age(conn, scope, f, now),
        await unit_work_per_unit(conn, scope, f, slowest=10),
        await handbacks(conn, scope, f),
        await on_time(conn, scope, f, now),
    ]
