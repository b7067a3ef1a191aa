"""What SMS commands and USSD screens answer, as data; ``service.py`` and ``ussd.py`` render it.

Everything goes through the workflow service layer: requests are read with
``views.request_for_muhtar`` (which writes the access log) and ``views.muhtar_requests``, and filed with the
``FileRequest`` command through the same message bus the web form uses. Nothing here decides who may see
what beyond "the sender's phone is the registered phone of the muhtar who owns the request".
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters import orm
from workflow.bootstrap import Services
from workflow.domain import commands as domain_commands
from workflow.domain.errors import DomainError, NotFound
from workflow.domain.model import (
    STATE_LABELS,
    AssignmentState,
    Channel,
    Request,
    RequestKind,
    RequestState,
)
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


async def muhtars_for_phone(conn: AsyncConnection, phone_e164: str) -> list[str]:
    """Ids of the active muhtars whose registered phone this is (normally none or one)."""
    m = orm.muhtars
    query = select(m.c.id).where(and_(m.c.phone_e164 == phone_e164, m.c.active.is_(True))).order_by(m.c.id)
    return [row.id for row in (await conn.execute(query)).all()]


def status_view(request: Request) -> StatusView:
    """The muhtar-facing state, the last public movement and, for a routed request, each unit's progress."""
    public = request.public_movements()
    last = public[-1].at if public else request.updated_at
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
