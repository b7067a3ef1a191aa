"""Test data several suites share: one mahalle (Kızılay, Çankaya, Ankara) and its muhtars."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import uuid4

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters import orm


async def add_kizilay_muhtars(
    conn: AsyncConnection, people: Iterable[tuple[str, str, str]], now: datetime
) -> list[str]:
    """Insert the muhtarlık M-1 Kızılay and one active muhtar per (full name, TCKN, E.164 phone); their ids."""
    muhtarlik = await conn.execute(
        insert(orm.muhtarliks).values(
            code="M-1",
            kind="mahalle",
            name="Kızılay",
            province_id=6,
            district_id=1231,
            province_name="Ankara",
            district_name="Çankaya",
        )
    )
    ids = []
    for full_name, tckn, phone in people:
        ids.append(uuid4().hex)
        await conn.execute(
            insert(orm.muhtars).values(
                id=ids[-1],
                tckn=tckn,
                full_name=full_name,
                phone_e164=phone,
                muhtarlik_id=muhtarlik.inserted_primary_key[0],
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
    return ids
