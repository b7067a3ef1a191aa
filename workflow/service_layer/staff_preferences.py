"""Per-user inbox and view settings (visible columns, default sort, page size), saved in staff_preferences."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.service_layer.inbox import Db, Sort, connection
from workflow.service_layer.staff_tables import staff_preferences

PAGE_SIZES: Final = (10, 20, 50, 100)

# Columns a user may show or hide; number is always shown (it is the link).
COLUMNS: Final[dict[str, str]] = {
    "date": "Tarih",
    "kind": "Tür",
    "priority": "Öncelik",
    "state": "Durum",
    "muhtar": "Muhtar",
    "muhtarlik": "Muhtarlık",
    "place": "İlçe / İl",
    "due": "Son Gün",
    "excerpt": "Açıklama",
}


@dataclass(frozen=True)
class Preferences:
    columns: tuple[str, ...] = ("date", "kind", "priority", "state", "muhtarlik", "place", "due", "excerpt")
    sort: Sort = Sort.NEWEST
    page_size: int = 20


DEFAULT_PREFERENCES: Final = Preferences()


_READ: Final = select(staff_preferences).where(staff_preferences.c.user_id == bindparam("user_id"))


async def preferences(db: Db, user_id: str) -> Preferences:
    async with connection(db) as conn:
        row = (await conn.execute(_READ, {"user_id": user_id})).first()
    if row is None:
        return DEFAULT_PREFERENCES
    return clean_preferences(json.loads(row.columns), row.sort, row.page_size)


def clean_preferences(columns: list[str] | tuple[str, ...], sort: str, page_size: int) -> Preferences:
    """Unknown values fall back to the defaults (a setting saved by an older version stays usable)."""
    kept = tuple(dict.fromkeys(c for c in columns if c in COLUMNS))
    return Preferences(
        columns=kept,
        sort=Sort(sort) if sort in Sort._value2member_map_ else DEFAULT_PREFERENCES.sort,
        page_size=page_size if page_size in PAGE_SIZES else DEFAULT_PREFERENCES.page_size,
    )


async def save_preferences(engine: AsyncEngine, user_id: str, prefs: Preferences, now: datetime) -> None:
    values = {
        "columns": json.dumps(list(prefs.columns)),
        "sort": prefs.sort.value,
        "page_size": prefs.page_size,
        "updated_at": now,
    }
    async with engine.begin() as conn:
        updated = await conn.execute(
            staff_preferences.update().where(staff_preferences.c.user_id == user_id).values(**values)
        )
        if not updated.rowcount:
            await conn.execute(staff_preferences.insert().values(user_id=user_id, **values))
