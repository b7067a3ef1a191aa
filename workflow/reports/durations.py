"""How long each step takes — median and 90th percentile (nearest rank), in the database.

- triage: filing → MİGM's first routing (the earliest top-level assignment), per province;
- unit work: an assignment's arrival → its completion (İŞLEMİ TAMAMLA), per unit and per unit's province;
- closing: the last unit completion → MİGM's conclusion, per province;
- whole: filing → conclusion, per province.
Request-level steps are grouped by the province of the muhtarlık the request came from and read the
trigger-kept ``report_requests`` row (its generated ``*_seconds`` columns); unit work reads ``report_work``
(one row per completed assignment, kept by triggers). Both are in whole seconds with ``(group, seconds)``
indexes, so PostgreSQL feeds each group's values to the percentile already sorted from an index-only scan.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import and_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Subquery

from workflow.adapters.orm import units
from workflow.reports.filters import Filters, fact_clause, keyed_clause, work_dates
from workflow.reports.places import province_label
from workflow.reports.schema import report_requests as rr
from workflow.reports.schema import report_work as rw
from workflow.reports.scope import Scope
from workflow.reports.sqlparts import percentiles
from workflow.reports.tables import Col, ColKind, ReportTable, Row

STATS: Final = (
    Col("n", "Adet", ColKind.COUNT),
    Col("median", "Ortanca (gün)", ColKind.DAYS),
    Col("p90", "%90 dilim (gün)", ColKind.DAYS),
)
PROVINCE: Final = Col("province", "İl")
UNIT: Final = Col("unit", "Birim")

w = rw.c


def _unit_scope(scope: Scope, f: Filters) -> Any:
    own = w.unit_id == f.unit_id if f.unit_id else true()
    return and_(scope.unit_clause(w.unit_id), own)


async def _per_province(conn: AsyncConnection, source: Subquery, name: str, title: str) -> ReportTable:
    """``source`` has the province as ``g`` and seconds as ``d``."""
    stats = percentiles(conn.dialect.name, source, ["g"])
    query = stats.order_by(stats.selected_columns.g)
    rows = []
    for row in (await conn.execute(query)).all():
        values = {"province": province_label(row.g), "n": row.n, "median": row.median, "p90": row.p90}
        rows.append(Row(values, {"il": str(row.g)}))
    return ReportTable(name, title, (PROVINCE, *STATS), rows)


def _request_step(scope: Scope, f: Filters, seconds: Any) -> Subquery:
    return (
        select(rr.c.province_id.label("g"), seconds.label("d"))
        .where(seconds.is_not(None), scope.request_clause(rr.c.request_id), fact_clause(f))
        .subquery("step")
    )


async def triage(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _request_step(scope, f, rr.c.triage_seconds)
    return await _per_province(conn, source, "sure-yonlendirme", "Başvurudan ilk yönlendirmeye (MİGM)")


def _unit_work(scope: Scope, f: Filters, group: Any) -> Subquery:
    """Completed assignments' work seconds with ``group`` (the unit or its province). Dates, kind, state and
    channel filter the request's values copied onto the row itself (0012: PostgreSQL's (group, seconds)
    indexes carry them, so the scan stays index-only); only a place filter joins the request summary."""
    source: Any = rw
    where = and_(work_dates(f), keyed_clause(f, w.request_kind, w.request_state, w.request_channel))
    if f.by_place:
        source, where = rw.join(rr, rr.c.request_id == w.request_id), fact_clause(f)
    return (
        select(group.label("g"), w.seconds.label("d"))
        .select_from(source)
        .where(where, _unit_scope(scope, f))
        .subquery("unit_work")
    )


async def unit_work_per_unit(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    stats = percentiles(conn.dialect.name, _unit_work(scope, f, w.unit_id), ["g"]).subquery("stats")
    query = select(units.c.name, stats).join(units, units.c.id == stats.c.g).order_by(units.c.name)
    rows = [
        Row({"unit": row.name, "n": row.n, "median": row.median, "p90": row.p90}, {"birim": str(row.g)})
        for row in (await conn.execute(query)).all()
    ]
    return ReportTable("sure-birim", "Birimde görevin tamamlanması (birime göre)", (UNIT, *STATS), rows)


async def unit_work_per_province(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _unit_work(scope, f, w.unit_province_id)
    return await _per_province(conn, source, "sure-birim-il", "Birimde görevin tamamlanması (birimin iline göre)")


async def closing(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _request_step(scope, f, rr.c.closing_seconds)
    return await _per_province(conn, source, "sure-sonuclandirma", "Son tamamlamadan sonuçlandırmaya (MİGM)")


async def whole(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _request_step(scope, f, rr.c.whole_seconds)
    return await _per_province(conn, source, "sure-toplam", "Başvurudan sonuçlanmaya")

