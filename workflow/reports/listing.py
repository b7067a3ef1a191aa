"""The request list behind a report number (drill-down), paged for the screen and streamed for exports.

Besides the report filters it takes the bottleneck flags of a unit's open work: ``yas`` (an age bucket),
``geciken`` (open past due), ``acik`` (open), ``iade`` (handed back) — each about the assignments of the
filtered unit, or of the viewer's units when no unit is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, and_, exists, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters.orm import assignments, muhtarliks, muhtars, requests
from workflow.domain.vocabulary import KIND_LABELS, STATE_LABELS, AssignmentState
from workflow.reports.bottlenecks import AGE_KEYS, OPEN, age_clause
from workflow.reports.filters import Filters, request_clause
from workflow.reports.scope import Scope
from workflow.reports.tables import Col, ColKind
from workflow.reports.volumes import CHANNEL_LABELS

PAGE_SIZE: Final = 50
COLUMNS: Final = (
    Col("number", "Talep No"),
    Col("created_at", "Başvuru tarihi", ColKind.DATETIME),
    Col("kind", "Başvuru türü"),
    Col("state", "Durum"),
    Col("channel", "Kanal"),
    Col("province", "İl"),
    Col("district", "İlçe"),
    Col("concluded_at", "Sonuçlanma tarihi", ColKind.DATETIME),
)
LABELS: Final[dict[str, dict[str, str]]] = {
    "kind": {k.value: v for k, v in KIND_LABELS.items()},
    "state": {k.value: v for k, v in STATE_LABELS.items()},
    "channel": {k.value: v for k, v in CHANNEL_LABELS.items()},
}


@dataclass(frozen=True)
class Drill:
    age: str | None = None
    overdue: bool = False
    open: bool = False
    handed_back: bool = False

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Drill:
        age = query.get("yas", "")
        return cls(
            age if age in AGE_KEYS else None,
            query.get("geciken") == "1",
            query.get("acik") == "1",
            query.get("iade") == "1",
        )

    @property
    def active(self) -> bool:
        return bool(self.age or self.overdue or self.open or self.handed_back)

    def params(self) -> dict[str, str]:
        raw = {"yas": self.age or "", "geciken": "1" if self.overdue else "",
               "acik": "1" if self.open else "", "iade": "1" if self.handed_back else ""}
        return {k: v for k, v in raw.items() if v}


def _drill_clause(scope: Scope, f: Filters, drill: Drill, now: datetime) -> Any:
    if not drill.active:
        return true()
    a = assignments.c
    parts = [a.request_id == requests.c.id, scope.unit_clause(a.unit_id)]
    if f.unit_id:
        parts.append(a.unit_id == f.unit_id)
    if drill.age or drill.overdue or drill.open:
        parts.append(a.state.in_(OPEN))
    if drill.age:
        parts.append(age_clause(drill.age, now))
    if drill.overdue:
        parts.append(a.due_at < now)
    if drill.handed_back:
        parts.append(a.state == AssignmentState.HANDED_BACK.value)
    return exists().where(*parts)


def _where(scope: Scope, f: Filters, drill: Drill, now: datetime) -> Any:
    return and_(scope.request_clause(), request_clause(f), _drill_clause(scope, f, drill, now))


def list_query(scope: Scope, f: Filters, drill: Drill, now: datetime) -> Select[Any]:
    """Newest first. A unit's (or Valilik's) list over a date range first finds its matching requests (a few
    thousand at most, from its assignments) and then sorts them: PostgreSQL would otherwise walk every request
    backwards by number and test each against the scope (1–2 s at 1 M requests)."""
    r, m = requests.c, muhtarliks.c
    columns = (r.number, r.created_at, r.kind, r.state, r.channel, m.province_name, m.district_name, r.concluded_at)
    places = muhtars.join(muhtarliks, m.id == muhtars.c.muhtarlik_id)
    if not scope.is_all and f.start is not None:
        matched = (
            select(r.id, r.number).where(_where(scope, f, drill, now)).cte("matched")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        return (
            select(*columns)
            .select_from(matched.join(requests, r.id == matched.c.id).join(places, muhtars.c.id == r.muhtar_id))
            .order_by(matched.c.number.desc())
        )
    return (
        select(*columns)
        .select_from(requests.join(places, muhtars.c.id == r.muhtar_id))
        .where(_where(scope, f, drill, now))
        .order_by(r.number.desc())
    )


def row_values(row: Any) -> dict[str, Any]:
    """One list row as the table columns read it (labels for codes; datetimes stay aware UTC)."""
    return {
        "number": row.number,
        "created_at": row.created_at,
        "kind": LABELS["kind"].get(row.kind, row.kind),
        "state": LABELS["state"].get(row.state, row.state),
        "channel": LABELS["channel"].get(row.channel, row.channel),
        "province": row.province_name,
        "district": row.district_name,
        "concluded_at": row.concluded_at,
    }


@dataclass(frozen=True)
class ListPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


async def list_page(
    conn: AsyncConnection, scope: Scope, f: Filters, drill: Drill, now: datetime, page: int
) -> ListPage:
    total = int(
        (await conn.execute(select(func.count()).select_from(requests).where(_where(scope, f, drill, now))))
        .scalar_one()
    )
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    query = list_query(scope, f, drill, now).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    rows = [row_values(row) for row in (await conn.execute(query)).all()]
    return ListPage(rows, total, page, pages)
