"""Where requests wait: open assignments by age, overdue counts, hand-backs and an honest on-time rate.

An assignment's age is whole days since it reached the unit (``now`` is passed in, never read here).
On time means completed by its due date; late means completed after it *or still open past it* — leaving
open overdue work out would flatter exactly the units that are furthest behind.

Without place filters (dates, the unit and — from the keyed variants of 0012 — kind, state and channel
are held), the per-unit totals — including the open count — come
from the trigger-kept ``report_unit_counts`` (workflow/reports/counts.py), which hold nothing that changes
with the clock. What does is computed at query time from the few open assignments that are younger than
the oldest bucket's lower bound or not yet due (``report_open``, one row per open assignment with its
request's filing time): the young buckets are counted from them, the oldest bucket
is the open count minus the young ones, and the overdue count is the open count minus those not yet due.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Final

from sqlalchemy import and_, func, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters.orm import assignments, units
from workflow.domain.vocabulary import OPEN_ASSIGNMENT_STATES, AssignmentState
from workflow.reports import counts, histogram
from workflow.reports.durations import STATS
from workflow.reports.filters import (
    Filters,
    assigned_window,
    fact_clause,
    kcs_clause,
    keyed_clause,
    local_day_start,
)
from workflow.reports.schema import (
    report_open,
    report_work,
    unit_counts,
    unit_counts_keyed,
    work_days,
    work_days_keyed,
)
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


def age_clause(key: str, now: datetime, assigned_at: Any = a.assigned_at) -> Any:
    """Assignments whose age in whole days falls in the bucket ``key``."""
    _, _, low, high = next(b for b in AGE_BUCKETS if b[0] == key)
    upper = assigned_at <= now - timedelta(days=low)
    return upper if high is None else and_(upper, assigned_at > now - timedelta(days=high + 1))


def open_dates(f: Filters) -> Any:
    """The date range on ``report_open``, which keeps each request's filing time beside the open work."""
    o = report_open.c
    parts = []
    if f.start:
        parts.append(o.request_created_at >= local_day_start(f.start))
    if f.end:
        parts.append(o.request_created_at < local_day_start(f.end + timedelta(days=1)))
    return and_(true(), *parts)


def _base(scope: Scope, f: Filters) -> Any:
    """Assignments of the scope's units (which puts their requests in scope) on filtered requests."""
    own = a.unit_id == f.unit_id if f.unit_id else true()
    narrowed = fact_clause(f) if f.narrows_requests else true()
    return and_(narrowed, assigned_window(f), scope.unit_clause(a.unit_id), own)


def _from(f: Filters) -> Any:
    """Assignments; the request summary joins only when a filter needs it (it costs)."""
    return assignments.join(rr, rr.c.request_id == a.request_id) if f.narrows_requests else assignments


def counts_usable(f: Filters) -> bool:
    """The unit counts hold the unit and the requests' filing month, their keyed variants (0012) also the
    requests' kind, state and channel; no place."""
    return not f.by_place


def _totals_from_base(scope: Scope, f: Filters, with_open: bool) -> Any:
    """Per unit id: assignments received, handed back, completed on time and late (and open) — one pass with
    few, simple conditions, grouped by unit id alone."""
    done = a.state == AssignmentState.COMPLETED.value
    return (
        select(
            a.unit_id,
            func.count().label("total"),
            func.count().filter(a.state == AssignmentState.HANDED_BACK.value).label("back"),
            func.count().filter(and_(done, a.completed_at <= a.due_at)).label("on_time"),
            func.count().filter(and_(done, a.completed_at > a.due_at)).label("late_done"),
            *([func.count().filter(a.state.in_(OPEN)).label("open")] if with_open else []),
        )
        .select_from(_from(f))
        .where(_base(scope, f))
        .group_by(a.unit_id)
    )


def _totals_from_counts(scope: Scope, f: Filters) -> Any:
    """The same with the open count, from the unit counts."""
    names = ["unit_id", "total", "back", "on_time", "late_done", "open"]

    def mine(t: Any) -> Any:
        own = t.c.unit_id == f.unit_id if f.unit_id else true()
        keyed = keyed_clause(f, t.c.kind, t.c.state, t.c.channel) if f.keyed else true()
        return and_(scope.unit_clause(t.c.unit_id), own, keyed)

    table = unit_counts_keyed if f.keyed else unit_counts
    source = union_all(*counts.ranged(table, names, f, mine)).subquery("unit_parts")
    sums = [func.sum(source.c[name]).label(name) for name in names[1:]]
    return select(source.c.unit_id, *sums).group_by(source.c.unit_id).having(func.sum(source.c.total) != 0)


async def unit_totals(conn: AsyncConnection, scope: Scope, f: Filters) -> list[Any]:
    """Per unit (names joined to the small result): the totals, with the open count where the unit counts
    answer."""
    from_counts = counts_usable(f)
    totals = (_totals_from_counts(scope, f) if from_counts else _totals_from_base(scope, f, False)).subquery("t")
    t = totals.c
    columns = [units.c.id, units.c.name, t.total, t.back, t.on_time.label("on"), t.late_done]
    named = select(*columns, *([t.open] if from_counts else [])).join(units, units.c.id == t.unit_id)
    return list((await conn.execute(named)).all())


