"""Where autovacuum is off, the hourly chores analyse the tables that grew since their last ANALYZE."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.table_stats import analyze_stale_tables


async def _flush_stats(engine: AsyncEngine) -> None:
    # PostgreSQL 15 publishes a backend's table counters at the end of its transaction only now and then.
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_stat_force_next_flush()"))


async def _analysed(engine: AsyncEngine, table: str, what: str = "analyze") -> bool:
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            f"SELECT last_{what} IS NOT NULL FROM pg_stat_user_tables WHERE relname = :t"), {"t": table})).one()
    return bool(row[0])


async def test_a_grown_table_is_analysed_when_autovacuum_is_off(pg_engine: AsyncEngine) -> None:
    async with pg_engine.begin() as conn:
        await conn.execute(text("CREATE TABLE grown (n integer)"))
        await conn.execute(text("CREATE TABLE small (n integer)"))
        await conn.execute(text("INSERT INTO grown SELECT generate_series(1, 500)"))
        await conn.execute(text("SELECT pg_stat_force_next_flush()"))
    await _flush_stats(pg_engine)

    assert await analyze_stale_tables(pg_engine, autovacuum=True) == []
    assert not await _analysed(pg_engine, "grown")

    analysed = await analyze_stale_tables(pg_engine, autovacuum=False)
    assert "grown" in analysed
    assert "small" not in analysed
    assert await _analysed(pg_engine, "grown")
    assert not await _analysed(pg_engine, "grown", "vacuum")  # 500 rows inserted: not yet worth a VACUUM
    assert not await _analysed(pg_engine, "small")

    await _flush_stats(pg_engine)
    assert "grown" not in await analyze_stale_tables(pg_engine, autovacuum=False)

    async with pg_engine.begin() as conn:
        await conn.execute(text("DELETE FROM grown"))
    await _flush_stats(pg_engine)
    assert "grown" in await analyze_stale_tables(pg_engine, autovacuum=False)
    assert await _analysed(pg_engine, "grown", "vacuum")  # 500 dead rows


async def test_nothing_to_do_on_sqlite(sqlite_engine: AsyncEngine) -> None:
    assert await analyze_stale_tables(sqlite_engine, autovacuum=False) == []
