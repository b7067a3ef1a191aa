"""A report table as data: its name, Turkish title and headers, and rows; screens and exports read these.

Each row may carry ``link``: the filter values (query-string names) of the request list behind its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

ISTANBUL = ZoneInfo("Europe/Istanbul")


class ColKind(StrEnum):
    TEXT = "text"
    COUNT = "count"
    DAYS = "days"  # a duration held in seconds, shown in days
    PERCENT = "percent"  # 0..1
    DATE = "date"  # YYYY-MM-DD (an Istanbul calendar day), shown DD.MM.YYYY
    DATETIME = "datetime"  # an aware UTC datetime, shown DD.MM.YYYY HH:MM in Europe/Istanbul


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    kind: ColKind = ColKind.TEXT
    #: For a count: a drill-down flag added to the row's link (e.g. an age bucket).
    link_extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Row:
    values: dict[str, Any]
    link: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportTable:
    name: str
    title: str
    columns: tuple[Col, ...]
    rows: list[Row]
    note: str = ""

    @property
    def headers(self) -> list[str]:
        return [c.label for c in self.columns]


def days(seconds: float | None) -> str:
    """Seconds as Turkish days with one decimal: "3,5"."""
    if seconds is None:
        return ""
    return f"{seconds / 86400:.1f}".replace(".", ",")


def percent(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"%{ratio * 100:.1f}".replace(".", ",")


def tr_date(iso_day: str | None) -> str:
    if not iso_day:
        return ""
    year, month, day = str(iso_day)[:10].split("-")
    return f"{day}.{month}.{year}"


def cell_text(col: Col, value: Any) -> str:
    """How a value reads on screen and in CSV."""
    if value is None:
        return ""
    if col.kind is ColKind.DAYS:
        return days(float(value))
    if col.kind is ColKind.PERCENT:
        return percent(float(value))
    if col.kind is ColKind.DATE:
        return tr_date(str(value))
    if col.kind is ColKind.DATETIME and isinstance(value, datetime):
        return value.astimezone(ISTANBUL).strftime("%d.%m.%Y %H:%M")
    return str(value)
