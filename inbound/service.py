"""Answering an MO SMS: authorization, limits, the command, the reply text.

Interface for the workflow service (the ``sms.inbound`` consumer), which handles MOs in batches::

    async def answer_batch(conn, config, mos) -> list[str | Deferred | None]   # inside its transaction
    async def finish(services, config, deferred, now) -> str | None            # after the commit

* ``answer_batch`` runs on the caller's connection, in the transaction that also records the MOs and
  queues the replies, so an MO, its counting, the access log of what it read and its reply commit
  together (or not at all, and the redelivered MO is answered afresh). A few set-based statements serve
  the whole batch. It returns the reply text (already fitted to at most 2 SMS parts under
  ``sms.encoding``), None when nothing must be sent (rate limit exceeded, an unregistered number already
  answered today, a sender that is not a Turkish mobile number), or ``Deferred`` for a command that goes
  through the service layer in its own transactions (filing, the open list): the caller answers it with
  ``finish`` after committing the batch, then queues that reply. A filing is keyed on ``mo_id`` and
  files once, so a redelivered MO never files twice.
* ``handle_mo(services, sms)`` is the same for one MO in a transaction of its own (``sms`` a
  :class:`MoMessage` or the ``sms.inbound`` v1 payload: ``mo_id``, ``from``, ``text``…).

Reads go through the same domain objects the service layer uses (``Request.status`` rules); filing goes
through ``services.commands`` like the web form. Only infrastructure failures raise.

Rules (issue 5): the sender must be the registered phone of the muhtar who owns the request; a stranger,
an unregistered or a wrong number gets the same reply as a request that does not exist; an unregistered
number gets at most one reply a day; each number may send ``inbound.commands_per_hour`` commands an hour,
the first one over gets a polite reply, later ones nothing until the hour resets.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from inbound import answers
from inbound.commands import (
    FILING_MIN_CHARS,
    Command,
    Filing,
    FilingTooShort,
    Help,
    ListOpen,
    QueryRequest,
    parse,
)
from inbound.limits import RateDecision, RateLimit, Verdict, count_commands, first_today
from inbound.replies import fit, local_date, render
from workflow.adapters import orm
from workflow.bootstrap import Services
from workflow.domain.model import KIND_LABELS, Channel, Request, RequestKind
from workflow.identity import InvalidPhone, normalize_tr_mobile

logger = logging.getLogger(__name__)

#: ``parse`` is pure and its commands immutable; the consumer asks twice per MO (``may_defer``, then
#: ``answer_batch``), so the second time comes from here.
_parse = functools.lru_cache(maxsize=1024)(parse)

UNREGISTERED_MARK = "unregistered_sms"

#: The keyword shown in the too-short example, per kind (ASCII, as most phones type it).
FILING_KEYWORDS: dict[RequestKind, str] = {
    RequestKind.SIKAYET: "SIKAYET",
    RequestKind.ISTEK: "ISTEK",
    RequestKind.IHBAR: "IHBAR",
    RequestKind.GORUS_ONERI: "ONERI",
}


@dataclass(frozen=True)
class MoMessage:
    mo_id: str
    sender: str
    text: str

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> MoMessage:
        return cls(str(payload["mo_id"]), str(payload["from"]), str(payload.get("text") or ""))


@dataclass(frozen=True)
class InboundConfig:
    rate: RateLimit
    sms_mode: str
    web_url: str
    min_chars: int = FILING_MIN_CHARS

    @classmethod
    def from_services(cls, services: Services) -> InboundConfig:
        s = services.settings
        return cls(
            rate=RateLimit(per_window=s.inbound.commands_per_hour, window=timedelta(hours=1)),
            sms_mode=s.sms.encoding,
            web_url=s.web.base_url,
        )


@dataclass(frozen=True)
class Sender:
    phone: str
    muhtar_ids: tuple[str, ...]


@dataclass(frozen=True)
class Deferred:
    """An MO whose command goes through the service layer in transactions of its own (filing, the open
    list): ``answer_batch`` has counted and authorized it; ``finish`` answers it after the batch commits."""

    sender: Sender
    command: Command
    mo: MoMessage


#: What ``answer_batch`` says for one MO: the reply text, None (nothing to send), or Deferred.
Answer = str | Deferred | None


async def handle_mo(services: Services, sms: MoMessage | Mapping[str, Any]) -> str | None:
    """The reply to an MO SMS, or None (see the module docstring)."""
    mo = sms if isinstance(sms, MoMessage) else MoMessage.from_payload(sms)
    config = InboundConfig.from_services(services)
    now = services.clock()
    async with services.engine.begin() as conn:
        [answer] = await answer_batch(conn, config, [mo], now)
    if isinstance(answer, Deferred):
        return await finish(services, config, answer, now)
    return answer


async def answer_batch(
    conn: AsyncConnection, config: InboundConfig, mos: Sequence[MoMessage], now: datetime
) -> list[Answer]:
    """Answer several MOs on ``conn``, inside the caller's transaction, with a few set-based statements for
    the whole batch (limit counters, phone lookup, owned requests, access log). One answer per MO, in order;
    the MOs of one phone are counted in their order, exactly as one by one. The caller commits (and, for a
    ``Deferred`` answer, calls ``finish`` after that). (The workflow service's consumer does the same on
    PostgreSQL in fewer round trips: ``inbound.pg_batch``, with ``prepare`` and ``decide`` shared.)"""
    work = prepare(mos, config)
    if not work:
        return [None] * len(mos)
    phones = [w.phone for w in work]
    decisions = await count_commands(conn, phones, now, config.rate)
    owners = await answers.muhtars_for_phones(conn, set(phones))
    queried = [
        (owners[w.phone], w.command.number)
        for w, d in zip(work, decisions, strict=True)
        if isinstance(w.command, QueryRequest)
        and w.command.number is not None
        and w.phone in owners
        and d.verdict is Verdict.ANSWER
    ]
    loaded = await answers.owned_requests(
        conn, {number for _, number in queried}, {i for ids, _ in queried for i in ids}
    )
    decided = decide(config, len(mos), work, decisions, owners, loaded, now)
    for index, phone in decided.first_today:
        if not await first_today(conn, phone, UNREGISTERED_MARK, now):
            decided.answers[index] = None
    if decided.log:
        await conn.execute(insert(orm.data_access_log), [row for _, row in decided.log])
    return decided.answers


@dataclass(frozen=True)
class Work:
    """An MO to answer: its place in the batch, its sender normalised to E.164, its command."""

    index: int
    mo: MoMessage
    phone: str
    command: Command


def prepare(mos: Sequence[MoMessage], config: InboundConfig) -> list[Work]:
    """The MOs of a batch that get an answer at all (senders that are Turkish mobile numbers), parsed."""
    work: list[Work] = []
    for index, mo in enumerate(mos):
        try:
            phone = normalize_tr_mobile(mo.sender)
        except InvalidPhone as exc:
            logger.info("MO %s ignored: sender is not a Turkish mobile number (%s)", mo.mo_id, exc.reason)
            continue
        work.append(Work(index, mo, phone, _parse(mo.text, min_chars=config.min_chars)))
    return work


@dataclass
class Decided:
    """What ``decide`` made of a batch: one answer per MO; the access-log rows of the requests read, each
    with the index of its MO; and the unregistered senders' replies, by MO index, that may be sent only if
    this is the phone's first reply today (``first_today``: the caller checks, and drops the rest)."""

    answers: list[Answer]
    log: list[tuple[int, dict[str, object]]]
    first_today: list[tuple[int, str]]


