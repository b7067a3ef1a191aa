"""Report filters: read from a query string (Turkish parameter names), checked, and turned into SQL.

Dates are the viewer's calendar days in Europe/Istanbul (DD.MM.YYYY on screen, YYYY-MM-DD in forms);
inside they become a half-open UTC range on ``requests.created_at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, select, true

from workflow.adapters.orm import assignments, muhtarliks, muhtars, requests
from workflow.domain.vocabulary import Channel, RequestKind, RequestState
from workflow.reports.schema import KCS_CHANNELS, KCS_KINDS, KCS_STATES, report_work
from workflow.reports.schema import report_requests as rr

ISTANBUL: Final = ZoneInfo("Europe/Istanbul")
#: A date range longer than this is refused (a typo like 0202 would otherwise scan centuries).
MAX_RANGE_DAYS: Final = 3660


E = TypeVar("E", bound=StrEnum)


class Period(StrEnum):
    DAY = "gun"
    WEEK = "hafta"
    MONTH = "ay"


PERIOD_LABELS: Final = {Period.DAY: "Gün", Period.WEEK: "Hafta", Period.MONTH: "Ay"}


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None  # inclusive
    kind: RequestKind | None = None
    state: RequestState | None = None
    channel: Channel | None = None
    province_id: int | None = None
    district_id: int | None = None
    unit_id: int | None = None
    period: Period = Period.MONTH
    errors: tuple[str, ...] = field(default=(), compare=False)

    def query_params(self) -> dict[str, str]:
        """The filters as query-string values (for links and the form), empty ones left out."""
        raw = {
            "bas": self.start.isoformat() if self.start else "",
            "bit": self.end.isoformat() if self.end else "",
            "tur": self.kind.value if self.kind else "",
            "durum": self.state.value if self.state else "",
            "kanal": self.channel.value if self.channel else "",
            "il": str(self.province_id or ""),
            "ilce": str(self.district_id or ""),
            "birim": str(self.unit_id or ""),
            "donem": self.period.value,
        }
        return {k: v for k, v in raw.items() if v}

    @property
    def narrows_requests(self) -> bool:
        """True when some filter leaves requests out (otherwise joins to the request summary can go)."""
        return any((self.start, self.end, self.kind, self.state, self.channel, self.province_id,
                    self.district_id, self.unit_id))

    @property
    def narrows_beyond_dates(self) -> bool:
        """True when a filter other than the date range leaves requests out."""
        return any((self.kind, self.state, self.channel, self.province_id, self.district_id, self.unit_id))

    @property
    def keyed(self) -> bool:
        """True when kind, muhtar-facing state or channel is set (the keyed counts of 0012 hold those)."""
        return any((self.kind, self.state, self.channel))

    @property
    def by_place(self) -> bool:
        """True when a province or district is set (no counts table holds both a place and a unit)."""
        return any((self.province_id, self.district_id))

    def with_(self, **changes: object) -> Filters:
        return replace(self, **changes)  # type: ignore[arg-type]


def _enum(kind: type[E], raw: str, errors: list[str], message: str) -> E | None:
    if not raw:
        return None
    if raw in kind._value2member_map_:
        return kind(raw)
    errors.append(message)
    return None


def _int(raw: str, high: int, errors: list[str], message: str) -> int | None:
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) <= high:
        return int(raw)
    errors.append(message)
    return None


def _date(raw: str, errors: list[str], message: str) -> date | None:
    if not raw:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw.strip(), fmt).date()
        except ValueError:
            continue
    errors.append(message)
    return None


def parse_filters(query: Mapping[str, str]) -> Filters:
    """Unknown or malformed values are dropped with a Turkish message in ``errors``; never an exception."""
    errors: list[str] = []

    def get(key: str) -> str:
        return str(query.get(key, "")).strip()[:40]

    start = _date(get("bas"), errors, "Başlangıç tarihi GG.AA.YYYY biçiminde olmalıdır.")
    end = _date(get("bit"), errors, "Bitiş tarihi GG.AA.YYYY biçiminde olmalıdır.")
    if start and end and start > end:
        errors.append("Başlangıç tarihi bitiş tarihinden sonra olamaz.")
        start = end = None
    if start and end and (end - start).days > MAX_RANGE_DAYS:
        errors.append("Tarih aralığı en çok 10 yıl olabilir.")
        start = None
    return Filters(
        start=start,
        end=end,
        kind=_enum(RequestKind, get("tur"), errors, "Bilinmeyen başvuru türü."),
        state=_enum(RequestState, get("durum"), errors, "Bilinmeyen talep durumu."),
        channel=_enum(Channel, get("kanal"), errors, "Bilinmeyen kanal."),
        province_id=_int(get("il"), 81, errors, "İl 1 ile 81 arasında bir plaka kodu olmalıdır."),
        district_id=_int(get("ilce"), 10**9, errors, "Geçersiz ilçe."),
        unit_id=_int(get("birim"), 10**9, errors, "Geçersiz birim."),
        period=_enum(Period, get("donem"), errors, "Bilinmeyen dönem.") or Period.MONTH,
        errors=tuple(errors),
    )


def local_day_start(day: date) -> datetime:
    """The UTC instant a calendar day starts in Istanbul."""
    return datetime.combine(day, time(0), ISTANBUL).astimezone(UTC)


def fact_clause(f: Filters) -> ColumnElement[bool]:
    """The filters on ``report_requests`` (province and district are its own columns there)."""
    parts: list[ColumnElement[bool]] = []
    if f.start:
        parts.append(rr.c.created_at >= local_day_start(f.start))
    if f.end:
        parts.append(rr.c.created_at < local_day_start(f.end + timedelta(days=1)))
    for value, column in ((f.kind, rr.c.kind), (f.state, rr.c.state), (f.channel, rr.c.channel)):
        if value:
            parts.append(column == value.value)
    if f.province_id:
        parts.append(rr.c.province_id == f.province_id)
    if f.district_id:
        parts.append(rr.c.district_id == f.district_id)
    if f.unit_id:
        held = assignments.alias("filter_assignment")
        parts.append(exists().where(held.c.request_id == rr.c.request_id, held.c.unit_id == f.unit_id))
    return and_(true(), *parts)


def keyed_clause(f: Filters, kind: Any, state: Any, channel: Any) -> ColumnElement[bool]:
    """Kind, muhtar-facing state and channel on any table that carries them (counts, copies)."""
    parts = [column == value.value for value, column in ((f.kind, kind), (f.state, state), (f.channel, channel))
             if value]
    return and_(true(), *parts)


def kcs_codes(f: Filters) -> list[int]:
    """The ``kcs`` numbers (report_requests.kcs, report_work/report_open.request_kcs) of the kind, state and
    channel ``f`` allows."""
    return [
        (k * 3 + s) * 3 + c
        for k, kind in enumerate(KCS_KINDS) if f.kind is None or f.kind.value == kind
        for s, state in enumerate(KCS_STATES) if f.state is None or f.state.value == state
        for c, channel in enumerate(KCS_CHANNELS) if f.channel is None or f.channel.value == channel
    ]


def kcs_clause(f: Filters, column: Any) -> ColumnElement[bool]:
    """Kind, state and channel on a ``kcs`` number column (nothing when none of them is set)."""
    return column.in_(kcs_codes(f)) if f.keyed else true()


def work_dates(f: Filters) -> ColumnElement[bool]:
    """The date range on ``report_work``, which keeps each request's filing time beside the work."""
    parts: list[ColumnElement[bool]] = []
    if f.start:
        parts.append(report_work.c.request_created_at >= local_day_start(f.start))
    if f.end:
        parts.append(report_work.c.request_created_at < local_day_start(f.end + timedelta(days=1)))
    return and_(true(), *parts)


