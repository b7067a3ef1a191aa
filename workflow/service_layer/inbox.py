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
from functools import cache
from typing import Any, Final

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    or_,
    select,
)
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
    async with reading(db) as conn:
        yield conn


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only. On PostgreSQL it runs in autocommit: no BEGIN and ROLLBACK round trips
    around the page's queries. Nothing is lost, as under READ COMMITTED every statement takes its own
    snapshot anyway. (SQLite keeps its transaction: there a write lock is taken at BEGIN, see db.py.)"""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


async def staff_viewer(db: Db, user_id: str) -> Actor:
    """The signed-in staff user as the domain sees them (unit, role); refused like a command would be."""
    async with connection(db) as conn:
        actor = await SqlDirectory(conn).staff_actor(user_id)
    if actor is None:
        raise NotAllowed("Oturumunuz geçersiz. Lütfen yeniden giriş yapın.")
    return inbox_viewer(actor)


def inbox_viewer(actor: Actor) -> Actor:
    """``actor`` if they may see request lists; an administrator outside MİGM may not."""
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


def _row(row: Any, now: datetime, due_soon_days: int, unit: bool) -> InboxRow:
    """``unit``: the row is a unit's assignment (it has the assignment's columns); MİGM's rows do not."""
    state = AssignmentState(row.assignment_state) if unit and row.assignment_state else None
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
        assignment_id=row.assignment_id if unit else None,
        assignment_state=state,
        assigned_at=aware(row.assigned_at) if unit else None,
        due_at=due_at,
        due_status=due_status(due_at, is_open, now, due_soon_days),
    )


@dataclass(frozen=True)
class Listing:
    """A list as a count of its keys and a page of them: the page's keys come from an index range in
    order, and the people and due dates are joined for those rows alone, so a page costs the same with a
    thousand requests or a million.

    ``ordered(sort)``: the keys in order; ``details_from(keys)``: the rows' details for a subquery of
    keys (column ``key``); ``outer_order(sort)``: the same order over those details.
    """

    count: Select[Any]
    ordered: Callable[[Sort], Select[Any]]
    details_from: Callable[[Any], Select[Any]]
    outer_order: Callable[[Sort], list[Any]]


def _migm_listing(where: ColumnElement[bool], people: bool = False) -> Listing:
    keys = select(r.c.id.label("key")).select_from(r)
    keys = (_with_people(keys) if people else keys).where(where)

    def details_from(page: Any) -> Select[Any]:
        query = select(r.c.id.label("key"), *_request_columns(), _migm_due()).select_from(
            page.join(r, r.c.id == page.c.key)
        )
        return _with_people(query)

    def order(sort: Sort) -> list[Any]:
        return _order(sort, r.c.created_at, r.c.number)

    return Listing(keys, lambda sort: keys.order_by(*order(sort)), details_from, order)


def _unit_listing(
    unit_id: Any, where: ColumnElement[bool], people: bool = False, by_created: bool = False
) -> Listing:
    """A unit's assignments (``unit_id``: a number or a bound parameter); ``people``: the filter needs the
    request and muhtar (search)."""

    def keys(with_request: bool) -> Select[Any]:
        source = a.join(r, r.c.id == a.c.request_id) if with_request else a
        query = select(a.c.id.label("key")).select_from(source)
        return (_with_people(query) if people else query).where(a.c.unit_id == unit_id, where)

    def order(sort: Sort) -> list[Any]:
        return _order(sort, r.c.created_at if by_created else a.c.assigned_at, a.c.id)

    def ordered(sort: Sort) -> Select[Any]:
        need_request = people or by_created or sort is Sort.PRIORITY
        return keys(need_request).order_by(*order(sort))

    def details_from(page: Any) -> Select[Any]:
        columns = [
            a.c.id.label("key"),
            *_request_columns(),
            a.c.id.label("assignment_id"),
            a.c.state.label("assignment_state"),
            a.c.assigned_at,
            a.c.due_at,
        ]
        source = page.join(a, a.c.id == page.c.key).join(r, r.c.id == a.c.request_id)
        return _with_people(select(*columns).select_from(source))

    return Listing(keys(people), ordered, details_from, order)


