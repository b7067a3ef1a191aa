"""The demo world of `make run`: seeded once through the service layer, idempotent."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters import orm
from workflow.entrypoints.demo_seed import DEMO_MUHTARS, DEMO_USERS, seed
from workflow.settings import load_settings


async def test_seed_once_then_nothing(sqlite_engine: AsyncEngine, tmp_path: Path) -> None:
    settings = load_settings(env={}, var_dir=tmp_path)
    assert await seed(settings, sqlite_engine) is True
    assert await seed(settings, sqlite_engine) is False
    async with sqlite_engine.connect() as conn:
        states = sorted((await conn.execute(select(orm.requests.c.state))).scalars())
        routed_to = set(
            (
                await conn.execute(
                    select(orm.units.c.name).join(
                        orm.assignments, orm.assignments.c.unit_id == orm.units.c.id
                    )
                )
            ).scalars()
        )
        users = (await conn.execute(select(func.count()).select_from(orm.staff_users))).scalar_one()
        emails = (await conn.execute(select(orm.muhtars.c.email))).scalars().all()
    assert states == ["bekleyen", "bekleyen", "yonlendirilen"]
    assert routed_to == {"Ankara Valiliği", "Çankaya Belediyesi"}
    assert users == len(DEMO_USERS)
    assert len(emails) == len(DEMO_MUHTARS) and all(e and e.endswith("@muhtar.gov.tr") for e in emails)
