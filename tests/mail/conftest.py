"""Helpers for the mail tests: muhtarlıks in several provinces and muhtars with given names."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters import orm

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
_tckn = itertools.count(10_000_000_000)

# code, kind, name, province id, district id, province, district
MUHTARLIKS = (
    ("M-1", "mahalle", "Kızılay", 6, 1231, "Ankara", "Çankaya"),
    ("M-2", "mahalle", "Alsancak", 35, 1203, "İzmir", "Konak"),
    ("K-3", "koy", "İğdecik", 48, 1197, "Muğla", "Milas"),
    ("M-4", "mahalle", "Işıklar", 65, 1567, "Van", "İpekyolu"),
    ("M-5", "mahalle", "100.Yıl", 6, 1231, "Ankara", "Çankaya"),
)


async def add_muhtarliks(engine: AsyncEngine) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with engine.begin() as conn:
        for code, kind, name, province_id, district_id, province, district in MUHTARLIKS:
            result = await conn.execute(
                insert(orm.muhtarliks).values(
                    code=code,
                    kind=kind,
                    name=name,
                    province_id=province_id,
                    district_id=district_id,
                    province_name=province,
                    district_name=district,
                )
            )
            ids[code] = result.inserted_primary_key[0]
    return ids


async def add_muhtar(
    engine: AsyncEngine,
    full_name: str,
    muhtarlik_id: int,
    *,
    order: int = 0,
    email: str | None = None,
    active: bool = True,
) -> str:
    """Insert a muhtar; ``order`` sets created_at (T0 + order minutes), which decides collisions."""
    muhtar_id = uuid4().hex
    at = T0 + timedelta(minutes=order)
    async with engine.begin() as conn:
        await conn.execute(
            insert(orm.muhtars).values(
                id=muhtar_id,
                tckn=str(next(_tckn)),
                full_name=full_name,
                phone_e164=f"+90532{next(_tckn) % 10_000_000:07d}",
                muhtarlik_id=muhtarlik_id,
                email=email,
                active=active,
                created_at=at,
                updated_at=at,
            )
        )
    return muhtar_id


# RabbitMQ: a private vhost per test (shared with the messaging tests; fails under CI=true if unreachable).
from tests.messaging.conftest import rabbit_url, rabbit_vhost  # noqa: E402, F401
