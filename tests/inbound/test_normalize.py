"""clean() keeps people's words, fold() makes matching keys: Turkish case rules, hostile characters."""

from __future__ import annotations

import pytest

from inbound.normalize import MAX_INPUT, clean, fold, words

CLEAN = [
    ("plain", "Yol bozuk", "Yol bozuk"),
    ("turkish kept", "İĞNE ığne ŞÇÖÜ", "İĞNE ığne ŞÇÖÜ"),
    ("decomposed capital I dot composed", "I\u0307stek", "İstek"),
    ("spaces collapsed", "  a \t b\r\n c  ", "a b c"),
    ("controls removed", "a\x00b\x07c\x1bd", "abcd"),
    ("bidi marks removed", "\u202ea\u200fb\u200ec\u2066", "abc"),
    ("zero width removed", "a\u200bb\ufeffc", "abc"),
    ("lone surrogate removed", "a\ud800b", "ab"),
    ("private use removed", "a\ue000b", "ab"),
    ("emoji kept", "yol 🙂", "yol 🙂"),
    ("html kept verbatim", "<b>x</b>", "<b>x</b>"),
    ("empty", "", ""),
    ("line separator", "a\u2028b", "a b"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CLEAN], ids=[c[0] for c in CLEAN])
def test_clean(text: str, expected: str) -> None:
    assert clean(text) == expected


FOLD = [
    ("İstek", "ISTEK"),
    ("istek", "ISTEK"),
    ("ıstek", "ISTEK"),
    ("ISTEK", "ISTEK"),
    ("şikâyet", "SIKAYET"),
    ("ŞİKÂYET", "SIKAYET"),
    ("Görüş", "GORUS"),
    ("ÖNERİ", "ONERI"),
    ("çağrı", "CAGRI"),
    ("１２３", "123"),
    ("٤٥٦", "456"),
    ("ＴＡＬＥＰ", "TALEP"),
    ("café", "CAFE"),
    ("ТАЛЕП", "ТАЛЕП"),  # Cyrillic stays Cyrillic: never equal to a keyword
]


@pytest.mark.parametrize(("word", "expected"), FOLD)
def test_fold(word: str, expected: str) -> None:
    assert fold(word) == expected


def test_words_split_letters_from_digits_and_keep_positions() -> None:
    cleaned = clean("TALEP#1234 ŞİKAYET:x")
    found = words(cleaned)
    assert [w.key for w in found] == ["TALEP", "1234", "SIKAYET", "X"]
    assert [cleaned[w.start : w.end] for w in found] == ["TALEP", "1234", "ŞİKAYET", "x"]
    assert [w.is_number for w in found] == [False, True, False, False]
    assert len(words(cleaned, limit=2)) == 2


def test_input_is_capped() -> None:
    assert len(clean("a" * (MAX_INPUT * 3))) == MAX_INPUT
