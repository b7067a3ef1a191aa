from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.orm import metadata


async def test_migrations_create_every_table_the_code_knows(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert set(metadata.tables) <= tables


async def test_request_numbers_start_at_1000(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        value = (await conn.execute(text("SELECT value FROM counters WHERE name='request_number'"))).scalar()
    assert value == 999
