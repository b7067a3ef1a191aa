"""The staff daily digest: each opted-in staff user's unit's new and overdue tasks, once a day.

From ``mail.digest_hour`` (Europe/Istanbul) on, every enabled subscription of an active user that has not
had today's digest gets one (``last_sent_on`` and the ``digest:<user>:<day>`` dedupe key make it once a
day even with several workflow services). A day with nothing to report sends nothing.

Tasks of a unit: its assignments. New = still ``new`` and assigned in the last 24 hours; overdue = open
(``new``, ``in_progress``, ``forwarded``) past ``due_at``. MİGM has no assignments: its new tasks are
requests filed in the last 24 hours awaiting MİGM, its overdue ones requests awaiting MİGM for longer than
``workflow.default_due_days``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters.orm import assignments, requests, staff_users, units
from workflow.domain.model import (
    KIND_LABELS,
    OPEN_ASSIGNMENT_STATES,
    AssignmentState,
    RequestKind,
    RequestState,
)
from workflow.mail.compose import ISTANBUL, local_date, render_mail
from workflow.mail.queue import queue_mail
from workflow.mail.tables import mail_digest_subscriptions
from workflow.settings import Settings

logger = logging.getLogger(__name__)

NEW_WINDOW = timedelta(hours=24)
MAX_LISTED = 100  # per list; the inbox has the rest


@dataclass(frozen=True)
class Task:
    number: int
    kind: str
    assigned: str
    due: str
    days_late: int


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _kind(kind: str) -> str:
    try:
        return KIND_LABELS[RequestKind(kind)]
    except ValueError:
        return "Başvuru"


def _task(number: int, kind: str, assigned: datetime, due: datetime, now: datetime) -> Task:
    late = max((now - _aware(due)).days, 0)
    return Task(number, _kind(kind), local_date(assigned), local_date(due), late)


async def unit_tasks(
    conn: AsyncConnection, unit_id: int, is_migm: bool, now: datetime, due_days: int
) -> tuple[list[Task], list[Task]]:
    """(new, overdue) tasks of a unit, oldest first."""
    if is_migm:
        waiting = select(requests.c.number, requests.c.kind, requests.c.created_at).where(
            requests.c.migm_pending.is_(True), requests.c.state != str(RequestState.SONUCLANAN)
        )
        new_rows = await conn.execute(
            waiting.where(requests.c.created_at >= now - NEW_WINDOW)
            .order_by(requests.c.created_at)
            .limit(MAX_LISTED)
        )
        new = [
            _task(r.number, r.kind, r.created_at, _aware(r.created_at) + timedelta(days=due_days), now)
            for r in new_rows
        ]
        late_rows = await conn.execute(
            waiting.where(requests.c.created_at < now - timedelta(days=due_days))
            .order_by(requests.c.created_at)
            .limit(MAX_LISTED)
        )
        overdue = [
            _task(r.number, r.kind, r.created_at, _aware(r.created_at) + timedelta(days=due_days), now)
            for r in late_rows
        ]
        return new, overdue
    base = (
        select(requests.c.number, requests.c.kind, assignments.c.assigned_at, assignments.c.due_at)
        .join(requests, requests.c.id == assignments.c.request_id)
        .where(assignments.c.unit_id == unit_id)
    )
    new_rows = await conn.execute(
        base.where(
            assignments.c.state == str(AssignmentState.NEW), assignments.c.assigned_at >= now - NEW_WINDOW
        )
        .order_by(assignments.c.assigned_at)
        .limit(MAX_LISTED)
    )
    late_rows = await conn.execute(
        base.where(
            assignments.c.state.in_([str(s) for s in OPEN_ASSIGNMENT_STATES]), assignments.c.due_at < now
        )
        .order_by(assignments.c.due_at)
        .limit(MAX_LISTED)
    )
    return (
        [_task(r.number, r.kind, r.assigned_at, r.due_at, now) for r in new_rows],
        [_task(r.number, r.kind, r.assigned_at, r.due_at, now) for r in late_rows],
    )


async def queue_due_digests(conn: AsyncConnection, settings: Settings, now: datetime | None = None) -> int:
    """Queue today's digests that are due; return how many mails were queued. Caller commits."""
    now = now or datetime.now(UTC)
    local = now.astimezone(ISTANBUL)
    if local.hour < settings.mail.digest_hour:
        return 0
    day = local.date().isoformat()
    rows = (
        await conn.execute(
            select(
                mail_digest_subscriptions.c.staff_user_id,
                mail_digest_subscriptions.c.email,
                staff_users.c.full_name,
                units.c.id.label("unit_id"),
                units.c.kind.label("unit_kind"),
                units.c.name.label("unit_name"),
            )
            .join(staff_users, staff_users.c.id == mail_digest_subscriptions.c.staff_user_id)
            .join(units, units.c.id == staff_users.c.unit_id)
            .where(
                mail_digest_subscriptions.c.enabled.is_(True),
                staff_users.c.active.is_(True),
                (mail_digest_subscriptions.c.last_sent_on.is_(None))
                | (mail_digest_subscriptions.c.last_sent_on < day),
            )
        )
    ).all()
    queued = 0
    for row in rows:
        if await _digest_for(conn, settings, row, now, day):
            queued += 1
        await conn.execute(
            update(mail_digest_subscriptions)
            .where(mail_digest_subscriptions.c.staff_user_id == row.staff_user_id)
            .values(last_sent_on=day, updated_at=now)
        )
    return queued


async def _digest_for(conn: AsyncConnection, settings: Settings, row: Any, now: datetime, day: str) -> bool:
    new, overdue = await unit_tasks(
        conn, row.unit_id, row.unit_kind == "migm", now, settings.workflow.default_due_days
    )
    if not new and not overdue:
        return False
    rendered = render_mail(
        "staff_digest",
        name=row.full_name,
        unit=row.unit_name,
        date=local_date(now),
        new_tasks=new,
        overdue_tasks=overdue,
        url=settings.web.base_url.rstrip("/") + "/",
    )
    mail_id = await queue_mail(
        conn,
        purpose="staff_digest",
        to_address=row.email,
        to_name=row.full_name,
        rendered=rendered,
        dedupe_key=f"digest:{row.staff_user_id}:{day}",
        staff_user_id=row.staff_user_id,
    )
    return mail_id is not None
