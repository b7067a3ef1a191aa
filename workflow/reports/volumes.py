"""Request volumes by kind, state, channel, province, district, unit and period — counted in SQL.

Request-level counts read ``report_requests`` (one narrow row per request, kept by triggers); the unit
count reads assignments joined to it. For the whole country without a place or unit filter they read the
trigger-kept counts of 0011_report_counts instead (workflow/reports/counts.py): per day × kind × state ×
channel, per month (and day) × province × district and per unit × month (and day) — and, when kind, state
or channel is set, the keyed variants of the last two (0012_report_keyed_counts).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Final

from sqlalchemy import Integer, String, and_, cast, func, literal, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters.orm import assignments, units
from workflow.domain.vocabulary import KIND_LABELS, STATE_LABELS, Channel
from workflow.reports import counts
from workflow.reports.filters import (
    PERIOD_LABELS,
    Filters,
    Period,
    assigned_window,
    fact_clause,
    keyed_clause,
)
from workflow.reports.places import district_label, province_label
from workflow.reports.schema import places_keyed, unit_counts, unit_counts_keyed, volume_days, volume_places
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


def day_counts_usable(scope: Scope, f: Filters) -> bool:
    """The day counts hold every request-level filter but place and unit, and no scope."""
    return scope.is_all and not (f.province_id or f.district_id or f.unit_id)


def month_counts_usable(scope: Scope, f: Filters) -> bool:
    """The place and unit counts hold the filing month (dates); their keyed variants (0012) also kind, state
    and channel."""
    return day_counts_usable(scope, f)


def _keyed(f: Filters) -> Any:
    """``extra`` for counts.ranged: the kind, state and channel of a keyed counts table."""
    return lambda t: keyed_clause(f, t.c.kind, t.c.state, t.c.channel)


def _days(f: Filters, *columns: str) -> Any:
    """``columns`` and ``n`` of the day counts (and pending changes) within the filters."""

    def where(t: Any) -> Any:
        parts = [t.c[c] == v.value for c, v in (("kind", f.kind), ("state", f.state), ("channel", f.channel)) if v]
        if f.start:
            parts.append(t.c.local_day >= f.start.isoformat())
        if f.end:
            parts.append(t.c.local_day <= f.end.isoformat())
        return and_(true(), *parts)

    return union_all(*counts.counted(volume_days, [*columns, "n"], where)).subquery("day_counts")


COLUMNS: Final[dict[str, tuple[str, str, str, dict[Any, str]]]] = {
    "kind": ("tur", "Başvuru türü", "Başvuru türüne göre", {k.value: v for k, v in KIND_LABELS.items()}),
    "state": ("durum", "Durum", "Duruma göre", {k.value: v for k, v in STATE_LABELS.items()}),
    "channel": ("kanal", "Kanal", "Kanala göre", {k.value: v for k, v in CHANNEL_LABELS.items()}),
}


def column_table(dimension: str, counted: list[tuple[Any, int]]) -> ReportTable:
    """Kind, state or channel: one row per value the data holds, in value order."""
    param, header, title, labels = COLUMNS[dimension]
    rows = [
        Row({"label": labels.get(value, value), "count": n}, {param: value})
        for value, n in sorted(counted, key=lambda vn: str(vn[0]))
    ]
    return ReportTable(f"hacim-{param}", title, (Col("label", header), COUNT), rows)


def place_table(district: bool, counted: list[tuple[Any, ...]]) -> ReportTable:
    """Per province (ranked, most first) or per district, by the muhtarlık the request came from;
    ``counted`` holds (province, n) or (province, district, n)."""

    def order(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return (-row[-1], *((key is None, key or 0) for key in row[:-1]))

    rows = []
    for row in sorted(counted, key=order):
        province_id, n = row[0], row[-1]
        link = {"il": str(province_id)}
        values: dict[str, Any] = {"province": province_label(province_id), "count": n}
        if district:
            link["ilce"] = str(row[1])
            values["district"] = district_label(row[1])
        rows.append(Row(values, link))
    cols = (Col("province", "İl"),) + ((Col("district", "İlçe"),) if district else ()) + (COUNT,)
    name, title = ("hacim-ilce", "İlçeye göre") if district else ("hacim-il", "İle göre")
    return ReportTable(name, title, cols, rows)


def period_table(f: Filters, counted: list[tuple[Any, int]]) -> ReportTable:
    rows = [Row({"period": b, "count": n}, period_link(f, str(b))) for b, n in sorted(counted)]
    title = f"Döneme göre ({PERIOD_LABELS[f.period].lower()})"
    return ReportTable("hacim-donem", title, (Col("period", "Dönem başı", ColKind.DATE), COUNT), rows)


async def request_tables(conn: AsyncConnection, scope: Scope, f: Filters) -> list[ReportTable]:
    """The request-level tables (kind, state, channel, province, district, period): from the counts where
    they answer, otherwise one pass over the scope's filtered ``report_requests`` rows for all six."""
    if not month_counts_usable(scope, f):
        return await _request_tables_from_base(conn, scope, f)
    tables = []
    for dimension in COLUMNS:
        source = _days(f, dimension)
        total = func.sum(source.c.n)
        query = select(source.c[dimension], total).group_by(source.c[dimension]).having(total != 0)
        tables.append(column_table(dimension, [(v, n) for v, n in await _rows(conn, query)]))
    for district in (False, True):
        rows = await _rows(conn, _places_from_counts(f, district))
        tables.append(place_table(district, [tuple(row) for row in rows]))
    source = _days(f, "local_day")
    days = (
        select(source.c.local_day.label("day"), func.sum(source.c.n).label("n"))
        .group_by(source.c.local_day)
        .having(func.sum(source.c.n) != 0)
        .subquery("days")
    )
    bucket = period_of_day(conn.dialect.name, days.c.day, f.period).label("bucket")
    query = select(bucket, func.sum(days.c.n)).group_by(bucket)
    tables.append(period_table(f, [(b, n) for b, n in await _rows(conn, query)]))
    return tables


