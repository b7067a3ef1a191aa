"""What SMS commands and USSD screens answer, as data; ``service.py`` and ``ussd.py`` render it.

Everything goes through the workflow service layer: requests are read with
``views.request_for_muhtar`` (which writes the access log) and ``views.muhtar_requests``, and filed with the
``FileRequest`` command through the same message bus the web form uses. Nothing here decides who may see
what beyond "the sender's phone is the registered phone of the muhtar who owns the request".
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, and_, any_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from workflow.adapters import orm
from workflow.adapters.repository import _assignment
from workflow.bootstrap import Services
from workflow.domain import commands as domain_commands
from workflow.domain.errors import DomainError, NotFound
from workflow.domain.model import (
    STATE_LABELS,
    Assignment,
    AssignmentState,
    Channel,
    Priority,
    Request,
    RequestKind,
    RequestState,
)
from workflow.domain.units import ActorKind
from workflow.service_layer import views

logger = logging.getLogger(__name__)

OPEN_STATES = (RequestState.BEKLEYEN, RequestState.YONLENDIRILEN)
#: At most this many open requests are fetched for a list; the rest are counted.
LIST_FETCH = 30

# Unit-name endings -> abbreviations used when a reply would not fit otherwise. Longest first.
UNIT_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("Büyükşehir Belediyesi", "BŞB"),
    ("İl Özel İdaresi", "İÖİ"),
    ("Müdürlüğü", "Md."),
    ("Belediyesi", "Bel."),
    ("Kaymakamlığı", "Kaym."),
    ("Valiliği", "Val."),
)


@dataclass(frozen=True)
class UnitProgress:
    name: str
    done: bool


@dataclass(frozen=True)
class StatusView:
    number: int
    state: RequestState
    last_movement_at: datetime
    units: tuple[UnitProgress, ...]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class OpenItem:
    number: int
    state: RequestState

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class OpenList:
    items: tuple[OpenItem, ...]
    total: int


@dataclass(frozen=True)
class Filed:
    number: int
    kind: RequestKind


@dataclass(frozen=True)
class Refused:
    """The domain refused the filing; ``message`` is its Turkish explanation."""

    message: str


@dataclass(frozen=True)
class Ambiguous:
    """The phone belongs to several muhtars: filing needs the web, where the muhtar logs in."""


FilingOutcome = Filed | Refused | Ambiguous


def abbreviate(name: str) -> str:
    for ending, short in UNIT_ABBREVIATIONS:
        if name.endswith(ending):
            return name[: -len(ending)] + short
    return name


def among(
    conn: AsyncConnection, column: ColumnElement[Any], values: Collection[Any], item_type: Any
) -> ColumnElement[bool]:
    """``column IN values``. On PostgreSQL as ``column = ANY(array)``: one SQL text whatever the number of
    values, so the driver's prepared statement is reused (an IN list is a new statement, prepared in an
    extra round trip, for every batch size)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, sorted(values), type_=ARRAY(item_type)))
    return column.in_(sorted(values))


async def muhtars_for_phone(conn: AsyncConnection, phone_e164: str) -> list[str]:
    """Ids of the active muhtars whose registered phone this is (normally none or one)."""
    m = orm.muhtars
    query = select(m.c.id).where(and_(m.c.phone_e164 == phone_e164, m.c.active.is_(True))).order_by(m.c.id)
    return [row.id for row in (await conn.execute(query)).all()]


async def muhtars_for_phones(conn: AsyncConnection, phones: Collection[str]) -> dict[str, tuple[str, ...]]:
    """``muhtars_for_phone`` for several phones in one query: phone -> ids (phones with none are absent)."""
    if not phones:
        return {}
    m = orm.muhtars
    query = (
        select(m.c.phone_e164, m.c.id)
        .where(and_(among(conn, m.c.phone_e164, phones, String), m.c.active.is_(True)))
        .order_by(m.c.id)
    )
    found: dict[str, list[str]] = {}
    for row in (await conn.execute(query)).all():
        found.setdefault(row.phone_e164, []).append(row.id)
    return {phone: tuple(ids) for phone, ids in found.items()}


async def owned_statuses(
    conn: AsyncConnection,
    queries: Sequence[tuple[Collection[str], int]],
    channel: Channel,
    now: datetime,
) -> list[StatusView | None]:
    """Set-based ``find_status``: for each (sender's muhtar ids, number), the request's status view if one
    of those muhtars owns it, else None. Every reading is written to the access log, on ``conn``, in the
    caller's transaction; one or two queries for the whole batch, not a few per message."""
    owners = {muhtar_id for ids, _ in queries for muhtar_id in ids}
    loaded = await owned_requests(conn, {number for _, number in queries}, owners)
    views_: list[StatusView | None] = []
    log: list[dict[str, object]] = []
    for ids, number in queries:
        found = loaded.get(number)
        if found is None or found[0].muhtar_id not in ids:
            views_.append(None)
            continue
        request, last_public_at = found
        views_.append(status_view(request, last_public_at))
        log.append(access_log_row(request, channel, now))
    if log:
        await conn.execute(insert(orm.data_access_log), log)
    return views_


def access_log_row(request: Request, channel: Channel, now: datetime) -> dict[str, object]:
    """The ``data_access_log`` row of a muhtar reading their request over ``channel`` (what
    ``UnitOfWork.log_access`` writes for a muhtar viewer: no unit)."""
    return {
        "at": now,
        "viewer_kind": ActorKind.MUHTAR.value,
        "viewer_id": request.muhtar_id,
        "unit_id": None,
        "request_id": request.id,
        "action": "view",
        "source_addr": channel.value,
    }


