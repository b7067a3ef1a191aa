"""Request volumes by kind, state, channel, province, district, unit and period — counted in SQL.

Request-level counts read ``report_requests`` (one narrow row per request, kept by triggers); the unit
count reads assignments joined to it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Final

from sqlalchemy import and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters.orm import assignments, units
from workflow.domain.vocabulary import KIND_LABELS, STATE_LABELS, Channel
from workflow.reports.filters import PERIOD_LABELS, Filters, Period, assigned_window, fact_clause
from workflow.reports.places import district_label, province_label
from workflow.reports.schema import report_requests as rr
from workflow.reports.scope import Scope
from workflow.reports.sqlparts import period_of_day
from workflow.reports.tables import Col, ColKind, ReportTable, Row

CHANNEL_LABELS: Final = {Channel.WEB: "Web", Channel.SMS: "SMS", Channel.USSD: "USSD"}
COUNT: Final = Col("count", "Talep sayısı", ColKind.COUNT)


def _where(scope: Scope, f: Filters) -> Any:
    return and_(scope.request_clause(rr.c.request_id), fact_clause(f))


async def _rows(conn: AsyncConnection, query: Any) -> list[Any]:
    return list((await conn.execute(query)).all())


async def by_column(conn: AsyncConnection, scope: Scope, f: Filters, dimension: str) -> ReportTable:
    """Kind, state or channel: one row per value the data holds."""
    spec: dict[str, tuple[Any, str, str, dict[Any, str]]] = {
        "kind": (rr.c.kind, "tur", "Başvuru türü", {k.value: v for k, v in KIND_LABELS.items()}),
        "state": (rr.c.state, "durum", "Durum", {k.value: v for k, v in STATE_LABELS.items()}),
        "channel": (rr.c.channel, "kanal", "Kanal", {k.value: v for k, v in CHANNEL_LABELS.items()}),
    }
    column, param, header, labels = spec[dimension]
    query = select(column, func.count()).where(_where(scope, f)).group_by(column).order_by(column)
    rows = [
        Row({"label": labels.get(value, value), "count": n}, {param: value})
        for value, n in await _rows(conn, query)
    ]
    titles = {"kind": "Başvuru türüne göre", "state": "Duruma göre", "channel": "Kanala göre"}
    return ReportTable(f"hacim-{param}", titles[dimension], (Col("label", header), COUNT), rows)


async def by_place(conn: AsyncConnection, scope: Scope, f: Filters, district: bool) -> ReportTable:
    """Per province (ranked, most first) or per district, by the muhtarlık the request came from."""
    keys = [rr.c.province_id] + ([rr.c.district_id] if district else [])
    query = (
        select(*keys, func.count().label("n"))
        .where(_where(scope, f))
        .group_by(*keys)
        .order_by(func.count().desc(), *keys)
    )
    rows = []
    for row in await _rows(conn, query):
        link = {"il": str(row.province_id)}
        values: dict[str, Any] = {"province": province_label(row.province_id), "count": row.n}
        if district:
            link["ilce"] = str(row.district_id)
            values["district"] = district_label(row.district_id)
        rows.append(Row(values, link))
    cols = (Col("province", "İl"),) + ((Col("district", "İlçe"),) if district else ()) + (COUNT,)
    name, title = ("hacim-ilce", "İlçeye göre") if district else ("hacim-il", "İle göre")
    return ReportTable(name, title, cols, rows)


async def by_unit(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    """Requests routed or forwarded to each unit (a request routed to two units counts for both)."""
    a = assignments.c
    # Count per unit id first (PostgreSQL reads the (unit_id, request_id) index in order), names after.
    per_unit = (
        select(a.unit_id, func.count(a.request_id.distinct()).label("n"))
        .select_from(assignments.join(rr, rr.c.request_id == a.request_id) if f.narrows_requests else assignments)
        .where(fact_clause(f) if f.narrows_requests else true(), assigned_window(f), scope.unit_clause(a.unit_id))
        .group_by(a.unit_id)
        .subquery("per_unit")
    )
    query = (
        select(units.c.id, units.c.name, per_unit.c.n)
        .select_from(per_unit.join(units, units.c.id == per_unit.c.unit_id))
        .order_by(per_unit.c.n.desc(), units.c.name)
    )
    rows = [Row({"unit": name, "count": n}, {"birim": str(uid)}) for uid, name, n in await _rows(conn, query)]
    return ReportTable("hacim-birim", "Birime göre", (Col("unit", "Birim"), COUNT), rows)


async def by_period(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    """Filed requests per day, week or month (Istanbul calendar), oldest first: the trend line's data."""
    # Count per Istanbul day first (a small result), then roll the days up into weeks or months.
    days = (
        select(rr.c.local_day.label("day"), func.count().label("n"))
        .where(_where(scope, f))
        .group_by(rr.c.local_day)
        .subquery("days")
    )
    bucket = period_of_day(conn.dialect.name, days.c.day, f.period).label("bucket")
    query = select(bucket, func.sum(days.c.n)).group_by(bucket).order_by(bucket)
    rows = [Row({"period": b, "count": n}, period_link(f, str(b))) for b, n in await _rows(conn, query)]
    title = f"Döneme göre ({PERIOD_LABELS[f.period].lower()})"
    return ReportTable("hacim-donem", title, (Col("period", "Dönem başı", ColKind.DATE), COUNT), rows)


def period_link(f: Filters, first_day: str) -> dict[str, str]:
    """The date range of one period bucket, kept inside the filter's own range."""
    start = date.fromisoformat(first_day[:10])
    if f.period is Period.DAY:
        end = start
    elif f.period is Period.WEEK:
        end = start + timedelta(days=6)
    else:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if f.start and f.start > start:
        start = f.start
    if f.end and f.end < end:
        end = f.end
    return {"bas": start.isoformat(), "bit": end.isoformat()}

