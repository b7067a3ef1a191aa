"""Answering one USSD request: session expiry, authorization, limits, the menu step, the screen.

    async def handle_ussd(services: Services, req: UssdRequest) -> UssdReply

The same rules as SMS (``inbound/service.py``): only a registered muhtar phone is served; a request is
shown only to the phone of the muhtar who owns it, any other number reads "not found"; the hourly command
limit counts each action (query, list, filing, help), not each menu screen. A USSD session cannot stay
silent, so where SMS would send nothing a USSD session ends with the polite limit screen.

A filing is keyed on the session id: a gateway retry, or the same answers sent again, files once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from inbound import answers
from inbound.commands import FILING_MIN_CHARS
from inbound.limits import (
    RateLimit,
    SessionState,
    Verdict,
    count_command,
    relaxed_durability,
    touch_ussd_session,
)
from inbound.replies import fit_screen, local_date, render_screen
from inbound.ussd_menu import Action, File, HelpScreen, ListOpen, Query, Show, walk
from workflow.bootstrap import Services
from workflow.domain.model import KIND_LABELS, Channel
from workflow.identity import InvalidPhone, normalize_tr_mobile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UssdRequest:
    session_id: str
    service_code: str
    phone_number: str
    text: str


@dataclass(frozen=True)
class UssdReply:
    text: str
    end: bool

    @property
    def body(self) -> str:
        """The HTTP body the gateway expects: ``CON <screen>`` or ``END <screen>``."""
        return ("END " if self.end else "CON ") + self.text


def _end(name: str, **context: object) -> UssdReply:
    return UssdReply(fit_screen([render_screen(name, **context)]), end=True)


async def handle_ussd(services: Services, req: UssdRequest) -> UssdReply:
    settings = services.settings
    now = services.clock()
    try:
        phone = normalize_tr_mobile(req.phone_number)
    except InvalidPhone as exc:
        logger.info("USSD session refused: caller is not a Turkish mobile number (%s)", exc.reason)
        return _end("inbound_ussd_unregistered")
    ttl = timedelta(seconds=settings.ussd.session_ttl_s)
    limit = RateLimit(per_window=settings.inbound.commands_per_hour, window=timedelta(hours=1))
    step = walk(req.text)
    decision = None
    async with services.engine.begin() as conn:
        await relaxed_durability(conn)
        state = await touch_ussd_session(conn, req.session_id, phone, now, ttl)
        muhtar_ids = tuple(await answers.muhtars_for_phone(conn, phone))
        if state is not SessionState.EXPIRED and muhtar_ids and not isinstance(step, Show):
            # Actions count towards the hourly limit; menu screens do not.
            decision = await count_command(conn, phone, now, limit)
    if state is SessionState.EXPIRED:
        return _end("inbound_ussd_expired", ussd_code=settings.sms.ussd_code)
    if not muhtar_ids:
        logger.info("USSD session from an unregistered number")
        return _end("inbound_ussd_unregistered")
    if isinstance(step, Show):
        return _screen(step)
    if decision is not None and decision.verdict is not Verdict.ANSWER:
        minutes = max(1, math.ceil((decision.resets_at - now).total_seconds() / 60))
        return _end("inbound_ussd_limited", minutes=minutes)
    return await _act(services, step, muhtar_ids, req.session_id, now)


def _screen(show: Show) -> UssdReply:
    kind = KIND_LABELS[show.kind] if show.kind is not None else ""
    name = f"inbound_ussd_{show.screen.value}"
    text = render_screen(name, error=show.error, kind=kind, minimum=FILING_MIN_CHARS)
    return UssdReply(fit_screen([text]), end=False)


async def _act(
    services: Services, action: Action, muhtar_ids: Sequence[str], session_id: str, now: datetime
) -> UssdReply:
    if isinstance(action, Query):
        view = await answers.find_status(services, muhtar_ids, action.number, Channel.USSD, now)
        if view is None:
            return _end("inbound_ussd_not_found", number=action.number)
        return UssdReply(status_screen(view), end=True)
    if isinstance(action, ListOpen):
        return UssdReply(list_screen(await answers.open_requests(services, muhtar_ids)), end=True)
    if isinstance(action, HelpScreen):
        return _end("inbound_ussd_help")
    return await _file(services, action, muhtar_ids, session_id)


async def _file(services: Services, action: File, muhtar_ids: Sequence[str], session_id: str) -> UssdReply:
    outcome = await answers.file_request(
        services, muhtar_ids, action.kind, action.text, Channel.USSD, session_id
    )
    if isinstance(outcome, answers.Filed):
        return _end("inbound_ussd_filed", kind=KIND_LABELS[outcome.kind], number=outcome.number)
    if isinstance(outcome, answers.Refused):
        return _end("inbound_ussd_refused", message=outcome.message)
    return _end("inbound_ussd_ambiguous")


def status_screen(view: answers.StatusView) -> str:
    def text(units: Sequence[answers.UnitProgress], more: int) -> str:
        return render_screen(
            "inbound_ussd_status",
            number=view.number,
            state=view.state_label,
            date=local_date(view.last_movement_at),
            units=units,
            more=more,
        )

    short = [answers.UnitProgress(answers.abbreviate(u.name), u.done) for u in view.units]
    candidates = [text(view.units, 0), text(short, 0)]
    candidates += [text(short[:keep], len(short) - keep) for keep in range(len(short) - 1, -1, -1)]
    return fit_screen(candidates)


def list_screen(listing: answers.OpenList) -> str:
    def text(keep: int) -> str:
        items = [{"number": i.number, "state": i.state_label} for i in listing.items[:keep]]
        return render_screen("inbound_ussd_list", items=items, more=listing.total - keep)

    return fit_screen([text(keep) for keep in range(len(listing.items), 0, -1)] or [text(0)])