def decide(
    config: InboundConfig,
    count: int,
    work: Sequence[Work],
    decisions: Sequence[RateDecision],
    owners: Mapping[str, tuple[str, ...]],
    loaded: Mapping[int, tuple[Request, datetime | None]],
    now: datetime,
) -> Decided:
    """The answers of a batch of ``count`` MOs from what the database said: the limit decision per work
    item, the muhtars per phone, and the requests asked about that those muhtars own (by number)."""
    decided = Decided([None] * count, [], [])
    unregistered: set[str] = set()
    for w, decision in zip(work, decisions, strict=True):
        command, index = w.command, w.index
        muhtar_ids = owners.get(w.phone, ())
        if not muhtar_ids:
            # At most one reply a day, the rate-limit notice included.
            logger.info("MO %s from an unregistered number (%s)", w.mo.mo_id, type(command).__name__)
            if decision.verdict is Verdict.ANSWER and w.phone not in unregistered:
                unregistered.add(w.phone)  # a second MO of the batch is not the first today either
                decided.answers[index] = _unregistered_reply(config, command)
                decided.first_today.append((index, w.phone))
        elif decision.verdict is Verdict.SILENT:
            continue
        elif decision.verdict is Verdict.WARN:
            minutes = max(1, math.ceil((decision.resets_at - now).total_seconds() / 60))
            decided.answers[index] = _fit(config, render("inbound_rate_limited", minutes=minutes))
        elif isinstance(command, QueryRequest):
            found = loaded.get(command.number) if command.number is not None else None
            if found is None or found[0].muhtar_id not in muhtar_ids:
                decided.answers[index] = _not_found(config, command)
                continue
            request, last_public_at = found
            decided.answers[index] = status_text(answers.status_view(request, last_public_at), config)
            decided.log.append((index, answers.access_log_row(request, Channel.SMS, now)))
        elif type(command) in IMMEDIATE:
            decided.answers[index] = IMMEDIATE[type(command)](config, command)
        else:
            decided.answers[index] = Deferred(Sender(w.phone, muhtar_ids), command, w.mo)
    return decided


def may_defer(mo: MoMessage, config: InboundConfig) -> bool:
    """True when ``answer_batch`` may answer this MO with ``Deferred`` (its command is a filing or the open
    list); False means it is always answered (or ignored) inside the batch."""
    return type(_parse(mo.text, min_chars=config.min_chars)) not in IMMEDIATE_OR_QUERY


