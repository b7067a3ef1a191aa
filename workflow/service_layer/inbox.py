"""Staff inboxes (Gelen Kutusu), views (Görünümler) and search, answered by SQL in the database.

MİGM works on requests (``requests.migm_pending``, index ``(migm_pending, created_at)``); every other
unit works on its assignments (index ``(unit_id, state, assigned_at)``). Each tab is a row of a table
(``MIGM_TABS``, ``UNIT_TABS``) holding its filter, so the counts and the lists cannot disagree.
Visibility is the domain's: MİGM sees every request, a unit the requests it has an assignment on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.adapters import orm
from workflow.adapters.repository import SqlDirectory
from workflow.domain.errors import NotAllowed
from workflow.domain.model import (
    OPEN_ASSIGNMENT_STATES,
    PRIORITY_RANK,
    AssignmentState,
    Priority,
    RequestKind,
    RequestState,
)
from workflow.domain.units import Actor, StaffRole
from workflow.service_layer.staff_search import search_filter, with_turkish_fold

EXCERPT_LENGTH = 100
# Counts stop at this many: "1.000+" is as useful to a clerk as an exact 812.344, and counting stays a short
# index range instead of a scan of a million rows (the inbox must answer in tens of milliseconds).
COUNT_CAP: Final = 1_000

r, a, m, k = orm.requests, orm.assignments, orm.muhtars, orm.muhtarliks


class Sort(StrEnum):
    NEWEST = "yeni"
    OLDEST = "eski"
    PRIORITY = "oncelik"


SORT_LABELS: Final[dict[Sort, str]] = {
    Sort.NEWEST: "Tarih (en yeni önce)",
    Sort.OLDEST: "Tarih (en eski önce)",
    Sort.PRIORITY: "Öncelik (en acil önce)",
}


class DueStatus(StrEnum):
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"


@dataclass(frozen=True)
class TabSpec:
    key: str
    label: str
    where: Callable[[], ColumnElement[bool]]
    state: AssignmentState | None = None  # a unit's tab: the assignment state it lists


# Aliases are built once: building one copies every column (about a millisecond per page otherwise).
hb, DUE, LATER = a.alias("hb"), a.alias("due"), a.alias("later")


def _unreviewed_handbacks() -> Select[Any]:
    """Requests with a hand-back MİGM has not dealt with: a handful at any time, read from a partial index
    (ix_assignments_unreviewed_handbacks), so the tabs below never probe every pending request."""
    return select(hb.c.request_id).where(
        hb.c.parent_id.is_(None),
        hb.c.state == AssignmentState.HANDED_BACK.value,
        hb.c.handback_reviewed == false(),  # "= false", as in the partial index (not "IS false")
    )


def _migm_pending(state: str) -> ColumnElement[bool]:
    return and_(r.c.migm_pending.is_(True), r.c.state == state)


# MİGM's tabs filter requests; each is one range of the (migm_pending, state, created_at) index. A routed
# request is pending at MİGM for one of two reasons: a hand-back to review, or every unit finished.
MIGM_TABS: Final = (
    TabSpec("yeni", "Yeni Talepler", lambda: _migm_pending("bekleyen")),
    TabSpec(
        "iade",
        "İade Edilenler",
        lambda: and_(_migm_pending("yonlendirilen"), r.c.id.in_(_unreviewed_handbacks())),
    ),
    TabSpec(
        "sonuclandirilacak",
        "Sonuçlandırılacaklar",
        lambda: and_(_migm_pending("yonlendirilen"), r.c.id.not_in(_unreviewed_handbacks())),
    ),
    TabSpec(
        "birimlerde", "Birimlerde", lambda: and_(r.c.migm_pending.is_(False), r.c.state == "yonlendirilen")
    ),
    # A concluded request is never pending; saying so lets the (migm_pending, state, created_at) index serve it.
    TabSpec(
        "tamamlanan", "Tamamlananlar", lambda: and_(r.c.migm_pending.is_(False), r.c.state == "sonuclanan")
    ),
)


def _unit_tab(key: str, label: str, state: AssignmentState) -> TabSpec:
    return TabSpec(key, label, lambda: a.c.state == state.value, state)


# Every other unit's tabs filter its assignments.
UNIT_TABS: Final = (
    _unit_tab("yeni", "Yeni", AssignmentState.NEW),
    _unit_tab("islemde", "İşlemde", AssignmentState.IN_PROGRESS),
    _unit_tab("alt-birimlerde", "Alt Birimlerde", AssignmentState.FORWARDED),
    _unit_tab("iade-edilen", "İade Edilenler", AssignmentState.HANDED_BACK),
    _unit_tab("tamamlanan", "Tamamlananlar", AssignmentState.COMPLETED),
)


@dataclass(frozen=True)
class InboxRow:
    number: int
    kind: RequestKind
    priority: Priority
    state: RequestState
    created_at: datetime
    excerpt: str
    muhtar_name: str
    muhtarlik_name: str
    district_name: str
    province_name: str
    assignment_id: str | None = None
    assignment_state: AssignmentState | None = None
    assigned_at: datetime | None = None
    due_at: datetime | None = None
    due_status: DueStatus | None = None


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    count: int

    @property
    def shown(self) -> str:
        return count_text(self.count)


@dataclass(frozen=True)
class Page:
    rows: list[InboxRow]
    total: int
    page: int
    page_size: int
    tabs: list[Tab] = field(default_factory=list)
    active_tab: str | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def total_shown(self) -> str:
        return count_text(self.total)


def count_text(n: int) -> str:
    """Turkish digit grouping ("12.345"); a capped count reads "1.000+"."""
    text = f"{n:,}".replace(",", ".")
    return text + "+" if n >= COUNT_CAP else text


def aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; they were written as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def due_status(due_at: datetime | None, is_open: bool, now: datetime, due_soon_days: int) -> DueStatus | None:
    if due_at is None or not is_open:
        return None
    if now > due_at:
        return DueStatus.OVERDUE
    if due_at - now <= timedelta(days=due_soon_days):
        return DueStatus.DUE_SOON
    return None


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[: EXCERPT_LENGTH - 1].rstrip() + "…"


Db = AsyncEngine | AsyncConnection


@asynccontextmanager
async def connection(db: Db) -> AsyncIterator[AsyncConnection]:
    """The caller's connection (a page reads everything over one), or a new one from the engine."""
    if isinstance(db, AsyncConnection):
        yield db
        return
    async with db.connect() as conn:
        yield conn


