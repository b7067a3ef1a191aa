"""What the report filter form offers: provinces, the chosen province's districts, the viewer's units."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.orm import units
from workflow.domain.vocabulary import KIND_LABELS, STATE_LABELS
from workflow.registry.data import read_source
from workflow.reports.filters import PERIOD_LABELS, Filters
from workflow.reports.scope import Scope
from workflow.reports.volumes import CHANNEL_LABELS

UNIT_CHOICES_MAX = 400
LIST_PATH = "/personel/raporlar/talepler"


@dataclass(frozen=True)
class Choices:
    kinds: list[tuple[str, str]]
    states: list[tuple[str, str]]
    channels: list[tuple[str, str]]
    periods: list[tuple[str, str]]
    provinces: list[tuple[str, str]]
    districts: list[tuple[str, str]]
    units: list[tuple[str, str]]


@lru_cache(maxsize=1)
def _provinces() -> list[tuple[str, str]]:
    return [(str(p.id), p.name) for p in read_source().provinces]


@lru_cache(maxsize=81)
def _districts(province_id: int) -> list[tuple[str, str]]:
    found = [d for d in read_source().districts if d.province_id == province_id]
    return [(str(d.id), d.name) for d in sorted(found, key=lambda d: d.name)]


async def choices(engine: AsyncEngine, scope: Scope, f: Filters) -> Choices:
    query = select(units.c.id, units.c.name).where(scope.unit_clause(units.c.id), units.c.kind != "migm")
    if f.province_id:
        query = query.where(units.c.province_id == f.province_id)
    async with engine.connect() as conn:
        found = (await conn.execute(query.order_by(units.c.name).limit(UNIT_CHOICES_MAX))).all()
    return Choices(
        kinds=[(k.value, v) for k, v in KIND_LABELS.items()],
        states=[(k.value, v) for k, v in STATE_LABELS.items()],
        channels=[(k.value, v) for k, v in CHANNEL_LABELS.items()],
        periods=[(k.value, v) for k, v in PERIOD_LABELS.items()],
        provinces=_provinces() if scope.is_all else [p for p in _provinces() if p[0] == str(scope.province_id)],
        districts=_districts(f.province_id or scope.province_id or 0),
        units=[(str(i), name) for i, name in found],
    )


def drill_url(f: Filters, *links: dict[str, str] | tuple[tuple[str, str], ...]) -> str:
    """The request list behind a number: the page's filters, narrowed by the row's (and column's) values."""
    params = f.query_params()
    params.pop("donem", None)
    for extra in links:
        params.update(dict(extra))
    return f"{LIST_PATH}?{urlencode(params)}"
