"""Corporate e-mail addresses from muhtars' names: pure functions, no I/O (rules in docs/mail.md).

Rule, in order:
1. The name is split on whitespace. The **first word is the given name** and the **last word is the
   surname**; any words between (second given names, a maiden name written without a hyphen) are left out:
   "İsmail Çağrı Öztürk" -> ``ismail.ozturk``. A hyphenated surname is one word and keeps its hyphen:
   "Ayşe Gül Şahin-Yılmaz" -> ``ayse.sahin-yilmaz``. A one-word name gives a one-part address.
2. Each word is lower-cased with Turkish rules (İ -> i, I -> ı) and transliterated (``TRANSLITERATION``);
   other accented Latin letters lose their accents (é -> e); every character outside [a-z0-9-] is
   removed (apostrophes, dots of initials); hyphens are collapsed and trimmed.
3. A taken local part gets the smallest free number from 2 on: ``ayse.yilmaz``, ``ayse.yilmaz2``, … .
   "Taken" means ever issued (the ``mail_addresses`` table), so an address is never reused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Final

from workflow.identity import turkish_lower

# Turkish letters (and the circumflexed vowels of loanwords) -> ASCII, applied after Turkish lower-casing.
TRANSLITERATION: Final[dict[str, str]] = {
    "ç": "c",
    "ğ": "g",
    "ı": "i",
    "ö": "o",
    "ş": "s",
    "ü": "u",
    "â": "a",
    "î": "i",
    "û": "u",
}
_TABLE: Final = str.maketrans(TRANSLITERATION)
_NOT_ALLOWED: Final = re.compile(r"[^a-z0-9-]")
_HYPHENS: Final = re.compile(r"-{2,}")
# RFC 5321: a local part is at most 64 octets; leave room for a collision number.
MAX_LOCAL_PART: Final = 64
MAX_BASE: Final = 58
FIRST_SUFFIX: Final = 2


class NoAddress(ValueError):
    """The name has no letter or digit an address could be made of (``str()`` says why, in English)."""


def ascii_word(word: str) -> str:
    """One word of a name as it appears in an address: "Şahin-Yılmaz" -> "sahin-yilmaz"."""
    text = turkish_lower(unicodedata.normalize("NFC", word)).translate(_TABLE)
    # Letters from other languages (é, ñ, ß) decompose into a base letter and marks; keep the base.
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _NOT_ALLOWED.sub("", text)
    return _HYPHENS.sub("-", text).strip("-")


def base_local_part(full_name: str) -> str:
    """The address a name asks for before collisions: first given name + "." + last surname."""
    words = [w for w in (ascii_word(raw) for raw in full_name.split()) if w]
    if not words:
        raise NoAddress("the name has no letters or digits")
    parts = [words[0]] if len(words) == 1 else [words[0], words[-1]]
    base = ".".join(parts)
    if len(base) > MAX_BASE:
        base = base[:MAX_BASE].rstrip(".-")
    return base


def with_suffix(base: str, number: int) -> str:
    return base if number < FIRST_SUFFIX else f"{base}{number}"


def allocate(base: str, is_taken: Callable[[str], bool]) -> str:
    """The first of ``base``, ``base2``, ``base3`` … that is not taken."""
    number = 1
    while True:
        candidate = with_suffix(base, number)
        if not is_taken(candidate):
            return candidate
        number = FIRST_SUFFIX if number < FIRST_SUFFIX else number + 1


def assign_all(names: Iterable[tuple[str, str]], issued: Iterable[str]) -> dict[str, str]:
    """Local parts for ``(key, full_name)`` pairs, in the order given, avoiding ``issued`` and each other.

    Keys whose name yields no address are left out (the caller reports them). Deterministic: the same
    names in the same order against the same issued set give the same result.
    """
    taken = set(issued)
    result: dict[str, str] = {}
    for key, name in names:
        try:
            base = base_local_part(name)
        except NoAddress:
            continue
        local = allocate(base, taken.__contains__)
        taken.add(local)
        result[key] = local
    return result


def turkish_title(name: str) -> str:
    """Proper Turkish case for display: "AYŞE GÜL ŞAHİN-YILMAZ" -> "Ayşe Gül Şahin-Yılmaz"."""
    return " ".join("-".join(_title_word(part) for part in word.split("-")) for word in name.split())


def _title_word(word: str) -> str:
    lowered = turkish_lower(unicodedata.normalize("NFC", word))
    if not lowered:
        return lowered
    head = lowered[0].replace("i", "İ").replace("ı", "I").upper()
    return head + lowered[1:]


def split_name(name: str) -> tuple[str, str]:
    """(given names, surname) for directory entries: the surname is the last word."""
    words = turkish_title(name).split()
    if len(words) <= 1:
        return ("", words[0] if words else "")
    return (" ".join(words[:-1]), words[-1])
