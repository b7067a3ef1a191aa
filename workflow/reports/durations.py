"""How long each step takes — median and 90th percentile (nearest rank), in the database.

- triage: filing → MİGM's first routing (the earliest top-level assignment), per province;
- unit work: an assignment's arrival → its completion (İŞLEMİ TAMAMLA), per unit and per unit's province;
- closing: the last unit completion → MİGM's conclusion, per province;
- whole: filing → conclusion, per province.
Request-level steps are grouped by the province of the muhtarlık the request came from and read the
trigger-kept ``report_requests`` row (first routing and last completion are kept there).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import and_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Subquery

from workflow.adapters.orm import assignments, units
from workflow.domain.vocabulary import AssignmentState
from workflow.reports.filters import Filters, assigned_window, fact_clause
from workflow.reports.places import province_label
from workflow.reports.schema import report_requests as rr
from workflow.reports.scope import Scope
from workflow.reports.sqlparts import percentiles, seconds_between
from workflow.reports.tables import Col, ColKind, ReportTable, Row

STATS: Final = (
    Col("n", "Adet", ColKind.COUNT),
    Col("median", "Ortanca (gün)", ColKind.DAYS),
    Col("p90", "%90 dilim (gün)", ColKind.DAYS),
)
PROVINCE: Final = Col("province", "İl")
UNIT: Final = Col("unit", "Birim")

a = assignments.c


def _unit_scope(scope: Scope, f: Filters) -> Any:
    own = a.unit_id == f.unit_id if f.unit_id else true()
    return and_(scope.unit_clause(a.unit_id), own)


async def _per_province(conn: AsyncConnection, source: Subquery, name: str, title: str) -> ReportTable:
    stats = percentiles(conn.dialect.name, source, ["province_id"])
    query = stats.order_by(stats.selected_columns.province_id)
    rows = []
    for row in (await conn.execute(query)).all():
        values = {"province": province_label(row.province_id), "n": row.n, "median": row.median, "p90": row.p90}
        rows.append(Row(values, {"il": str(row.province_id)}))
    return ReportTable(name, title, (PROVINCE, *STATS), rows)


def _request_step(conn: AsyncConnection, scope: Scope, f: Filters, start: Any, end: Any) -> Subquery:
    d = seconds_between(conn.dialect.name, start, end)
    return (
        select(rr.c.province_id, d.label("d"))
        .where(start.is_not(None), end.is_not(None), scope.request_clause(rr.c.request_id), fact_clause(f))
        .subquery("step")
    )


async def triage(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _request_step(conn, scope, f, rr.c.created_at, rr.c.first_routed_at)
    return await _per_province(conn, source, "sure-yonlendirme", "Başvurudan ilk yönlendirmeye (MİGM)")


def _unit_work(conn: AsyncConnection, scope: Scope, f: Filters) -> Subquery:
    d = seconds_between(conn.dialect.name, a.assigned_at, a.completed_at)
    return (
        select(a.unit_id, units.c.province_id, d.label("d"))
        .select_from(
            (assignments.join(rr, rr.c.request_id == a.request_id) if f.narrows_requests else assignments)
            .join(units, units.c.id == a.unit_id)
        )
        .where(
            a.state == AssignmentState.COMPLETED.value,
            fact_clause(f) if f.narrows_requests else true(),
            assigned_window(f),
            _unit_scope(scope, f),
        )
        .subquery("unit_work")
    )


async def unit_work_per_unit(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    stats = percentiles(conn.dialect.name, _unit_work(conn, scope, f), ["unit_id"]).subquery("stats")
    query = select(units.c.name, stats).join(units, units.c.id == stats.c.unit_id).order_by(units.c.name)
    rows = [
        Row({"unit": row.name, "n": row.n, "median": row.median, "p90": row.p90}, {"birim": str(row.unit_id)})
        for row in (await conn.execute(query)).all()
    ]
    return ReportTable("sure-birim", "Birimde görevin tamamlanması (birime göre)", (UNIT, *STATS), rows)


async def unit_work_per_province(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _unit_work(conn, scope, f)
    return await _per_province(conn, source, "sure-birim-il", "Birimde görevin tamamlanması (birimin iline göre)")


async def closing(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _request_step(conn, scope, f, rr.c.last_completed_at, rr.c.concluded_at)
    return await _per_province(conn, source, "sure-sonuclandirma", "Son tamamlamadan sonuçlandırmaya (MİGM)")


async def whole(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _request_step(conn, scope, f, rr.c.created_at, rr.c.concluded_at)
    return await _per_province(conn, source, "sure-toplam", "Başvurudan sonuçlanmaya")

