"""Normalising what people type into an SMS or a USSD screen.

Two views of the same message:

* :func:`clean` keeps the person's words (Turkish letters, case) but removes what must never reach the
  database or a reply: control and format characters (including right-to-left marks and zero-width
  characters), unpaired surrogates, runs of whitespace. The result is what a filed request's description
  is made of.
* :func:`fold` turns a word into the ASCII upper-case key that keywords are matched against, with Turkish
  case rules ("İstek", "istek", "ISTEK", "ıstek" and "İSTEK" all give "ISTEK"; "şikâyet" gives "SIKAYET")
  and any Unicode decimal digit ("１２３", "١٢٣") as an ASCII digit.

:func:`words` splits a cleaned message into letter runs and digit runs with their positions, so that
"TALEP#1234", "talep:1234" and "T1234" all read as a keyword followed by a number, and a command's free
text can be cut from the original at the right place.

Nothing here raises on any ``str``: hostile input (megabytes, emoji, control characters, SQL or HTML
fragments, mixed scripts) comes out as harmless text, possibly empty.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from workflow.identity import turkish_lower

#: Longest input looked at, in characters. A concatenated SMS is at most 255 parts (~39,000 characters);
#: anything this long is already far beyond what a request description may hold, and the cap keeps the
#: work per message bounded whatever arrives.
MAX_INPUT: Final = 10_000

# Unicode categories removed by clean(): controls, format characters (RLM/LRM, RLO, ZWJ, BOM…),
# surrogates, private use and unassigned code points.
_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# Line and paragraph separators and tabs become spaces rather than vanishing, so words stay apart.
_SPACE_LIKE: Final = frozenset({"\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85"})
_SPACES: Final = re.compile(r"\s+")

# Turkish letters and circumflexes to the ASCII letters people type on phones without them.
# Applied after Turkish lower-casing, so only lower-case forms are needed.
_ASCII_FORMS: Final = str.maketrans(
    {"ç": "c", "ğ": "g", "ı": "i", "ö": "o", "ş": "s", "ü": "u", "â": "a", "î": "i", "û": "u"}
)

# A word is a run of letters (with any combining marks on them) or a run of decimal digits (any script);
# everything else separates.
_MARKS: Final = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORD: Final = re.compile(rf"(?:[^\W\d_][{_MARKS}]*)+|\d+")


def clean(text: str) -> str:
    """The message as the person meant it: NFC, no control/format characters, single spaces, trimmed."""
    text = unicodedata.normalize("NFC", text[:MAX_INPUT])
    kept = []
    for ch in text:
        if ch in _SPACE_LIKE:
            kept.append(" ")
        elif unicodedata.category(ch) not in _DROPPED_CATEGORIES:
            kept.append(ch)
    return _SPACES.sub(" ", "".join(kept)).strip()


def fold(word: str) -> str:
    """Matching key of a word: Turkish-aware case fold, ASCII forms of Turkish letters, ASCII digits.

    Letters outside Latin (Cyrillic, Arabic, emoji…) are kept as they are, so they never equal a keyword.
    """
    text = unicodedata.normalize("NFKC", word)
    text = turkish_lower(text).translate(_ASCII_FORMS)
    # Remaining accents ("é", and "i̇" left by a decomposed capital İ) are dropped.
    decomposed = unicodedata.normalize("NFKD", text)
    out = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        digit = unicodedata.decimal(ch, None)
        out.append(str(digit) if digit is not None else ch)
    return "".join(out).upper()


@dataclass(frozen=True)
class Word:
    """One word of a cleaned message: its matching key and where it sits in the cleaned text."""

    key: str
    start: int
    end: int

    @property
    def is_number(self) -> bool:
        return self.key.isascii() and self.key.isdigit()


def words(cleaned: str, limit: int | None = None) -> list[Word]:
    """The first ``limit`` words (all when None) of a text already passed through :func:`clean`."""
    found: list[Word] = []
    for match in _WORD.finditer(cleaned):
        found.append(Word(fold(match.group()), match.start(), match.end()))
        if limit is not None and len(found) >= limit:
            break
    return found


def symbols_only(cleaned: str) -> str:
    """The message with every space removed, for one-symbol commands such as "?"."""
    return cleaned.replace(" ", "")
