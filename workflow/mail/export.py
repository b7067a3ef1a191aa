"""CSV and LDIF (RFC 2849) renderings of the directory entries, for the mail server's provisioning.

LDIF entries are ``inetOrgPerson`` under ``ou=muhtarlar`` and the domain's ``dc=`` components
(``uid=ayse.yilmaz,ou=muhtarlar,dc=muhtar,dc=gov,dc=tr``). A value that is not an RFC 2849 SAFE-STRING —
every value with a Turkish letter — is written base64-encoded (``attr:: …``); lines are folded at 76
characters with a leading space on each continuation line.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC

from workflow.mail.provisioning import DirectoryEntry

CSV_COLUMNS = (
    "address",
    "display_name",
    "given_name",
    "surname",
    "title",
    "district",
    "province",
    "issued_at",
)
OBJECT_CLASSES = ("top", "person", "organizationalPerson", "inetOrgPerson")
LINE_WIDTH = 76
_SAFE_INIT_EXCLUDED = frozenset("\0\n\r :<")
_SAFE_EXCLUDED = frozenset("\0\n\r")


def to_csv(entries: Iterable[DirectoryEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        issued = e.issued_at.astimezone(UTC).isoformat(timespec="seconds")
        writer.writerow(
            (e.address, e.display_name, e.given_name, e.surname, e.title, e.district, e.province, issued)
        )
    return out.getvalue()


def base_dn(domain: str) -> str:
    return ",".join(["ou=muhtarlar", *(f"dc={part}" for part in domain.lower().split(".") if part)])


def is_safe_string(value: str) -> bool:
    """RFC 2849 SAFE-STRING (and no trailing space, which readers may strip)."""
    if not value:
        return True
    if value[0] in _SAFE_INIT_EXCLUDED or value.endswith(" "):
        return False
    return all(ord(c) < 128 and c not in _SAFE_EXCLUDED for c in value)


def attribute_line(name: str, value: str) -> str:
    if is_safe_string(value):
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def fold(line: str) -> Iterator[str]:
    yield line[:LINE_WIDTH]
    rest = line[LINE_WIDTH:]
    while rest:
        yield " " + rest[: LINE_WIDTH - 1]
        rest = rest[LINE_WIDTH - 1 :]


def _entry_attributes(e: DirectoryEntry, dn: str) -> Iterator[tuple[str, str]]:
    yield "dn", dn
    for object_class in OBJECT_CLASSES:
        yield "objectClass", object_class
    yield "uid", e.local_part
    yield "mail", e.address
    yield "cn", e.display_name
    yield "displayName", e.display_name
    if e.given_name:
        yield "givenName", e.given_name
    yield "sn", e.surname
    yield "title", e.title
    yield "l", e.district
    yield "st", e.province


def to_ldif(entries: Iterable[DirectoryEntry], domain: str) -> str:
    base = base_dn(domain)
    lines = ["version: 1"]
    for e in entries:
        lines.append("")
        for name, value in _entry_attributes(e, f"uid={e.local_part},{base}"):
            lines.extend(fold(attribute_line(name, value)))
    return "\n".join(lines) + "\n"
