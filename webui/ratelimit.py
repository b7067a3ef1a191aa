"""Sliding-window limits counted in the database, so every web process sees the same counts.

A bucket is a name ("otp:ip:203.0.113.7", "otp:tckn:<hmac>"); ``hit`` records one event and
``count`` tells how many fell in the window. Two processes racing on the last free slot may both get it:
the limit can be exceeded by the number of concurrent requests, never more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from webui.tables import rate_limit_events


async def count(conn: AsyncConnection, bucket: str, now: datetime, window: timedelta) -> int:
    query = select(func.count()).where(
        rate_limit_events.c.bucket == bucket, rate_limit_events.c.at > now - window
    )
    return int((await conn.execute(query)).scalar_one())


async def oldest(conn: AsyncConnection, bucket: str, now: datetime, window: timedelta) -> datetime | None:
    """When the oldest event still in the window happened (the window frees a slot when it leaves)."""
    query = select(func.min(rate_limit_events.c.at)).where(
        rate_limit_events.c.bucket == bucket, rate_limit_events.c.at > now - window
    )
    value: datetime | None = (await conn.execute(query)).scalar_one()
    return value


async def hit(conn: AsyncConnection, bucket: str, now: datetime) -> None:
    await conn.execute(rate_limit_events.insert().values(bucket=bucket, at=now))
