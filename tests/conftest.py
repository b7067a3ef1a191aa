"""Shared fixtures: fresh, migrated databases on SQLite and on the machine's real PostgreSQL.

PostgreSQL is required (127.0.0.1:5432, trust auth). When it cannot be reached the tests that need it
fail with a clear message — they never skip.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate

PG_HOST = os.environ.get("MUHTAR_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MUHTAR_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("MUHTAR_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("MUHTAR_TEST_PG_DB", "test")


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _pg_admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is required and cannot be reached: {exc}")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_pg_database(template: str | None = None) -> str:
    name = f"muhtar_t_{uuid.uuid4().hex[:12]}"
    suffix = f" TEMPLATE {template}" if template else ""
    await _pg_admin(f"CREATE DATABASE {name}{suffix}")
    return name


async def drop_pg_database(name: str) -> None:
    await _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _migrate_url(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database that each test's database is copied from (fast)."""
    name = asyncio.run(create_pg_database())
    try:
        asyncio.run(_migrate_url(pg_url(name)))
        yield name
    finally:
        asyncio.run(drop_pg_database(name))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(_migrate_url(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
async def pg_database_url(pg_template: str) -> AsyncIterator[str]:
    name = await create_pg_database(template=pg_template)
    try:
        yield pg_url(name)
    finally:
        await drop_pg_database(name)


@pytest.fixture
def sqlite_database_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "muhtar.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database, once on SQLite and once on PostgreSQL."""
    name = "sqlite_database_url" if request.param == "sqlite" else "pg_database_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def pg_engine(pg_database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(pg_database_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def sqlite_engine(sqlite_database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(sqlite_database_url)
    try:
        yield eng
    finally:
        await eng.dispose()