async def finish(services: Services, config: InboundConfig, deferred: Deferred, now: datetime) -> str | None:
    """The reply to a deferred MO, through the service layer (a filing is keyed on ``mo_id``: once)."""
    handler = HANDLERS[type(deferred.command)]
    return await handler(services, config, deferred.sender, deferred.command, deferred.mo, now)


def _fit(config: InboundConfig, *complete: str, lossy: Sequence[str] = ()) -> str:
    return fit(complete, lossy, mode=config.sms_mode)


def _unregistered_reply(config: InboundConfig, command: Command) -> str:
    if isinstance(command, QueryRequest):
        # Exactly what an owner gets for a number that does not exist.
        return _not_found(config, command)
    return _fit(config, render("inbound_unregistered", web_url=config.web_url))


def _not_found(config: InboundConfig, command: QueryRequest) -> str:
    return _fit(config, render("inbound_not_found", typed=command.typed))


# --- one function per command --------------------------------------------------------------------

Handler = Callable[[Services, InboundConfig, Sender, Any, MoMessage, datetime], Awaitable[str | None]]


async def _query(
    services: Services, config: InboundConfig, sender: Sender, cmd: QueryRequest, mo: MoMessage, now: datetime
) -> str | None:
    if cmd.number is None:
        return _not_found(config, cmd)
    view = await answers.find_status(services, sender.muhtar_ids, cmd.number, Channel.SMS, now)
    if view is None:
        return _not_found(config, cmd)
    return status_text(view, config)


def status_text(view: answers.StatusView, config: InboundConfig) -> str:
    """TALEP n: all units with full names, then abbreviated, then fewer units (+N), within 2 parts."""

    def text(units: Sequence[answers.UnitProgress], more: int) -> str:
        return render(
            "inbound_status",
            number=view.number,
            state=view.state_label,
            date=local_date(view.last_movement_at),
            units=units,
            more=more,
        )

    short = [answers.UnitProgress(answers.abbreviate(u.name), u.done) for u in view.units]
    complete = [text(view.units, 0), text(short, 0)]
    lossy = [text(short[:keep], len(short) - keep) for keep in range(len(short) - 1, -1, -1)]
    return _fit(config, *complete, lossy=lossy)


async def _list(
    services: Services, config: InboundConfig, sender: Sender, cmd: ListOpen, mo: MoMessage, now: datetime
) -> str | None:
    listing = await answers.open_requests(services, sender.muhtar_ids)
    return list_text(listing, config)


def list_text(listing: answers.OpenList, config: InboundConfig) -> str:
    def text(keep: int) -> str:
        items = listing.items[:keep]
        return render(
            "inbound_list",
            items=[{"number": i.number, "state": i.state_label} for i in items],
            more=listing.total - len(items),
            web_url=config.web_url,
        )

    # Every open request if they fit, else as many as fit and "N more" with the web address.
    candidates = [text(keep) for keep in range(len(listing.items), 0, -1)] or [text(0)]
    complete, lossy = candidates[:1], candidates[1:]
    return _fit(config, *complete, lossy=lossy)


async def _help(
    services: Services, config: InboundConfig, sender: Sender, cmd: Help, mo: MoMessage, now: datetime
) -> str | None:
    return help_text(config)


def help_text(config: InboundConfig) -> str:
    return _fit(config, render("inbound_help", minimum=config.min_chars))


async def _too_short(
    services: Services,
    config: InboundConfig,
    sender: Sender,
    cmd: FilingTooShort,
    mo: MoMessage,
    now: datetime,
) -> str | None:
    return _fit(config, render("inbound_too_short", minimum=cmd.minimum, keyword=FILING_KEYWORDS[cmd.kind]))


async def _file(
    services: Services, config: InboundConfig, sender: Sender, cmd: Filing, mo: MoMessage, now: datetime
) -> str | None:
    outcome = await answers.file_request(
        services, sender.muhtar_ids, cmd.kind, cmd.text, Channel.SMS, mo.mo_id
    )
    return filing_text(outcome, config)


def filing_text(outcome: answers.FilingOutcome, config: InboundConfig) -> str:
    if isinstance(outcome, answers.Filed):
        return _fit(config, render("inbound_filed", number=outcome.number, kind=KIND_LABELS[outcome.kind]))
    if isinstance(outcome, answers.Refused):
        return _fit(config, render("inbound_filing_failed", message=outcome.message))
    return _fit(config, render("inbound_ambiguous_phone", web_url=config.web_url))


#: Commands answered from the command alone, inside the batch.
IMMEDIATE: dict[type[Command], Callable[[InboundConfig, Any], str]] = {
    Help: lambda config, _cmd: help_text(config),
    FilingTooShort: lambda config, cmd: _fit(
        config, render("inbound_too_short", minimum=cmd.minimum, keyword=FILING_KEYWORDS[cmd.kind])
    ),
}

IMMEDIATE_OR_QUERY = frozenset({*IMMEDIATE, QueryRequest})

#: Command type -> the function that answers it through the service layer (``finish``).
HANDLERS: dict[type[Command], Handler] = {
    QueryRequest: _query,
    ListOpen: _list,
    Help: _help,
    FilingTooShort: _too_short,
    Filing: _file,
}