async def staff_viewer(db: Db, user_id: str) -> Actor:
    """The signed-in staff user as the domain sees them (unit, role); refused like a command would be."""
    async with connection(db) as conn:
        actor = await SqlDirectory(conn).staff_actor(user_id)
    if actor is None:
        raise NotAllowed("Oturumunuz geçersiz. Lütfen yeniden giriş yapın.")
    if actor.role is StaffRole.ADMIN and not actor.is_migm:
        raise NotAllowed("Yönetici hesapları talep listelerini göremez.")
    return actor


def tabs_for(actor: Actor) -> tuple[TabSpec, ...]:
    return MIGM_TABS if actor.is_migm else UNIT_TABS


def _priority_rank() -> ColumnElement[int]:
    return case({p.value: rank for p, rank in PRIORITY_RANK.items()}, value=r.c.priority, else_=1)


def _order(sort: Sort, date_col: Any, tiebreak: Any) -> list[Any]:
    if sort is Sort.OLDEST:
        return [date_col.asc(), tiebreak.asc()]
    if sort is Sort.PRIORITY:
        return [_priority_rank().desc(), date_col.asc(), tiebreak.asc()]
    return [date_col.desc(), tiebreak.desc()]


def _request_columns() -> list[Any]:
    return [
        r.c.number,
        r.c.kind,
        r.c.priority,
        r.c.state,
        r.c.created_at,
        r.c.description,
        m.c.full_name.label("muhtar_name"),
        k.c.name.label("muhtarlik_name"),
        k.c.district_name,
        k.c.province_name,
    ]


