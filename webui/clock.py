"""Time helpers: UTC inside, and SQLite's naive datetimes read back as the UTC they were written as."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
