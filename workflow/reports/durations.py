"""How long each step takes — median and 90th percentile (nearest rank), in the database.

- triage: filing → MİGM's first routing (the earliest top-level assignment), per province;
- unit work: an assignment's arrival → its completion (İŞLEMİ TAMAMLA), per unit and per unit's province;
- closing: the last unit completion → MİGM's conclusion, per province;
- whole: filing → conclusion, per province.
Request-level steps are grouped by the province of the muhtarlık the request came from and read the
trigger-kept ``report_requests`` row (its generated ``*_seconds`` columns); unit work reads ``report_work``
(one row per completed assignment, kept by triggers). Both are in whole seconds with ``(group, seconds)``
indexes, so PostgreSQL feeds each group's values to the percentile already sorted from an index-only scan.
On PostgreSQL, without dates, place or unit, unit work is read from the trigger-kept work-time histograms
(0011, and 0012's keyed ones for kind, state and channel) and a few index entries per group — exact to the
second like the full computation (workflow/reports/histogram.py). Kind, state and channel are matched on
the ``kcs`` number the indexes carry, so filtered scans stay index-only.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Subquery

from workflow.adapters.orm import units
from workflow.reports import histogram
from workflow.reports.filters import Filters, fact_clause, kcs_clause, keyed_clause, work_dates
from workflow.reports.places import province_label
from workflow.reports.schema import report_requests as rr
from workflow.reports.schema import report_work as rw
from workflow.reports.schema import work_days, work_days_keyed, work_province_days_keyed
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
    return await _province_rows(conn, percentiles(conn.dialect.name, source, ["g"]), name, title)


async def _province_rows(conn: AsyncConnection, stats: Any, name: str, title: str) -> ReportTable:
    """``stats`` has the province as ``g``, ``n``, ``median`` and ``p90``."""
    query = stats.order_by(stats.selected_columns.g)
    rows = []
    for row in (await conn.execute(query)).all():
        values = {"province": province_label(row.g), "n": row.n, "median": row.median, "p90": row.p90}
        rows.append(Row(values, {"il": str(row.g)}))
    return ReportTable(name, title, (PROVINCE, *STATS), rows)


def _request_step(scope: Scope, f: Filters, seconds: Any) -> Subquery:
    """Kind, state and channel as the ``kcs`` number the (province, seconds) indexes carry (index-only)."""
    rest = f.with_(kind=None, state=None, channel=None)
    return (
        select(rr.c.province_id.label("g"), seconds.label("d"))
        .where(seconds.is_not(None), scope.request_clause(rr.c.request_id), fact_clause(rest),
               kcs_clause(f, rr.c.kcs))
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
    where = and_(work_dates(f), kcs_clause(f, w.request_kcs))
    if f.by_place:
        source, where = rw.join(rr, rr.c.request_id == w.request_id), fact_clause(f)
    return (
        select(group.label("g"), w.seconds.label("d"))
        .select_from(source)
        .where(where, _unit_scope(scope, f))
        .subquery("unit_work")
    )


def histogram_usable(conn: AsyncConnection, f: Filters) -> bool:
    """The work-time histograms hold every completion per unit (and per the unit's province), also per kind,
    state and channel — no dates, place or unit. PostgreSQL only (see workflow/reports/histogram.py)."""
    return conn.dialect.name == "postgresql" and not (f.start or f.end or f.by_place or f.unit_id)


def _unit_histogram(scope: Scope, f: Filters) -> Any:
    """Per unit: count, exact median and p90 from the (keyed) histogram and the (unit_id, seconds) index."""

    def mine(t: Any) -> Any:
        keyed = keyed_clause(f, t.c.kind, t.c.state, t.c.channel) if f.keyed else true()
        return and_(scope.unit_clause(t.c.unit_id), keyed)

    ranked = histogram.day_ranks(histogram.histogram(work_days_keyed if f.keyed else work_days, "unit_id", mine))

    def value(day: Any, k: Any) -> Any:
        return histogram.kth(w.seconds, w.unit_id == ranked.c.g, kcs_clause(f, w.request_kcs), day, k)

    return select(ranked.c.g, *histogram.stats(ranked, value))


def _province_histogram(f: Filters) -> Any:
    """Per unit's province (0 in the histogram's keys stands for none): the same from the keyed histogram
    and the (unit_province_id, seconds) index. The whole country only (the histogram has no unit)."""

    def mine(t: Any) -> Any:
        return keyed_clause(f, t.c.kind, t.c.state, t.c.channel)

    ranked = histogram.day_ranks(histogram.histogram(work_province_days_keyed, "unit_province_id", mine))
    wanted = kcs_clause(f, w.request_kcs)

    def value(day: Any, k: Any) -> Any:
        none = histogram.kth(w.seconds, w.unit_province_id.is_(None), wanted, day, k)
        some = histogram.kth(w.seconds, w.unit_province_id == ranked.c.g, wanted, day, k)
        return case((ranked.c.g == 0, none), else_=some)

    return select(func.nullif(ranked.c.g, 0).label("g"), *histogram.stats(ranked, value))


async def unit_work_per_unit(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    if histogram_usable(conn, f):
        stats = _unit_histogram(scope, f).subquery("stats")
    else:
        stats = percentiles(conn.dialect.name, _unit_work(scope, f, w.unit_id), ["g"]).subquery("stats")
    query = select(units.c.name, stats).join(units, units.c.id == stats.c.g).order_by(units.c.name)
    rows = [
        Row({"unit": row.name, "n": row.n, "median": row.median, "p90": row.p90}, {"birim": str(row.g)})
        for row in (await conn.execute(query)).all()
    ]
    return ReportTable("sure-birim", "Birimde görevin tamamlanması (birime göre)", (UNIT, *STATS), rows)


async def unit_work_per_province(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    name, title = "sure-birim-il", "Birimde görevin tamamlanması (birimin iline göre)"
    if scope.is_all and histogram_usable(conn, f):
        return await _province_rows(conn, _province_histogram(f), name, title)
    return await _per_province(conn, _unit_work(scope, f, w.unit_province_id), name, title)


async def closing(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _request_step(scope, f, rr.c.closing_seconds)
    return await _per_province(conn, source, "sure-sonuclandirma", "Son tamamlamadan sonuçlandırmaya (MİGM)")


async def whole(conn: AsyncConnection, scope: Scope, f: Filters) -> ReportTable:
    source = _request_step(scope, f, rr.c.whole_seconds)
    return await _per_province(conn, source, "sure-toplam", "Başvurudan sonuçlanmaya")

