"""CSV and XLSX writers for report tables and request lists, fed row by row so memory stays flat.

CSV: UTF-8 with a BOM and ``;`` between fields (what Excel in Turkish expects, as the decimal mark is a
comma); values read as on screen (DD.MM.YYYY dates in Europe/Istanbul, "3,5" days, "%50,0").
XLSX: openpyxl's write-only mode (rows go straight to a temporary file, never a whole sheet in memory);
numbers stay numbers, dates are real dates in Europe/Istanbul shown DD.MM.YYYY.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any, Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from workflow.reports.tables import ISTANBUL, Col, ColKind, cell_text

CSV_TYPE: Final = "text/csv; charset=utf-8"
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM: Final = "\ufeff"


def csv_chunk(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def csv_header(columns: tuple[Col, ...]) -> bytes:
    return BOM.encode("utf-8") + csv_chunk([[c.label for c in columns]])


def csv_rows(columns: tuple[Col, ...], rows: Iterable[dict[str, Any]]) -> bytes:
    return csv_chunk([cell_text(c, row.get(c.key)) for c in columns] for row in rows)


def _xlsx_value(col: Col, value: Any) -> Any:
    if value is None:
        return None
    if col.kind is ColKind.DAYS:
        return round(float(value) / 86400, 2)
    if col.kind is ColKind.PERCENT:
        return round(float(value), 4)
    if col.kind is ColKind.DATETIME and isinstance(value, datetime):
        return value.astimezone(ISTANBUL).replace(tzinfo=None)
    if col.kind is ColKind.DATE:
        return cell_text(col, value)
    return value


FORMATS: Final = {ColKind.DATETIME: "DD.MM.YYYY HH:MM", ColKind.PERCENT: "0.0%", ColKind.DAYS: "0.00"}


class XlsxWriter:
    """One sheet; ``add`` takes rows in batches; ``save`` writes the file (to a temporary file, then streamed)."""

    def __init__(self, title: str, columns: tuple[Col, ...]) -> None:
        self.columns = columns
        self.book = Workbook(write_only=True)
        self.sheet: WriteOnlyWorksheet = self.book.create_sheet(title=_sheet_title(title))
        self.sheet.append([c.label for c in columns])

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.sheet.append([self._cell(c, row.get(c.key)) for c in self.columns])

    def _cell(self, col: Col, value: Any) -> Any:
        fmt = FORMATS.get(col.kind)
        converted = _xlsx_value(col, value)
        if fmt is None or converted is None:
            return converted
        cell = WriteOnlyCell(self.sheet, value=converted)
        cell.number_format = fmt
        return cell

    def save(self, target: IO[bytes]) -> None:
        self.book.save(target)


def _sheet_title(title: str) -> str:
    """Excel refuses some characters and more than 31 of them in a sheet name."""
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title)
    return cleaned[:31] or "Rapor"


def file_chunks(handle: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    while chunk := handle.read(size):
        yield chunk
