"""The engine factory's SQLite transaction modes: writers take the write lock up front (BEGIN IMMEDIATE),
``read_only`` transactions do not, so a long read never blocks a writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.db import create_engine, read_only


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'modes.sqlite'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    await engine.dispose()


async def test_a_read_only_transaction_lets_a_writer_commit_meanwhile(engine: AsyncEngine) -> None:
    async with read_only(engine).connect() as reader:
        assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        writer = create_engine(str(engine.url))
        try:
            async with writer.connect() as conn:
                # Would wait for the reader's lock if the reader had begun IMMEDIATE; with no busy timeout
                # it fails at once instead.
                raw = await conn.get_raw_connection()
                await raw.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                await conn.commit()
        finally:
            await writer.dispose()
        # The reader's snapshot predates the insert.
        assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_a_writing_transaction_holds_the_write_lock_from_its_start(engine: AsyncEngine) -> None:
    async with engine.connect() as holder:
        await holder.execute(text("SELECT 1"))  # BEGIN IMMEDIATE ran: the write lock is held
        other = create_engine(str(engine.url))
        try:
            with pytest.raises(Exception, match="locked"):
                async with other.connect() as conn:
                    raw = await conn.get_raw_connection()
                    await raw.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
                    await conn.execute(text("INSERT INTO t VALUES (2)"))
        finally:
            await other.dispose()
