"""Searching the staff lists: by request number, description, muhtar name, muhtarlık, ilçe or il.

Case-insensitive "contains" matching: ILIKE on PostgreSQL (its UTF-8 locale folds Turkish letters); on
SQLite, whose lower() folds ASCII only, a Turkish-aware fold function registered on the connection.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import ColumnElement, false, func, or_, true
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters import orm
from workflow.identity import turkish_fold

SEARCH_MAX: Final = 100
SQLITE_FOLD: Final = "mbs_tr_fold"
r, m, k = orm.requests, orm.muhtars, orm.muhtarliks


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def with_turkish_fold(conn: AsyncConnection) -> None:
    """SQLite's lower() folds ASCII only; give it Turkish-aware folding for searches ("ÖZTÜRK" ~ "Öztürk")."""
    if conn.dialect.name != "sqlite":
        return
    raw = await conn.get_raw_connection()
    await raw.driver_connection.create_function(  # type: ignore[union-attr]
        SQLITE_FOLD, 1, lambda v: turkish_fold(v) if isinstance(v, str) else v, deterministic=True
    )


def _contains(col: Any, needle: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":
        folded: ColumnElement[bool] = getattr(func, SQLITE_FOLD)(col).like(
            _like(turkish_fold(needle)), escape="\\"
        )
        return folded
    matched: ColumnElement[bool] = col.ilike(_like(needle), escape="\\")
    return matched


def search_filter(text: str, dialect: str = "postgresql") -> ColumnElement[bool]:
    """Number (exact), description, muhtar name, muhtarlık, ilçe or il (case-insensitive, contains)."""
    needle = " ".join(text.split())[:SEARCH_MAX]
    if not needle:
        return true()
    matches: list[ColumnElement[bool]] = [
        _contains(col, needle, dialect)
        for col in (r.c.description, m.c.full_name, k.c.name, k.c.district_name, k.c.province_name)
    ]
    digits = needle.lstrip("#")
    if digits.isdigit() and len(digits) <= 12:
        matches.append(r.c.number == int(digits))
    return or_(*matches) if matches else false()
