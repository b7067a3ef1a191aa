"""What a staff request page shows and which actions it offers, decided by the domain's rules.

Offering an action here is only a courtesy to the person: every action is checked again by its command
handler, so a button shown by mistake (or a form replayed from another screen) still cannot do harm.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.adapters import orm
from workflow.adapters.repository import unit_from_row
from workflow.domain.model import Assignment, AssignmentState, Request
from workflow.domain.units import ROUTING_TARGETS, SUB_UNIT_KINDS, Actor, UnitKind, UnitRef
from workflow.identity import mask_phone, mask_tckn
from workflow.service_layer import views
from workflow.service_layer.inbox import Db, connection, reading
from workflow.service_layer.unit_of_work import AbstractUnitOfWork

PICKER_LIMIT: Final = 20
VALILIK_SUFFIX: Final = " Valiliği"


@dataclass(frozen=True)
class Muhtar:
    full_name: str
    masked_tckn: str
    masked_phone: str
    muhtarlik: str
    district: str
    province: str


@dataclass(frozen=True)
class Allowed:
    """The actions the page offers, as the domain's rules answer them for this viewer now."""

    set_priority: bool = False
    route: bool = False
    conclude: bool = False
    add_note: bool = False
    take_on: bool = False
    forward: bool = False
    complete: bool = False
    hand_back: bool = False
    review_ids: tuple[str, ...] = ()  # hand-backs this viewer may mark as reviewed


@dataclass(frozen=True)
class StaffRequestPage:
    viewer: Actor
    request: Request
    muhtar: Muhtar | None
    mine: Assignment | None  # the viewer's unit's open (or else latest) assignment
    allowed: Allowed
    sub_units: list[UnitRef] = field(default_factory=list)  # a Valilik's own sub-units (forward form)
    provinces: list[tuple[int, str]] = field(default_factory=list)  # MİGM's picker: (plate, il name)
    files: list[Any] = field(default_factory=list)  # what request_page's ``files`` found


def my_assignment(request: Request, actor: Actor) -> Assignment | None:
    if actor.unit is None:
        return None
    mine = [a for a in request.assignments if a.unit.id == actor.unit.id]
    return next((a for a in reversed(mine) if a.is_open), mine[-1] if mine else None)


def allowed_actions(request: Request, actor: Actor) -> Allowed:
    if request.is_concluded or actor.unit is None:
        return Allowed()
    mine = my_assignment(request, actor)
    own_open = mine if mine is not None and mine.is_open else None
    children_open = own_open is not None and any(c.is_open for c in request.children_of(own_open.id))
    reviewable = tuple(
        a.id
        for a in request.assignments
        if a.state is AssignmentState.HANDED_BACK
        and not a.handback_reviewed
        and (
            (a.parent_id is None and actor.is_migm)
            or (a.parent_id is not None and request.assignment(a.parent_id).unit.id == actor.unit.id)
        )
    )
    return Allowed(
        set_priority=actor.is_migm,
        route=actor.is_migm,
        conclude=actor.is_migm and not any(a.is_open for a in request.assignments),
        add_note=request.visible_to(actor),
        take_on=own_open is not None
        and own_open.state is not AssignmentState.IN_PROGRESS
        and not children_open,
        forward=own_open is not None and own_open.unit.kind is UnitKind.VALILIK,
        complete=own_open is not None and request.can_complete(own_open),
        hand_back=own_open is not None and not children_open,
        review_ids=reviewable,
    )


_MUHTAR: Final = (
    select(
        orm.muhtars.c.full_name,
        orm.muhtars.c.tckn,
        orm.muhtars.c.phone_e164,
        orm.muhtarliks.c.name.label("muhtarlik_name"),
        orm.muhtarliks.c.district_name,
        orm.muhtarliks.c.province_name,
    )
    .join(orm.muhtarliks, orm.muhtarliks.c.id == orm.muhtars.c.muhtarlik_id)
    .where(orm.muhtars.c.id == bindparam("muhtar_id"), orm.muhtars.c.active.is_(True))
)