LIMIT: Final[BindParameter[int]] = bindparam("lim", type_=Integer)
OFFSET: Final[BindParameter[int]] = bindparam("off", type_=Integer)
UNIT: Final[BindParameter[int]] = bindparam("unit_id", type_=Integer)


def _paged(listing: Listing, sort: Sort) -> Select[Any]:
    """One page in one query: the ordered keys (limit ``lim``, offset ``off``) joined to their details,
    in the same order (the sort columns are the details' own rows)."""
    keys = listing.ordered(sort).limit(LIMIT).offset(OFFSET).subquery("pg")
    details = listing.details_from(keys)
    return details.order_by(*listing.outer_order(sort))


async def _page(
    conn: AsyncConnection,
    statement: Select[Any],
    params: dict[str, Any],
    total: int,
    page: int,
    page_size: int,
    now: datetime,
    due_soon_days: int,
) -> tuple[list[InboxRow], int]:
    """The rows of page ``page`` (clamped to the pages ``total`` makes) and the page number shown."""
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    if total == 0:
        return [], page
    bound = {**params, "lim": page_size, "off": (page - 1) * page_size}
    rows = (await conn.execute(statement, bound)).all()
    unit = bool(rows) and "assignment_id" in rows[0]._fields
    return [_row(row, now, due_soon_days, unit) for row in rows], page


async def capped_count(conn: AsyncConnection, keys: Select[Any]) -> int:
    """How many rows ``keys`` selects, counting no further than COUNT_CAP."""
    capped = select(func.count()).select_from(keys.limit(COUNT_CAP).subquery())
    return int((await conn.execute(capped)).scalar_one())




def _listing_of(migm: bool, spec: TabSpec) -> Listing:
    return _migm_listing(spec.where()) if migm else _unit_listing(UNIT, spec.where())


@cache
def _counts_statement(migm: bool) -> Select[Any]:
    """SELECT (count of tab 1), (count of tab 2), … each capped; built once (the unit is a parameter), so a
    page pays neither building nor compiling it: SQLAlchemy finds it in its compiled cache at once."""
    counts = [
        select(func.count())
        .select_from(_listing_of(migm, t).count.limit(COUNT_CAP).subquery())
        .scalar_subquery()
        for t in (MIGM_TABS if migm else UNIT_TABS)
    ]
    return select(*counts)


@cache
def _inbox_statement(migm: bool, tab: str, sort: Sort) -> Select[Any]:
    spec = next(t for t in (MIGM_TABS if migm else UNIT_TABS) if t.key == tab)
    return _paged(_listing_of(migm, spec), sort)


def _unit_params(actor: Actor) -> dict[str, Any]:
    assert actor.unit is not None
    return {} if actor.is_migm else {"unit_id": actor.unit.id}


async def tab_counts(conn: AsyncConnection, actor: Actor) -> list[Tab]:
    """How many items each tab holds (capped: each count is one bounded index range), in one round trip."""
    specs = tabs_for(actor)
    row = (await conn.execute(_counts_statement(actor.is_migm), _unit_params(actor))).one()
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
    """Gelen Kutusu: one tab of the unit's work (the first tab when none or an unknown one is asked).

    Two queries: the tab counts (the shown tab's count is its total) and the page's rows."""
    specs = tabs_for(actor)
    spec = next((t for t in specs if t.key == query.tab), specs[0])
    statement = _inbox_statement(actor.is_migm, spec.key, query.sort)
    async with connection(db) as conn:
        tabs = await tab_counts(conn, actor)
        total = next(t.count for t in tabs if t.key == spec.key)
        rows, page = await _page(
            conn, statement, _unit_params(actor), total, query.page, query.page_size, now, due_soon_days
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
        total = await capped_count(conn, listing.count)
        rows, page = await _page(
            conn, _paged(listing, query.sort), {}, total, query.page, query.page_size, now, due_soon_days
        )
    return Page(rows, total, page, query.page_size)
