"""Per-phone limits kept in the database, so every workflow process and web worker shares them.

* :func:`count_command` — the hourly command limit: commands within the limit are answered, the first
  one over it gets one polite reply, later ones get nothing until the window resets.
* :func:`first_today` — true once per phone, purpose and Europe/Istanbul calendar day (the one reply an
  unregistered number gets per day).
* :func:`touch_ussd_session` — whether a USSD session is new, alive or expired (silent too long).

Each function runs its statements on the connection it is given, inside the caller's transaction.
Counters and marks are upserts, so concurrent messages from one phone count correctly.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import and_, bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbound.replies import ISTANBUL
from inbound.tables import inbound_daily_marks, inbound_rate_counters, ussd_sessions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimit:
    per_window: int = 20
    window: timedelta = timedelta(hours=1)


class Verdict(Enum):
    ANSWER = "answer"
    WARN = "warn"  # the first command over the limit: one polite reply
    SILENT = "silent"


@dataclass(frozen=True)
class RateDecision:
    verdict: Verdict
    resets_at: datetime


class SessionState(Enum):
    NEW = "new"
    ACTIVE = "active"
    EXPIRED = "expired"


def _insert(conn: AsyncConnection, table: Any) -> Any:
    """INSERT with ON CONFLICT support for the connection's dialect (PostgreSQL or SQLite)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def relaxed_durability(conn: AsyncConnection) -> None:
    """Let this transaction commit without waiting for its WAL flush (PostgreSQL; SQLite: no-op).

    Only for the rows of this module: losing the last few milliseconds of counter increments or session
    stamps in a database crash is harmless, and not waiting for the disk halves the cost of an MO
    (the request data and the access log are written in their own, fully durable, transactions).
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window ``now`` falls in (windows are aligned to the Unix epoch)."""
    seconds = int(window.total_seconds())
    stamp = int(now.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=now.tzinfo)


async def count_command(conn: AsyncConnection, phone: str, now: datetime, limit: RateLimit) -> RateDecision:
    """Count one command from ``phone``; say whether to answer it, warn once, or stay silent."""
    return (await count_commands(conn, [phone], now, limit))[0]


async def count_commands(
    conn: AsyncConnection, phones: Sequence[str], now: datetime, limit: RateLimit
) -> list[RateDecision]:
    """Count one command per entry of ``phones`` (a phone may appear several times, in arrival order) with
    one upsert for the whole batch; return a decision per entry, exactly as if counted one by one."""
    if not phones:
        return []
    start = window_start(now, limit.window)
    batch = Counter(phones)
    # Sorted, so two processes counting overlapping phones lock the counter rows in the same order.
    ordered = sorted(batch)
    if conn.dialect.name == "postgresql":
        totals = await _count_pg(conn, ordered, [batch[p] for p in ordered], start)
    else:
        totals = await _count_portable(conn, ordered, batch, start)
    return decide_counts(phones, batch, totals, start, limit)


#: Count a batch and drop the phones' earlier windows in one round trip (PostgreSQL). The DELETE sees the
#: rows as they were before the statement, so it never touches the window being counted (a later start).
COUNT_PG = text(
    """
WITH counted AS (
    INSERT INTO inbound_rate_counters AS t (phone_e164, window_start, count)
    SELECT b.phone, CAST(:start AS timestamptz), b.n
    FROM unnest(CAST(:phones AS varchar[]), CAST(:counts AS integer[])) WITH ORDINALITY AS b(phone, n, i)
    ORDER BY b.i
    ON CONFLICT (phone_e164, window_start) DO UPDATE SET count = t.count + excluded.count
    RETURNING t.phone_e164, t.count
), expired AS (
    DELETE FROM inbound_rate_counters d
    WHERE d.phone_e164 = ANY(CAST(:phones AS varchar[])) AND d.window_start < CAST(:start AS timestamptz)
)
SELECT phone_e164, count FROM counted
"""
).bindparams(bindparam("start", type_=inbound_rate_counters.c.window_start.type))


async def _count_pg(
    conn: AsyncConnection, phones: list[str], counts: list[int], start: datetime
) -> dict[str, int]:
    rows = await conn.execute(COUNT_PG, {"phones": phones, "counts": counts, "start": start})
    return {str(phone): int(count) for phone, count in rows.all()}


