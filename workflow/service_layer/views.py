"""Read side: what screens, SMS replies and USSD menus show, with the same visibility rules as commands.

Opening a request's page is an access to personal data: every such read is written to the access log
in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters import orm
from workflow.domain.errors import NotFound
from workflow.domain.model import Request, RequestKind, RequestState
from workflow.domain.units import Actor
from workflow.service_layer.handlers import NOT_FOUND_MESSAGE, staff_actor
from workflow.service_layer.unit_of_work import AbstractUnitOfWork

EXCERPT_LENGTH = 120


@dataclass(frozen=True)
class RequestSummary:
    number: int
    kind: RequestKind
    state: RequestState
    created_at: datetime
    updated_at: datetime
    excerpt: str


@dataclass(frozen=True)
class MuhtarProfile:
    id: str
    full_name: str
    phone_e164: str
    muhtarlik_name: str
    muhtarlik_kind: str
    district_name: str
    province_name: str
    email: str | None


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[: EXCERPT_LENGTH - 1].rstrip() + "…"


async def muhtar_profile(engine: AsyncEngine, muhtar_id: str) -> MuhtarProfile | None:
    m, k = orm.muhtars, orm.muhtarliks
    query = (
        select(
            m.c.id,
            m.c.full_name,
            m.c.phone_e164,
            m.c.email,
            k.c.name,
            k.c.kind,
            k.c.district_name,
            k.c.province_name,
        )
        .join(k, k.c.id == m.c.muhtarlik_id)
        .where(and_(m.c.id == muhtar_id, m.c.active.is_(True)))
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return MuhtarProfile(
        id=row.id,
        full_name=row.full_name,
        phone_e164=row.phone_e164,
        muhtarlik_name=row.name,
        muhtarlik_kind=row.kind,
        district_name=row.district_name,
        province_name=row.province_name,
        email=row.email,
    )


def _counts_query(muhtar_id: str) -> Select[Any]:
    r = orm.requests
    return select(r.c.state, func.count()).where(r.c.muhtar_id == muhtar_id).group_by(r.c.state)


def _counts(rows: Sequence[Any]) -> dict[RequestState, int]:
    counts = dict.fromkeys(RequestState, 0)
    counts.update({RequestState(row[0]): int(row[1]) for row in rows})
    return counts


def _list_query(
    muhtar_id: str, states: tuple[RequestState, ...] | None, limit: int, offset: int
) -> Select[Any]:
    r = orm.requests
    query = select(r.c.number, r.c.kind, r.c.state, r.c.created_at, r.c.updated_at, r.c.description).where(
        r.c.muhtar_id == muhtar_id
    )
    if states:
        query = query.where(r.c.state.in_([s.value for s in states]))
    return query.order_by(r.c.created_at.desc(), r.c.number.desc()).limit(limit).offset(offset)


async def muhtar_request_counts(engine: AsyncEngine, muhtar_id: str) -> dict[RequestState, int]:
    async with engine.connect() as conn:
        return _counts((await conn.execute(_counts_query(muhtar_id))).all())


async def muhtar_requests(
    engine: AsyncEngine,
    muhtar_id: str,
    states: tuple[RequestState, ...] | None = None,
    *,
    limit: int = 20,
    offset: int = 0,
) -> list[RequestSummary]:
    """A muhtar's requests, newest first (uses the muhtar + state + created_at index)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_list_query(muhtar_id, states, limit, offset))).all()
    return _summaries(rows)


async def muhtar_request_page(
    engine: AsyncEngine,
    muhtar_id: str,
    states: tuple[RequestState, ...] | None = None,
    *,
    limit: int = 20,
    offset: int = 0,
) -> tuple[dict[RequestState, int], list[RequestSummary]]:
    """The TALEP SORGULAMA tab page: counts per state and one page of a tab, on one connection."""
    async with engine.connect() as conn:
        counts = _counts((await conn.execute(_counts_query(muhtar_id))).all())
        rows = (await conn.execute(_list_query(muhtar_id, states, limit, offset))).all()
    return counts, _summaries(rows)


def _summaries(rows: Sequence[Any]) -> list[RequestSummary]:
    return [
        RequestSummary(
            number=row.number,
            kind=RequestKind(row.kind),
            state=RequestState(row.state),
            created_at=row.created_at,
            updated_at=row.updated_at,
            excerpt=_excerpt(row.description),
        )
        for row in rows
    ]


async def request_for_muhtar(
    uow: AbstractUnitOfWork, muhtar_id: str, number: int, source_addr: str | None, now: datetime
) -> Request:
    """The muhtar's own request; another muhtar's is indistinguishable from one that does not exist."""
    async with uow:
        viewer = await uow.directory.muhtar_actor(muhtar_id)
        request = await uow.requests.get_by_number(number)
        if viewer is None or request is None or not request.visible_to(viewer):
            raise NotFound(NOT_FOUND_MESSAGE)
        await uow.log_access(viewer, request.id, "view", now, source_addr)
        await uow.commit()
        return request


async def request_for_staff(
    uow: AbstractUnitOfWork, user_id: str, number: int, source_addr: str | None, now: datetime
) -> tuple[Actor, Request]:
    """A request page for staff, if their unit may see it; the opening is written to the access log."""
    async with uow:
        viewer = await staff_actor(uow, user_id)
        request = await uow.requests.get_by_number(number)
        if request is None or not request.visible_to(viewer):
            raise NotFound(NOT_FOUND_MESSAGE)
        await uow.log_access(viewer, request.id, "view", now, source_addr)
        await uow.commit()
        return viewer, request
