"""Migration 0005 creates exactly the columns webui/tables.py queries against, on SQLite and PostgreSQL;
housekeeping deletes only what has outlived its use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Table, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from webui import tables
from webui.housekeeping import purge

WEB_TABLES = [
    tables.web_sessions,
    tables.captcha_challenges,
    tables.otp_challenges,
    tables.rate_limit_events,
    tables.attachments,
    tables.form_submissions,
]


@pytest.mark.parametrize("table", WEB_TABLES, ids=lambda t: t.name)
async def test_migration_matches_the_table_definitions(engine: AsyncEngine, table: Table) -> None:
    async with engine.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"]: col for col in inspect(c).get_columns(table.name)}
        )
        indexes = await conn.run_sync(lambda c: {ix["name"] for ix in inspect(c).get_indexes(table.name)})
    assert set(columns) == {c.name for c in table.columns}
    for column in table.columns:
        assert columns[column.name]["nullable"] == column.nullable or column.primary_key, column.name
    assert {ix.name for ix in table.indexes} <= indexes


async def test_housekeeping_removes_only_expired_rows(engine: AsyncEngine) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        for age in (timedelta(minutes=5), timedelta(hours=2)):
            await conn.execute(
                tables.captcha_challenges.insert().values(id=f"c{age.seconds}", created_at=now - age)
            )
            await conn.execute(tables.rate_limit_events.insert().values(bucket="otp:ip:x", at=now - age * 20))
    assert await purge(engine, now) == 2  # the 2-hour-old captcha and the 40-hour-old limit event
    async with engine.connect() as conn:
        left = [
            (await conn.execute(select(func.count()).select_from(t))).scalar_one()
            for t in (tables.captcha_challenges, tables.rate_limit_events)
        ]
    assert left == [1, 1]
