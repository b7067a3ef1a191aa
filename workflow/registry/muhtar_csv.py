"""Read and check a muhtar list (CSV) before anything touches the database. Pure: no I/O beyond the text.

The file has a header row naming the columns (TCKN, name, phone, muhtarlık code, in any order, English or
Turkish titles) and uses ``,``, ``;`` or a tab as delimiter. Each bad row becomes a ``RowError`` with its
line number and an English reason that never contains the TCKN or the phone number.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from workflow.identity import InvalidPhone, InvalidTCKN, normalize_tr_mobile, turkish_fold, validate_tckn

COLUMNS = ("tckn", "name", "phone", "muhtarlik")
# Header titles accepted for each column, compared after folding to ASCII letters and digits only.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "tckn": ("tckn", "tc", "tcno", "tckimlik", "tckimlikno", "kimlikno", "tcknno"),
    "name": ("name", "fullname", "adsoyad", "adisoyadi", "adsoyadi", "isim", "muhtar", "muhtaradisoyadi"),
    "phone": ("phone", "mobile", "phonee164", "telefon", "telefonno", "cep", "ceptelefonu", "cepno", "gsm"),
    "muhtarlik": ("muhtarlik", "muhtarlikcode", "muhtarlikkodu", "muhtarlikkod", "code", "kod"),
}
_ASCII = str.maketrans("çğıöşü", "cgiosu")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_SPACES = re.compile(r"\s+")
_CODE = re.compile(r"^[MK]-[0-9]{1,7}$")
NAME_MAX = 200


class UnreadableFile(Exception):
    """The file as a whole cannot be used (not UTF-8, empty, header without the needed columns)."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str  # English, for operators; never the TCKN or phone itself

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class MuhtarRow:
    line: int
    tckn: str
    full_name: str
    phone_e164: str
    muhtarlik_code: str


@dataclass(frozen=True, slots=True)
class ParsedFile:
    rows: list[MuhtarRow]
    errors: list[RowError]
    total: int  # data rows seen (blank lines not counted)


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"the file is not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8'") from None


def _header_key(title: str) -> str:
    return _NOT_ALNUM.sub("", turkish_fold(title).translate(_ASCII))


def _column_positions(header: list[str]) -> dict[str, int]:
    lookup = {alias: col for col, aliases in HEADER_ALIASES.items() for alias in aliases}
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        col = lookup.get(_header_key(title))
        if col is None:
            continue
        if col in positions:
            raise UnreadableFile(f"the header names the {col} column twice")
        positions[col] = index
    missing = [c for c in COLUMNS if c not in positions]
    if missing:
        raise UnreadableFile(
            f"the header row must name the columns {', '.join(COLUMNS)} (missing: {', '.join(missing)})")
    return positions


def _delimiter(first_line: str) -> str:
    return max((";", ",", "\t"), key=first_line.count)


def _check_name(raw: str) -> str:
    name = _SPACES.sub(" ", raw).strip()
    if not name:
        raise ValueError("name is empty")
    if len(name) > NAME_MAX:
        raise ValueError(f"name is longer than {NAME_MAX} characters")
    if not all(c.isalpha() or c in " '’-." for c in name):
        raise ValueError("name contains characters other than letters, spaces, apostrophes, hyphens, dots")
    return name


def _check_row(line: int, fields: list[str], pos: dict[str, int]) -> MuhtarRow:
    try:
        tckn = validate_tckn(fields[pos["tckn"]])
    except InvalidTCKN as exc:
        raise ValueError(f"invalid TC Kimlik No ({exc.reason})") from None
    name = _check_name(fields[pos["name"]])
    try:
        phone = normalize_tr_mobile(fields[pos["phone"]])
    except InvalidPhone as exc:
        raise ValueError(f"invalid mobile phone ({exc.reason})") from None
    code = fields[pos["muhtarlik"]].strip().upper()
    if not code:
        raise ValueError("muhtarlık code is empty")
    if not _CODE.match(code):
        raise ValueError("muhtarlık code is not of the form M-<number> or K-<number>")
    return MuhtarRow(line, tckn, name, phone, code)


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of each non-blank record; quoted fields may span lines."""
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first_line))
    end = 0
    try:
        for fields in reader:
            start, end = end + 1, reader.line_num
            if any(f.strip() for f in fields):
                yield start, fields
    except csv.Error as exc:
        raise UnreadableFile(f"line {end + 1}: the CSV cannot be read ({exc})") from None


def _reject_duplicates(rows: list[MuhtarRow], errors: list[RowError]) -> list[MuhtarRow]:
    """Rows sharing a TCKN, a phone or a muhtarlık are all rejected: the file is ambiguous about them."""
    bad: dict[int, str] = {}
    for label, field in (("TC Kimlik No", "tckn"), ("mobile phone", "phone_e164"),
                         ("muhtarlık", "muhtarlik_code")):
        lines: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            lines[getattr(row, field)].append(row.line)
        for same in lines.values():
            for line in same if len(same) > 1 else ():
                others = ", ".join(str(x) for x in same if x != line)
                bad.setdefault(line, f"duplicate {label} (also on line {others})")
    errors.extend(RowError(line, reason) for line, reason in bad.items())
    return [r for r in rows if r.line not in bad]


def parse_muhtar_csv(text: str) -> ParsedFile:
    """Check every row; raises UnreadableFile if the file as a whole is unusable."""
    records = _records(text)
    first = next(records, None)
    if first is None:
        raise UnreadableFile("the file is empty")
    header = first[1]
    pos = _column_positions(header)
    rows: list[MuhtarRow] = []
    errors: list[RowError] = []
    total = 0
    for line, fields in records:
        total += 1
        try:
            rows.append(_check_row(line, _fit(fields, len(header)), pos))
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
    rows = _reject_duplicates(rows, errors)
    errors.sort(key=lambda e: e.line)
    return ParsedFile(rows, errors, total)


def _fit(fields: list[str], width: int) -> list[str]:
    """Rows must have the header's columns; empty trailing cells (spreadsheet exports) are dropped."""
    while len(fields) > width and not fields[-1].strip():
        fields = fields[:-1]
    if len(fields) != width:
        raise ValueError(f"expected {width} columns, found {len(fields)}")
    return fields