async def open_counts(conn: AsyncConnection, scope: Scope, f: Filters, now: datetime) -> dict[int, Any]:
    """Per unit id, over open assignments only. Where the unit counts answer: the young buckets and how many
    are young or not yet due (the rest follows from the open count); otherwise every bucket, overdue and open."""
    young_buckets = AGE_BUCKETS[:-1]
    if counts_usable(f):
        o = report_open.c
        oldest = now - timedelta(days=AGE_BUCKETS[-1][2])
        ages = [func.count().filter(age_clause(key, now, o.assigned_at)).label(f"b{i}")
                for i, (key, *_) in enumerate(young_buckets)]
        own = o.unit_id == f.unit_id if f.unit_id else true()
        query = (
            select(o.unit_id, *ages, func.count().filter(o.assigned_at > oldest).label("young"),
                   func.count().filter(o.due_at >= now).label("not_due"))
            .where(or_(o.assigned_at > oldest, o.due_at >= now), open_dates(f), scope.unit_clause(o.unit_id), own,
                   kcs_clause(f, o.request_kcs))
            .group_by(o.unit_id)
        )
    else:
        ages = [func.count().filter(age_clause(key, now)).label(f"b{i}") for i, (key, *_) in enumerate(AGE_BUCKETS)]
        query = (
            select(a.unit_id, *ages, func.count().filter(a.due_at < now).label("overdue"),
                   func.count().label("open"))
            .select_from(_from(f))
            .where(_base(scope, f), a.state.in_(OPEN))
            .group_by(a.unit_id)
        )
    return {row.unit_id: row for row in (await conn.execute(query)).all()}


def merge_counts(totals: list[Any], opened: dict[int, Any]) -> list[Any]:
    """One record per unit with every count the bottleneck tables read."""
    last = len(AGE_BUCKETS) - 1
    out = []
    for row in totals:
        values = dict(row._mapping)
        o = opened.get(row.id)
        if "open" in values:  # from the unit counts: the oldest bucket and overdue follow from the open count
            young = {f"b{i}": getattr(o, f"b{i}") if o is not None else 0 for i in range(last)}
            values.update(young)
            values[f"b{last}"] = values["open"] - (o.young if o is not None else 0)
            values["overdue"] = values["open"] - (o.not_due if o is not None else 0)
        else:
            keys = [f"b{i}" for i in range(last + 1)] + ["overdue", "open"]
            values.update({k: getattr(o, k) if o is not None else 0 for k in keys})
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


def histogram_usable(conn: AsyncConnection, f: Filters) -> bool:
    """The work-time histogram holds every completion of a unit (its keyed variant also per the request's
    kind, state and channel), with no date, place or unit filter. PostgreSQL only: SQLite cannot skip a
    number of index entries given by the outer row."""
    return conn.dialect.name == "postgresql" and not (f.start or f.end or f.by_place or f.unit_id)


async def slowest_candidates(
    conn: AsyncConnection, scope: Scope, limit: int = 10, f: Filters | None = None
) -> ReportTable:
    """Exact count, median and 90th percentile of the units that can be among the ``limit`` slowest.

    From ``report_work_days`` (completions per unit and whole day of work) each unit's median falls in a
    known day; a unit whose median day is below the ``limit``-th highest cannot make the list. For the rest,
    each percentile is the k-th value inside its day, read from the (unit_id, seconds) index by skipping the
    values of that day that come before it — a few entries per unit instead of every completion. With kind,
    state or channel set (``f``), the keyed histogram and the index entries of those requests only (the
    index carries them)."""
    f = f or Filters()
    w = report_work.c

    def mine(t: Any) -> Any:
        keyed = keyed_clause(f, t.c.kind, t.c.state, t.c.channel) if f.keyed else true()
        return and_(scope.unit_clause(t.c.unit_id), keyed)

    both = histogram.day_ranks(histogram.histogram(work_days_keyed if f.keyed else work_days, "unit_id", mine))
    cut = select(both.c.median_day).order_by(both.c.median_day.desc()).offset(limit - 1).limit(1).scalar_subquery()
    cand = select(both).where(or_(cut.is_(None), both.c.median_day >= cut)).subquery("cand")

    def value(day: Any, k: Any) -> Any:
        return histogram.kth(w.seconds, w.unit_id == cand.c.g, kcs_clause(f, w.request_kcs), day, k)

    query = select(cand.c.g.label("unit_id"), units.c.name, *histogram.stats(cand, value)).join(
        units, units.c.id == cand.c.g)
    rows = [
        Row({"unit": row.name, "n": row.n, "median": row.median, "p90": row.p90}, {"birim": str(row.unit_id)})
        for row in (await conn.execute(query)).all()
    ]
    return ReportTable("sure-birim", "Birimde görevin tamamlanması (birime göre)", (UNIT, *STATS), rows)


def slowest(per_unit: ReportTable, limit: int = 10) -> ReportTable:
    """The units with the longest median completion, from the per-unit duration table."""
    ranked = sorted(per_unit.rows, key=lambda r: (-r.values["median"], r.values["unit"]))[:limit]
    return ReportTable(
        "darbogaz-en-yavas", "Ortanca tamamlama süresi en uzun birimler", per_unit.columns, ranked
    )


def from_counts(counts: list[Any]) -> list[ReportTable]:
    return [open_by_age(counts), handbacks(counts), on_time(counts)]
