"""Deletes rows that only mattered for a while: spent captchas, old OTP challenges and limit events,
sessions that ended long ago. Runs inside every web process; the deletes are idempotent, so several
processes doing it at once is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from webui.tables import captcha_challenges, form_submissions, otp_challenges, rate_limit_events, web_sessions

logger = logging.getLogger(__name__)

EVERY_S: Final = 600.0
# (table, time column, kept for): limits look back one hour, so a day is plenty; ended sessions are kept
# 90 days as a record of who was signed in when.
RETENTION: Final = (
    (captcha_challenges, captcha_challenges.c.created_at, timedelta(hours=1)),
    (otp_challenges, otp_challenges.c.created_at, timedelta(days=1)),
    (rate_limit_events, rate_limit_events.c.at, timedelta(days=1)),
    (form_submissions, form_submissions.c.created_at, timedelta(days=7)),
    (web_sessions, web_sessions.c.ended_at, timedelta(days=90)),
    (web_sessions, web_sessions.c.last_seen_at, timedelta(days=90)),  # abandoned, never logged out
)


async def purge(engine: AsyncEngine, now: datetime) -> int:
    removed = 0
    async with engine.begin() as conn:
        for table, column, keep in RETENTION:
            result = await conn.execute(delete(table).where(column < now - keep))
            removed += int(result.rowcount or 0)
    return removed


async def run_forever(engine: AsyncEngine, clock: Callable[[], datetime]) -> None:
    while True:
        await asyncio.sleep(EVERY_S)
        try:
            removed = await purge(engine, clock())
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("housekeeping failed (%s); will retry", exc.__class__.__name__)
            continue
        if removed:
            logger.info("housekeeping removed %d expired rows", removed)
