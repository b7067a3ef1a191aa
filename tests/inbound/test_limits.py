"""Per-phone counters, daily marks and USSD sessions on the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbound.limits import (
    RateLimit,
    SessionState,
    Verdict,
    count_command,
    first_today,
    purge,
    touch_ussd_session,
    window_start,
)
from inbound.tables import inbound_daily_marks, inbound_rate_counters, ussd_sessions

PHONE = "+905321234567"
OTHER = "+905421112233"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "window", "expected"),
    [
        (
            datetime(2026, 11, 25, 9, 59, 59, tzinfo=UTC),
            timedelta(hours=1),
            datetime(2026, 11, 25, 9, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC),
            timedelta(hours=1),
            datetime(2026, 11, 25, 10, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 25, 10, 7, 30, tzinfo=UTC),
            timedelta(minutes=15),
            datetime(2026, 11, 25, 10, tzinfo=UTC),
        ),
    ],
)
def test_window_start(now: datetime, window: timedelta, expected: datetime) -> None:
    assert window_start(now, window) == expected


async def test_counter_answers_warns_once_then_silent_and_resets(engine: AsyncEngine) -> None:
    limit = RateLimit(per_window=3)
    verdicts = []
    for i in range(6):
        async with engine.begin() as conn:
            decision = await count_command(conn, PHONE, T0 + timedelta(minutes=i), limit)
        verdicts.append(decision.verdict)
        assert decision.resets_at == T0 + timedelta(hours=1)
    assert verdicts == [Verdict.ANSWER] * 3 + [Verdict.WARN, Verdict.SILENT, Verdict.SILENT]
    async with engine.begin() as conn:
        other = await count_command(conn, OTHER, T0, limit)
        later = await count_command(conn, PHONE, T0 + timedelta(hours=1), limit)
        rows = (await conn.execute(select(func.count()).select_from(inbound_rate_counters))).scalar()
    assert (other.verdict, later.verdict) == (Verdict.ANSWER, Verdict.ANSWER)
    assert rows == 2  # the phone's old window went when its new one started


async def test_first_today_follows_the_istanbul_calendar(engine: AsyncEngine) -> None:
    evening = datetime(2026, 11, 25, 20, 59, tzinfo=UTC)  # 23:59 in Istanbul
    async with engine.begin() as conn:
        results = [
            await first_today(conn, PHONE, "unregistered_sms", evening - timedelta(hours=10)),
            await first_today(conn, PHONE, "unregistered_sms", evening),
            await first_today(conn, PHONE, "other_purpose", evening),
            await first_today(conn, PHONE, "unregistered_sms", evening + timedelta(minutes=1)),  # 00:00
            await first_today(conn, PHONE, "unregistered_sms", evening + timedelta(hours=5)),
        ]
        rows = (await conn.execute(select(func.count()).select_from(inbound_daily_marks))).scalar()
    assert results == [True, False, True, True, False]
    assert rows == 2


async def test_ussd_session_states(engine: AsyncEngine) -> None:
    ttl = timedelta(seconds=180)
    async with engine.begin() as conn:
        states = [
            await touch_ussd_session(conn, "s1", PHONE, T0, ttl),
            await touch_ussd_session(conn, "s1", PHONE, T0 + timedelta(seconds=180), ttl),
            await touch_ussd_session(conn, "s1", PHONE, T0 + timedelta(seconds=360), ttl),
            await touch_ussd_session(conn, "s1", PHONE, T0 + timedelta(seconds=361), ttl),
            await touch_ussd_session(conn, "s1", OTHER, T0 + timedelta(seconds=362), ttl),
            await touch_ussd_session(conn, "s2", OTHER, T0 + timedelta(seconds=362), ttl),
        ]
    assert states == [
        SessionState.NEW,
        SessionState.ACTIVE,
        SessionState.ACTIVE,  # exactly the TTL after the last request: still alive
        SessionState.ACTIVE,
        SessionState.EXPIRED,  # another phone with the same session id
        SessionState.NEW,
    ]
    async with engine.begin() as conn:
        assert (
            await touch_ussd_session(conn, "s2", OTHER, T0 + timedelta(seconds=543), ttl)
            is SessionState.EXPIRED
        )
        assert (
            await touch_ussd_session(conn, "s2", OTHER, T0 + timedelta(seconds=544), ttl)
            is SessionState.EXPIRED
        )


async def test_purge_removes_only_stale_rows(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await count_command(conn, PHONE, T0, RateLimit())
        await first_today(conn, PHONE, "unregistered_sms", T0)
        await touch_ussd_session(conn, "old", PHONE, T0, timedelta(seconds=180))
        await count_command(conn, OTHER, T0 + timedelta(days=3), RateLimit())
        await first_today(conn, OTHER, "unregistered_sms", T0 + timedelta(days=3))
        await touch_ussd_session(conn, "new", OTHER, T0 + timedelta(days=3), timedelta(seconds=180))
    removed = await purge(engine, T0 + timedelta(days=3))
    assert removed == 3
    async with engine.connect() as conn:
        for table, column in (
            (inbound_rate_counters, inbound_rate_counters.c.phone_e164),
            (inbound_daily_marks, inbound_daily_marks.c.phone_e164),
            (ussd_sessions, ussd_sessions.c.phone_e164),
        ):
            assert (await conn.execute(select(column))).scalars().all() == [OTHER], table.name