def _with_people(query: Select[Any]) -> Select[Any]:
    return query.join(m, m.c.id == r.c.muhtar_id).join(k, k.c.id == m.c.muhtarlik_id)


def _migm_due() -> Any:
    """The earliest due date among a request's open top-level assignments (MİGM's lists)."""
    top = DUE
    return (
        select(func.min(top.c.due_at))
        .where(
            top.c.request_id == r.c.id,
            top.c.parent_id.is_(None),
            top.c.state.in_([s.value for s in OPEN_ASSIGNMENT_STATES]),
        )
        .scalar_subquery()
        .label("due_at")
    )


def _latest_of_unit(unit_id: int) -> ColumnElement[bool]:
    """Only the unit's latest assignment per request (a re-routed request may have two)."""
    later = LATER
    return ~exists().where(
        later.c.request_id == a.c.request_id,
        later.c.unit_id == unit_id,
        or_(
            later.c.assigned_at > a.c.assigned_at,
            and_(later.c.assigned_at == a.c.assigned_at, later.c.id > a.c.id),
        ),
    )


def _row(row: Any, now: datetime, due_soon_days: int) -> InboxRow:
    state = AssignmentState(row.assignment_state) if getattr(row, "assignment_state", None) else None
    due_at = aware(row.due_at)
    is_open = state in OPEN_ASSIGNMENT_STATES if state is not None else row.state != "sonuclanan"
    return InboxRow(
        number=int(row.number),
        kind=RequestKind(row.kind),
        priority=Priority(row.priority),
        state=RequestState(row.state),
        created_at=aware(row.created_at) or now,
        excerpt=_excerpt(row.description),
        muhtar_name=row.muhtar_name,
        muhtarlik_name=row.muhtarlik_name,
        district_name=row.district_name,
        province_name=row.province_name,
        assignment_id=getattr(row, "assignment_id", None),
        assignment_state=state,
        assigned_at=aware(getattr(row, "assigned_at", None)),
        due_at=due_at,
        due_status=due_status(due_at, is_open, now, due_soon_days),
    )


@dataclass(frozen=True)
class Listing:
    """A list in three queries: the keys to count, the keys of one page in order, that page's details.

    Ordering and paging run on keys only (an index range), and the people and due dates are joined for
    the page's rows alone, so a page costs the same with a thousand requests or a million.
    """

    count: Select[Any]
    ordered: Callable[[Sort], Select[Any]]
    details: Callable[[list[str]], Select[Any]]


def _migm_listing(where: ColumnElement[bool], people: bool = False) -> Listing:
    keys = select(r.c.id.label("key")).select_from(r)
    keys = (_with_people(keys) if people else keys).where(where)

    def details(ids: list[str]) -> Select[Any]:
        query = select(r.c.id.label("key"), *_request_columns(), _migm_due()).select_from(r)
        return _with_people(query).where(r.c.id.in_(ids))

    return Listing(keys, lambda sort: keys.order_by(*_order(sort, r.c.created_at, r.c.number)), details)


def _unit_listing(
    unit_id: int, where: ColumnElement[bool], people: bool = False, by_created: bool = False
) -> Listing:
    """A unit's assignments; ``people``: the filter needs the request and muhtar (search)."""

    def keys(with_request: bool) -> Select[Any]:
        source = a.join(r, r.c.id == a.c.request_id) if with_request else a
        query = select(a.c.id.label("key")).select_from(source)
        return (_with_people(query) if people else query).where(a.c.unit_id == unit_id, where)

    def ordered(sort: Sort) -> Select[Any]:
        date_col = r.c.created_at if by_created else a.c.assigned_at
        need_request = people or by_created or sort is Sort.PRIORITY
        return keys(need_request).order_by(*_order(sort, date_col, a.c.id))

    def details(ids: list[str]) -> Select[Any]:
        columns = [
            a.c.id.label("key"),
            *_request_columns(),
            a.c.id.label("assignment_id"),
            a.c.state.label("assignment_state"),
            a.c.assigned_at,
            a.c.due_at,
        ]
        query = select(*columns).select_from(a).join(r, r.c.id == a.c.request_id)
        return _with_people(query).where(a.c.id.in_(ids))

    return Listing(keys(people), ordered, details)


