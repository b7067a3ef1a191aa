"""A small, strict RFC 2849 LDIF reader (content records only) for checking exports.

Strict: ``version: 1`` first; records separated by one empty line; every record starts with ``dn``;
continuation lines start with exactly one space; ``attr: value`` must be a SAFE-STRING (so a Turkish letter
written unencoded is an error); ``attr:: value`` must be valid base64 of UTF-8; no line longer than 76.
"""

from __future__ import annotations

import base64
import binascii
import re

ATTR = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)(::?) ?(.*)$")
MAX_LINE = 76


class LdifError(ValueError):
    pass


def _unfold(text: str) -> list[str]:
    if not text.endswith("\n"):
        raise LdifError("file does not end with a newline")
    lines: list[str] = []
    for number, raw in enumerate(text[:-1].split("\n"), 1):
        if "\r" in raw:
            raise LdifError(f"line {number}: carriage return")
        if len(raw) > MAX_LINE:
            raise LdifError(f"line {number}: longer than {MAX_LINE} characters")
        if raw.startswith(" "):
            if not lines or not lines[-1]:
                raise LdifError(f"line {number}: continuation without a line to continue")
            lines[-1] += raw[1:]
        elif not raw.startswith("#"):
            lines.append(raw)
    return lines


def _value(number: int, kind: str, raw: str) -> str:
    if kind == "::":
        try:
            return base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise LdifError(f"record line {number}: bad base64 value ({exc})") from None
    if raw and (raw[0] in ":< " or any(ord(c) > 127 or c == "\0" for c in raw)):
        raise LdifError(f"record line {number}: value is not a SAFE-STRING and must be base64")
    return raw


def parse_ldif(text: str) -> list[dict[str, list[str]]]:
    lines = _unfold(text)
    if not lines or lines[0] != "version: 1":
        raise LdifError("first line must be 'version: 1'")
    records: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] | None = None
    previous_blank = False
    for number, line in enumerate(lines[1:], 2):
        if not line:
            if previous_blank:
                raise LdifError(f"record line {number}: two empty lines")
            previous_blank, current = True, None
            continue
        if not previous_blank and current is None:
            raise LdifError(f"record line {number}: record not preceded by an empty line")
        previous_blank = False
        match = ATTR.match(line)
        if match is None:
            raise LdifError(f"record line {number}: not 'attribute: value'")
        name, kind, raw = match.groups()
        value = _value(number, kind, raw)
        if current is None:
            if name != "dn":
                raise LdifError(f"record line {number}: record does not start with dn")
            current = {}
            records.append(current)
        elif name == "dn":
            raise LdifError(f"record line {number}: second dn in one record")
        current.setdefault(name, []).append(value)
    return records