async def owned_requests(
    conn: AsyncConnection, numbers: Collection[int], muhtar_ids: Collection[str]
) -> Mapping[int, tuple[Request, datetime | None]]:
    """The requests with these numbers owned by these muhtars, by number, each with the time of its last
    public movement (what ``status_view`` shows). The request is the domain object as the repository loads
    it, except that movements are not loaded (only that time is needed) and assignments only for a
    request whose stored state is "routed": the others' assignments change neither the state (concluded,
    or every top-level assignment handed back) nor the view (units are listed for a routed request only)."""
    if not numbers or not muhtar_ids:
        return {}
    r, a, m = orm.requests, orm.assignments, orm.movements
    last_public = (
        select(m.c.at)
        .where(and_(m.c.request_id == r.c.id, m.c.public.is_(True)))
        .order_by(m.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = select(r, last_public.label("last_public_at")).where(
        and_(among(conn, r.c.number, numbers, BigInteger), among(conn, r.c.muhtar_id, muhtar_ids, String))
    )
    rows = (await conn.execute(query)).all()
    routed = sorted(row.id for row in rows if row.state == RequestState.YONLENDIRILEN.value)
    assignments: dict[str, list[Assignment]] = {}
    if routed:
        assignment_rows = await conn.execute(
            select(a, orm.units)
            .join(orm.units, orm.units.c.id == a.c.unit_id)
            .where(among(conn, a.c.request_id, routed, String))
            .order_by(a.c.assigned_at, a.c.id)
        )
        for row in assignment_rows:
            assignments.setdefault(row._mapping[a.c.request_id], []).append(_assignment(row))
    return {
        row.number: (request_from(row._mapping, assignments.get(row.id, [])), row.last_public_at)
        for row in rows
    }


def request_from(row: Mapping[Any, Any], assignments: list[Assignment]) -> Request:
    """The domain request from a ``requests`` row (any mapping with its column names), without movements."""
    return Request(
        id=row["id"],
        number=row["number"],
        muhtar_id=row["muhtar_id"],
        kind=RequestKind(row["kind"]),
        description=row["description"],
        channel=Channel(row["channel"]),
        priority=Priority(row["priority"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        concluded_at=row["concluded_at"],
        final_note=row["final_note"],
        public_attachment_ids=json.loads(row["public_attachment_ids"]),
        assignments=assignments,
        version=row["version"],
    )


def status_view(request: Request, last_public_at: datetime | None = None) -> StatusView:
    """The muhtar-facing state, the last public movement and, for a routed request, each unit's progress.
    ``last_public_at``: the time of the last public movement when the movements were not loaded."""
    public = request.public_movements()
    last = public[-1].at if public else (last_public_at or request.updated_at)
    units: tuple[UnitProgress, ...] = ()
    if request.state is RequestState.YONLENDIRILEN:
        units = tuple(
            UnitProgress(a.unit.name, a.state is AssignmentState.COMPLETED)
            for a in request.top_level
            # A hand-back is internal: the unit is simply no longer on the request.
            if a.state is not AssignmentState.HANDED_BACK
        )
    return StatusView(request.number, request.state, last, units)


async def find_status(
    services: Services, muhtar_ids: Sequence[str], number: int, channel: Channel, now: datetime
) -> StatusView | None:
    """The request if one of ``muhtar_ids`` owns it (the reading is access-logged), else None."""
    for muhtar_id in muhtar_ids:
        try:
            request = await views.request_for_muhtar(
                services.uow(), muhtar_id, number, source_addr=channel.value, now=now
            )
        except NotFound:
            continue
        return status_view(request)
    return None


async def open_requests(services: Services, muhtar_ids: Sequence[str]) -> OpenList:
    """The open requests of ``muhtar_ids``, newest first (at most LIST_FETCH), and how many there are."""
    summaries: list[views.RequestSummary] = []
    total = 0
    for muhtar_id in muhtar_ids:
        summaries += await views.muhtar_requests(services.engine, muhtar_id, OPEN_STATES, limit=LIST_FETCH)
        counts = await views.muhtar_request_counts(services.engine, muhtar_id)
        total += sum(counts[s] for s in OPEN_STATES)
    summaries.sort(key=lambda s: (s.created_at, s.number), reverse=True)
    items = tuple(OpenItem(s.number, s.state) for s in summaries[:LIST_FETCH])
    return OpenList(items, max(total, len(items)))


def idempotency_key(channel: Channel, message_key: str) -> str:
    """A stable key per message/session (fits the 64-character column whatever the operator's ids)."""
    digest = hashlib.sha256(message_key.encode("utf-8", "surrogatepass")).hexdigest()[:48]
    return f"{channel.value}:{digest}"


async def file_request(
    services: Services,
    muhtar_ids: Sequence[str],
    kind: RequestKind,
    text: str,
    channel: Channel,
    message_key: str,
) -> FilingOutcome:
    """File through the service layer's FileRequest; the same ``message_key`` files once."""
    if len(muhtar_ids) != 1:
        return Ambiguous()
    command = domain_commands.FileRequest(
        muhtar_id=muhtar_ids[0],
        kind=kind.value,
        description=text,
        channel=channel.value,
        idempotency_key=idempotency_key(channel, message_key),
    )
    try:
        number = await services.commands.handle(command)
    except DomainError as exc:
        logger.info("filing by %s refused: %s", channel.value, exc.code)
        return Refused(exc.message)
    return Filed(int(number), kind)
