"""SMS commands: what a muhtar's message asks for, read from a keyword table.

``parse(text)`` never raises and never looks anything up: it returns one of the small command
dataclasses below, and the service (``inbound/service.py``) decides what to answer and to whom.

Keywords are data (:data:`KEYWORDS`): a phrase of one to three folded words (see
``inbound.normalize.fold``) mapped to an intent. Adding a synonym is one line there and one line in the
parser tests. What people type is accepted loosely: any case, Turkish letters or their ASCII forms,
punctuation between keyword and number ("TALEP#1234", "talep no: 1234", "T1234"), a number alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from inbound.normalize import Word, clean, symbols_only, words
from workflow.domain.model import DESCRIPTION_MIN, RequestKind

#: Minimum description length for filing by SMS/USSD: the same constant the domain and the web form use.
FILING_MIN_CHARS: Final = DESCRIPTION_MIN
#: Request numbers are at most this many digits; a longer number cannot exist and is answered as one
#: that does not (and never reaches the database, whose integers it could overflow).
MAX_NUMBER_DIGITS: Final = 15
#: The longest keyword phrase, in words.
_MAX_PHRASE: Final = 3


class Intent(Enum):
    QUERY = "query"
    LIST = "list"
    HELP = "help"
    FILE = "file"


@dataclass(frozen=True)
class Rule:
    intent: Intent
    kind: RequestKind | None = None


_QUERY = Rule(Intent.QUERY)
_LIST = Rule(Intent.LIST)
_HELP = Rule(Intent.HELP)

#: Folded keyword phrase -> what it asks for. Longer phrases win over their prefixes.
KEYWORDS: Final[dict[tuple[str, ...], Rule]] = {
    ("TALEP",): _QUERY,
    ("TALEP", "NO"): _QUERY,
    ("TALEP", "NUMARASI"): _QUERY,
    ("TALEP", "NUMARA"): _QUERY,
    ("TALEP", "SORGU"): _QUERY,
    ("T",): _QUERY,
    ("SORGU",): _QUERY,
    ("SORGULA",): _QUERY,
    ("TALEPLER",): _LIST,
    ("TALEPLERIM",): _LIST,
    ("ACIK", "TALEPLER"): _LIST,
    ("ACIK", "TALEPLERIM"): _LIST,
    ("DURUM",): _LIST,
    ("YARDIM",): _HELP,
    ("HELP",): _HELP,
    ("KOMUTLAR",): _HELP,
    ("SIKAYET",): Rule(Intent.FILE, RequestKind.SIKAYET),
    ("ISTEK",): Rule(Intent.FILE, RequestKind.ISTEK),
    ("IHBAR",): Rule(Intent.FILE, RequestKind.IHBAR),
    ("ONERI",): Rule(Intent.FILE, RequestKind.GORUS_ONERI),
    ("GORUS",): Rule(Intent.FILE, RequestKind.GORUS_ONERI),
    ("GORUS", "ONERI"): Rule(Intent.FILE, RequestKind.GORUS_ONERI),
    ("GORUS", "VE", "ONERI"): Rule(Intent.FILE, RequestKind.GORUS_ONERI),
}

#: Messages made only of symbols (spaces ignored) -> what they ask for.
SYMBOLS: Final[dict[str, Rule]] = {"?": _HELP, "??": _HELP, "???": _HELP}

# Separators people put between a filing keyword and its text ("ŞİKAYET: ...", "ISTEK - ...").
_LEADING_SEPARATORS: Final = re.compile(r"^[\s:#\-.,;=*/>|_]+")


# --- the commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    pass


@dataclass(frozen=True)
class QueryRequest(Command):
    """TALEP n. ``number`` is None when the digits cannot be a request number (answered as not found)."""

    number: int | None
    typed: str


@dataclass(frozen=True)
class ListOpen(Command):
    """TALEPLER / DURUM: the sender's open requests."""


@dataclass(frozen=True)
class Help(Command):
    """YARDIM, or anything not understood. ``reason`` is for logs and statistics only."""

    reason: str


@dataclass(frozen=True)
class Filing(Command):
    """ŞİKAYET/İSTEK/İHBAR/ÖNERİ <text>: a new request of ``kind`` with the person's own words."""

    kind: RequestKind
    text: str


@dataclass(frozen=True)
class FilingTooShort(Command):
    """A filing keyword with too little text: the reply says the minimum."""

    kind: RequestKind
    minimum: int
    length: int


# --- parsing --------------------------------------------------------------------------------------


def parse(text: str, *, min_chars: int = FILING_MIN_CHARS) -> Command:
    """What the message asks for. Never raises; anything not understood is ``Help``."""
    cleaned = clean(text)
    if not cleaned:
        return Help("empty")
    head = words(cleaned, limit=_MAX_PHRASE + 1)
    if not head:
        rule = SYMBOLS.get(symbols_only(cleaned))
        return Help("asked" if rule is not None else "no_words")
    if head[0].is_number:
        return _query(head[0])
    matched = _match_keyword(head)
    if matched is None:
        return Help("unknown")
    rule, used = matched
    return _apply(rule, cleaned, head, used, min_chars)


def _match_keyword(head: list[Word]) -> tuple[Rule, int] | None:
    """The longest keyword phrase the message starts with, and how many words it takes."""
    for size in range(min(_MAX_PHRASE, len(head)), 0, -1):
        rule = KEYWORDS.get(tuple(w.key for w in head[:size]))
        if rule is not None:
            return rule, size
    return None


def _apply(rule: Rule, cleaned: str, head: list[Word], used: int, min_chars: int) -> Command:
    after = head[used] if len(head) > used else None
    if rule.intent is Intent.FILE:
        assert rule.kind is not None
        return _filing(rule.kind, cleaned[head[used - 1].end :], min_chars)
    if rule.intent is Intent.HELP:
        return Help("asked")
    if after is not None and after.is_number:
        # "TALEP 1234", and also "DURUM 1234": a number after a list keyword asks about that request.
        return _query(after)
    if rule.intent is Intent.LIST:
        return ListOpen()
    return Help("missing_number")


def _query(word: Word) -> QueryRequest:
    digits = word.key.lstrip("0")
    if not digits or len(digits) > MAX_NUMBER_DIGITS:
        return QueryRequest(None, word.key[: MAX_NUMBER_DIGITS + 1])
    return QueryRequest(int(digits), digits)


def _filing(kind: RequestKind, rest: str, min_chars: int) -> Command:
    body = _LEADING_SEPARATORS.sub("", rest).strip()
    if len(body) < min_chars:
        return FilingTooShort(kind, min_chars, len(body))
    return Filing(kind, body)