async def _page(
    conn: AsyncConnection,
    listing: Listing,
    sort: Sort,
    page: int,
    page_size: int,
    now: datetime,
    due_soon_days: int,
) -> tuple[list[InboxRow], int, int]:
    total = await capped_count(conn, listing.count)
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    ordered = listing.ordered(sort).limit(page_size).offset((page - 1) * page_size)
    ids = [row.key for row in (await conn.execute(ordered)).all()]
    if not ids:
        return [], total, page
    found = {row.key: row for row in (await conn.execute(listing.details(ids))).all()}
    return [_row(found[key], now, due_soon_days) for key in ids if key in found], total, page


async def capped_count(conn: AsyncConnection, keys: Select[Any]) -> int:
    """How many rows ``keys`` selects, counting no further than COUNT_CAP."""
    capped = select(func.count()).select_from(keys.limit(COUNT_CAP).subquery())
    return int((await conn.execute(capped)).scalar_one())


async def tab_counts(conn: AsyncConnection, actor: Actor) -> list[Tab]:
    """How many items each tab holds (capped: each count is one bounded index range)."""
    assert actor.unit is not None
    unit_id = actor.unit.id
    specs = tabs_for(actor)
    # One round trip: SELECT (count of tab 1), (count of tab 2), … each capped.
    counts = [
        select(func.count())
        .select_from(
            (_migm_listing(t.where()) if actor.is_migm else _unit_listing(unit_id, t.where()))
            .count.limit(COUNT_CAP)
            .subquery()
        )
        .scalar_subquery()
        for t in specs
    ]
    row = (await conn.execute(select(*counts))).one()
    return [Tab(t.key, t.label, int(n)) for t, n in zip(specs, row, strict=True)]


@dataclass(frozen=True)
class ListQuery:
    """What a list screen asks for; values come from the URL and are checked by ``parse``."""

    tab: str | None = None
    sort: Sort = Sort.NEWEST
    page: int = 1
    page_size: int = 20
    search: str = ""


async def inbox(db: Db, actor: Actor, query: ListQuery, now: datetime, due_soon_days: int) -> Page:
    """Gelen Kutusu: one tab of the unit's work (the first tab when none or an unknown one is asked)."""
    specs = tabs_for(actor)
    spec = next((t for t in specs if t.key == query.tab), specs[0])
    assert actor.unit is not None
    async with connection(db) as conn:
        tabs = await tab_counts(conn, actor)
        listing = _migm_listing(spec.where()) if actor.is_migm else _unit_listing(actor.unit.id, spec.where())
        rows, total, page = await _page(
            conn, listing, query.sort, query.page, query.page_size, now, due_soon_days
        )
    return Page(rows, total, page, query.page_size, tabs, spec.key)


async def views(db: Db, actor: Actor, query: ListQuery, now: datetime, due_soon_days: int) -> Page:
    """Görünümler: every request the unit may see, by date or priority, optionally searched."""
    assert actor.unit is not None
    found = search_filter(query.search, db.dialect.name)
    searching = bool(query.search.strip())
    if actor.is_migm:
        listing = _migm_listing(found, people=searching)
    else:
        visible = and_(_latest_of_unit(actor.unit.id), found)
        listing = _unit_listing(actor.unit.id, visible, people=searching, by_created=True)
    async with connection(db) as conn:
        await with_turkish_fold(conn)
        rows, total, page = await _page(
            conn, listing, query.sort, query.page, query.page_size, now, due_soon_days
        )
    return Page(rows, total, page, query.page_size)