async def _muhtar(db: Db, muhtar_id: str) -> Muhtar | None:
    async with connection(db) as conn:
        row = (await conn.execute(_MUHTAR, {"muhtar_id": muhtar_id})).first()
    if row is None:
        return None
    return Muhtar(
        row.full_name,
        mask_tckn(row.tckn),
        mask_phone(row.phone_e164),
        row.muhtarlik_name,
        row.district_name,
        row.province_name,
    )


async def sub_units_of(db: Db, valilik_id: int) -> list[UnitRef]:
    u = orm.units
    query = (
        select(u)
        .where(
            u.c.parent_id == valilik_id, u.c.active.is_(True), u.c.kind.in_([k.value for k in SUB_UNIT_KINDS])
        )
        .order_by(u.c.kind, u.c.name)
    )
    async with connection(db) as conn:
        return [unit_from_row(row) for row in (await conn.execute(query)).all()]


Files = Callable[[AsyncConnection, Request], Awaitable[list[Any]]]


async def request_page(
    uow: AbstractUnitOfWork,
    engine: AsyncEngine,
    user_id: str,
    number: int,
    source_addr: str | None,
    now: datetime,
    files: Files | None = None,
) -> StaffRequestPage:
    """The page's data; raises NotFound for a request the viewer may not see (the opening is logged).

    Two connections, one after the other: the unit of work reads the request and writes the access log,
    then one read-only connection serves the rest (muhtar, sub-units, the picker's il list and ``files``:
    the web layer's attachment lookup)."""
    viewer, request = await views.request_for_staff(uow, user_id, number, source_addr, now)
    allowed = allowed_actions(request, viewer)
    async with reading(engine) as conn:
        muhtar = await _muhtar(conn, request.muhtar_id)
        subs = await sub_units_of(conn, viewer.unit.id) if allowed.forward and viewer.unit else []
        il_list = await provinces(conn) if allowed.route else []
        found = await files(conn, request) if files is not None else []
    return StaffRequestPage(
        viewer, request, muhtar, my_assignment(request, viewer), allowed, subs, il_list, found
    )


async def routing_targets(engine: AsyncEngine, search: str, province_id: int | None) -> list[UnitRef]:
    """A short list of Valilik/Belediye for MİGM's picker: by name (il/ilçe is in the name) and/or il."""
    u = orm.units
    needle = " ".join(search.split())[:60].replace("\\", "").replace("%", "").replace("_", "")
    if not needle and province_id is None:
        return []
    conditions: list[ColumnElement[bool]] = [
        u.c.active.is_(True),
        u.c.kind.in_([k.value for k in ROUTING_TARGETS]),
    ]
    if needle:
        conditions.append(u.c.name.ilike(f"%{needle}%"))
    if province_id is not None:
        conditions.append(u.c.province_id == province_id)
    query = select(u).where(and_(*conditions)).order_by(u.c.kind.desc(), u.c.name).limit(PICKER_LIMIT)
    async with engine.connect() as conn:
        return [unit_from_row(row) for row in (await conn.execute(query)).all()]


async def units_by_id(engine: AsyncEngine, ids: list[int]) -> list[UnitRef]:
    if not ids:
        return []
    async with engine.connect() as conn:
        rows = (await conn.execute(select(orm.units).where(orm.units.c.id.in_(ids)))).all()
    return sorted((unit_from_row(row) for row in rows), key=lambda x: ids.index(x.id))


async def provinces(db: Db) -> list[tuple[int, str]]:
    """(plate code, name) of every il, read from the Valilik names ("Ankara Valiliği" → "Ankara")."""
    u = orm.units
    query = (
        select(u.c.province_id, u.c.name)
        .where(u.c.kind == UnitKind.VALILIK.value, u.c.province_id.is_not(None))
        .order_by(u.c.province_id)
    )
    async with connection(db) as conn:
        rows = (await conn.execute(query)).all()
    return [(int(row.province_id), row.name.removesuffix(VALILIK_SUFFIX)) for row in rows]


def attachment_ids(request: Request) -> set[str]:
    """Every file id the request's units attached (plus what the muhtar attached, looked up separately)."""
    return {att for a in request.assignments for att in a.attachment_ids}