async def _count_portable(
    conn: AsyncConnection, ordered: list[str], batch: Counter[str], start: datetime
) -> dict[str, int]:
    t = inbound_rate_counters
    stmt = _insert(conn, t)
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.phone_e164, t.c.window_start], set_={"count": t.c.count + stmt.excluded["count"]}
    ).returning(t.c.phone_e164, t.c.count)
    # One statement compiled once (executemany with RETURNING: SQLAlchemy's "insertmanyvalues").
    rows = [{"phone_e164": p, "window_start": start, "count": batch[p]} for p in ordered]
    totals = {str(phone): int(count) for phone, count in (await conn.execute(stmt, rows)).all()}
    fresh = [p for p in ordered if totals[p] == batch[p]]
    if fresh:
        # A new window for these phones: their earlier windows are no longer needed.
        await conn.execute(delete(t).where(and_(t.c.phone_e164.in_(fresh), t.c.window_start < start)))
    return totals


def decide_counts(
    phones: Sequence[str], batch: Counter[str], totals: dict[str, int], start: datetime, limit: RateLimit
) -> list[RateDecision]:
    """A decision per entry of ``phones`` (``batch``: how many times each occurs) from the counters' totals
    after the batch was added (``totals``)."""
    # The n-th of this batch's commands from a phone is number (total before the batch + n) in its window.
    seen: Counter[str] = Counter()
    decisions = []
    for phone in phones:
        seen[phone] += 1
        count = totals[phone] - batch[phone] + seen[phone]
        if count <= limit.per_window:
            verdict = Verdict.ANSWER
        elif count == limit.per_window + 1:
            verdict = Verdict.WARN
            logger.info(
                "inbound rate limit reached for a phone (%d commands in the window)", limit.per_window
            )
        else:
            verdict = Verdict.SILENT
        decisions.append(RateDecision(verdict, start + limit.window))
    return decisions


def local_day(now: datetime) -> str:
    return now.astimezone(ISTANBUL).date().isoformat()


async def first_today(conn: AsyncConnection, phone: str, purpose: str, now: datetime) -> bool:
    """True the first time this (phone, purpose) is seen on this Europe/Istanbul day, else False."""
    t = inbound_daily_marks
    day = local_day(now)
    stmt = (
        _insert(conn, t)
        .values(phone_e164=phone, purpose=purpose, day=day, created_at=now)
        .on_conflict_do_nothing(index_elements=[t.c.phone_e164, t.c.purpose, t.c.day])
        .returning(t.c.day)
    )
    first = (await conn.execute(stmt)).first() is not None
    if first:
        await conn.execute(
            delete(t).where(and_(t.c.phone_e164 == phone, t.c.purpose == purpose, t.c.day != day))
        )
    return first


async def touch_ussd_session(
    conn: AsyncConnection, session_id: str, phone: str, now: datetime, ttl: timedelta
) -> SessionState:
    """Record that the session was heard from now; an expired session stays expired."""
    t = ussd_sessions
    row = (
        await conn.execute(select(t.c.phone_e164, t.c.last_seen_at).where(t.c.session_id == session_id))
    ).first()
    if row is None:
        stmt = (
            _insert(conn, t)
            .values(session_id=session_id, phone_e164=phone, started_at=now, last_seen_at=now)
            .on_conflict_do_nothing(index_elements=[t.c.session_id])
        )
        await conn.execute(stmt)
        await conn.execute(
            delete(t).where(and_(t.c.phone_e164 == phone, t.c.last_seen_at < now - timedelta(days=1)))
        )
        return SessionState.NEW
    if row.phone_e164 != phone or now - row.last_seen_at > ttl:
        # Another phone reusing a session id is treated as an expired session, never as a continuation.
        return SessionState.EXPIRED
    await conn.execute(update(t).where(t.c.session_id == session_id).values(last_seen_at=now))
    return SessionState.ACTIVE


async def purge(engine: AsyncEngine, now: datetime, window: timedelta = timedelta(hours=1)) -> int:
    """Remove every stale counter, mark and session (housekeeping); return how many rows went."""
    removed = 0
    async with engine.begin() as conn:
        for stmt in (
            delete(inbound_rate_counters).where(inbound_rate_counters.c.window_start < now - 2 * window),
            delete(inbound_daily_marks).where(inbound_daily_marks.c.created_at < now - timedelta(days=2)),
            delete(ussd_sessions).where(ussd_sessions.c.last_seen_at < now - timedelta(days=1)),
        ):
            removed += (await conn.execute(stmt)).rowcount or 0
    return removed