def assigned_window(f: Filters) -> ColumnElement[bool]:
    """A necessary condition on assignments of requests filed in the range: a unit gets a request only
    after it was filed. It lets the database narrow assignments by time before joining them to requests."""
    if f.start is None:
        return true()
    return assignments.c.assigned_at >= local_day_start(f.start)


def request_clause(f: Filters) -> ColumnElement[bool]:
    """The filters on ``requests`` (province/district through the muhtar's muhtarlık)."""
    parts: list[ColumnElement[bool]] = []
    if f.start:
        parts.append(requests.c.created_at >= local_day_start(f.start))
    if f.end:
        parts.append(requests.c.created_at < local_day_start(f.end + timedelta(days=1)))
    if f.kind:
        parts.append(requests.c.kind == f.kind.value)
    if f.state:
        parts.append(requests.c.state == f.state.value)
    if f.channel:
        parts.append(requests.c.channel == f.channel.value)
    if f.province_id or f.district_id:
        place = select(muhtars.c.id).join(muhtarliks, muhtarliks.c.id == muhtars.c.muhtarlik_id)
        if f.province_id:
            place = place.where(muhtarliks.c.province_id == f.province_id)
        if f.district_id:
            place = place.where(muhtarliks.c.district_id == f.district_id)
        parts.append(requests.c.muhtar_id.in_(place.scalar_subquery()))
    if f.unit_id:
        # An alias, so the subquery stays its own when the outer query reads assignments too.
        held = assignments.alias("filter_assignment")
        parts.append(exists().where(held.c.request_id == requests.c.id, held.c.unit_id == f.unit_id))
    return and_(true(), *parts)