async def _request_tables_from_base(conn: AsyncConnection, scope: Scope, f: Filters) -> list[ReportTable]:
    """The scope's filtered requests are found once (a CTE) and grouped six ways in one statement; each
    branch is tagged with its dimension, its keys carried as text (province and district as numbers)."""
    scoped = (
        select(rr.c.kind, rr.c.state, rr.c.channel, rr.c.province_id, rr.c.district_id, rr.c.local_day)
        .where(_where(scope, f))
        .cte("scoped")
    )
    c = scoped.c
    none = cast(None, String)
    no_number = cast(None, Integer)
    period = period_of_day(conn.dialect.name, c.local_day, f.period)
    branches = [
        select(literal("kind").label("dim"), cast(c.kind, String).label("v"), no_number.label("p"),
               no_number.label("d"), func.count().label("n")).group_by(c.kind),
        select(literal("state"), cast(c.state, String), no_number, no_number, func.count()).group_by(c.state),
        select(literal("channel"), cast(c.channel, String), no_number, no_number, func.count()).group_by(c.channel),
        select(literal("province"), none, c.province_id, no_number, func.count()).group_by(c.province_id),
        select(literal("district"), none, c.province_id, c.district_id, func.count())
        .group_by(c.province_id, c.district_id),
        select(literal("period"), cast(period, String), no_number, no_number, func.count()).group_by(period),
    ]
    by_dim: dict[str, list[Any]] = {b: [] for b in ("kind", "state", "channel", "province", "district", "period")}
    for row in await _rows(conn, union_all(*branches)):
        by_dim[row.dim].append(row)
    tables = [column_table(dim, [(r.v, r.n) for r in by_dim[dim]]) for dim in COLUMNS]
    tables.append(place_table(False, [(r.p, r.n) for r in by_dim["province"]]))
    tables.append(place_table(True, [(r.p, r.d, r.n) for r in by_dim["district"]]))
    tables.append(period_table(f, [(r.v, r.n) for r in by_dim["period"]]))
    return tables


def _places_from_counts(f: Filters, district: bool) -> Any:
    """From the place counts (0 stands for "none" in their keys and is turned back into NULL)."""
    names = ["province_id", "district_id"] if district else ["province_id"]
    table, extra = (places_keyed, _keyed(f)) if f.keyed else (volume_places, None)
    source = union_all(*counts.ranged(table, [*names, "n"], f, extra)).subquery("places")
    total = func.sum(source.c.n)
    keys = [func.nullif(source.c[name], 0).label(name) for name in names]
    group = [source.c[name] for name in names]
    return select(*keys, total.label("n")).group_by(*group).having(total != 0).order_by(total.desc(), *group)


async def by_unit(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    """Requests routed or forwarded to each unit (a request routed to two units counts for both)."""
    if month_counts_usable(scope, f):
        table, extra = (unit_counts_keyed, _keyed(f)) if f.keyed else (unit_counts, None)
        source = union_all(*counts.ranged(table, ["unit_id", "requests"], f, extra)).subquery("unit_parts")
        total = func.sum(source.c.requests)
        counted = select(source.c.unit_id, total.label("n")).group_by(source.c.unit_id).having(total != 0)
    else:
        counted = _unit_requests(scope, f)
    per_unit = counted.subquery("per_unit")
    query = (
        select(units.c.id, units.c.name, per_unit.c.n)
        .select_from(per_unit.join(units, units.c.id == per_unit.c.unit_id))
        .order_by(per_unit.c.n.desc(), units.c.name)
    )
    rows = [Row({"unit": name, "count": n}, {"birim": str(uid)}) for uid, name, n in await _rows(conn, query)]
    return ReportTable("hacim-birim", "Birime göre", (Col("unit", "Birim"), COUNT), rows)


def _unit_requests(scope: Scope, f: Filters) -> Any:
    """Distinct requests per unit id from the assignments (PostgreSQL reads the (unit_id, request_id) index
    in order); names are joined after."""
    a = assignments.c
    return (
        select(a.unit_id, func.count(a.request_id.distinct()).label("n"))
        .select_from(assignments.join(rr, rr.c.request_id == a.request_id) if f.narrows_requests else assignments)
        .where(fact_clause(f) if f.narrows_requests else true(), assigned_window(f), scope.unit_clause(a.unit_id))
        .group_by(a.unit_id)
    )


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

