"""Table-driven tests of the SMS command parser: what people type, malformed and hostile input included."""

from __future__ import annotations

import pytest

from inbound.commands import (
    FILING_MIN_CHARS,
    KEYWORDS,
    Command,
    Filing,
    FilingTooShort,
    Help,
    ListOpen,
    QueryRequest,
    parse,
)
from workflow.domain.model import RequestKind

SIK, IST, IHB, ONR = RequestKind.SIKAYET, RequestKind.ISTEK, RequestKind.IHBAR, RequestKind.GORUS_ONERI
LONG_TEXT = "Mahallemizdeki ana yolun asfaltı bozuldu, onarım bekliyoruz."


def q(n: int) -> QueryRequest:
    return QueryRequest(n, str(n))


CASES: list[tuple[str, str, Command]] = [
    # --- TALEP n, as people type it
    ("upper", "TALEP 1234", q(1234)),
    ("lower", "talep 1234", q(1234)),
    ("title", "Talep 1234", q(1234)),
    ("mixed", "tAlEp 1234", q(1234)),
    ("no space", "TALEP1234", q(1234)),
    ("hash", "TALEP#1234", q(1234)),
    ("colon", "TALEP:1234", q(1234)),
    ("colon space", "Talep: 1234", q(1234)),
    ("no", "talep no 1234", q(1234)),
    ("no dot colon", "Talep No.: 1234", q(1234)),
    ("numarasi", "talep numarası 1234", q(1234)),
    ("T", "T 1234", q(1234)),
    ("t glued", "t1234", q(1234)),
    ("T hash", "T#1234", q(1234)),
    ("number alone", "1234", q(1234)),
    ("number hash", "#1234", q(1234)),
    ("number spaces", "   1234   ", q(1234)),
    ("extra spaces", "  TALEP     1234  ", q(1234)),
    ("tabs newlines", "TALEP\t\n1234\r\n", q(1234)),
    ("trailing words", "TALEP 1234 ne oldu?", q(1234)),
    ("leading zeros", "TALEP 0042", q(42)),
    ("full-width digits", "TALEP １２３４", q(1234)),
    ("arabic-indic digits", "TALEP ١٢٣٤", q(1234)),
    ("full-width keyword", "ＴＡＬＥＰ 1234", q(1234)),
    ("sorgu", "SORGU 77", q(77)),
    ("sorgula", "sorgula 77", q(77)),
    ("talep numara", "talep numara 77", q(77)),
    ("talep sorgu", "Talep sorgu 77", q(77)),
    ("durum with number", "DURUM 1234", q(1234)),
    ("quoted", '"TALEP 1234"', q(1234)),
    ("dash", "TALEP-1234", q(1234)),
    ("rtl mark inside", "TA\u200fLEP 1234", q(1234)),
    ("zero-width space", "TALEP\u200b1234", q(1234)),
    ("bidi override", "\u202eTALEP 1234\u202c", q(1234)),
    ("emoji around", "🙂 TALEP 1234 🙏", q(1234)),
    ("zero", "TALEP 0", QueryRequest(None, "0")),
    ("too many digits", "TALEP 1234567890123456789", QueryRequest(None, "1234567890123456")),
    ("sql after number", "TALEP 1 OR 1=1", q(1)),
    ("sql injection number", "TALEP 1234; DROP TABLE requests;--", q(1234)),
    # --- TALEPLER / DURUM
    ("talepler", "TALEPLER", ListOpen()),
    ("talepler lower", "talepler", ListOpen()),
    ("taleplerim dotted i", "TALEPLERİM", ListOpen()),
    ("taleplerim dotless", "taleplerım", ListOpen()),
    ("durum", "Durum", ListOpen()),
    ("acik talepler", "açık taleplerim", ListOpen()),
    ("acik talepler ascii", "ACIK TALEPLER", ListOpen()),
    # --- YARDIM
    ("yardim", "YARDIM", Help("asked")),
    ("yardim turkish", "yardım", Help("asked")),
    ("yardim dotted capital", "YARDİM", Help("asked")),
    ("help", "help", Help("asked")),
    ("question mark", "?", Help("asked")),
    ("question marks spaced", " ? ? ", Help("asked")),
    ("komutlar", "Komutlar", Help("asked")),
    # --- filing
    ("sikayet ascii", "SIKAYET " + LONG_TEXT, Filing(SIK, LONG_TEXT)),
    ("sikayet turkish", "ŞİKAYET " + LONG_TEXT, Filing(SIK, LONG_TEXT)),
    ("sikayet circumflex", "ŞİKÂYET " + LONG_TEXT, Filing(SIK, LONG_TEXT)),
    ("sikayet lower", "şikâyet: " + LONG_TEXT, Filing(SIK, LONG_TEXT)),
    ("sikayet dotless i", "ŞIKAYET " + LONG_TEXT, Filing(SIK, LONG_TEXT)),
    ("istek ascii", "ISTEK " + LONG_TEXT, Filing(IST, LONG_TEXT)),
    ("istek turkish", "İSTEK " + LONG_TEXT, Filing(IST, LONG_TEXT)),
    ("istek lower", "istek - " + LONG_TEXT, Filing(IST, LONG_TEXT)),
    ("ihbar", "IHBAR " + LONG_TEXT, Filing(IHB, LONG_TEXT)),
    ("ihbar turkish", "İhbar " + LONG_TEXT, Filing(IHB, LONG_TEXT)),
    ("oneri ascii", "ONERI " + LONG_TEXT, Filing(ONR, LONG_TEXT)),
    ("oneri turkish", "ÖNERİ " + LONG_TEXT, Filing(ONR, LONG_TEXT)),
    ("gorus ve oneri", "Görüş ve öneri: " + LONG_TEXT, Filing(ONR, LONG_TEXT)),
    ("gorus", "GORUS " + LONG_TEXT, Filing(ONR, LONG_TEXT)),
    ("gorus oneri", "görüş öneri " + LONG_TEXT, Filing(ONR, LONG_TEXT)),
    ("filing glued to hash", "ŞİKAYET#" + LONG_TEXT, Filing(SIK, LONG_TEXT)),
    ("filing text keeps case and letters", "istek  İĞNE ıİ  " + "x" * 20, Filing(IST, "İĞNE ıİ " + "x" * 20)),
    ("filing text keeps html verbatim", "IHBAR <b>" + LONG_TEXT, Filing(IHB, "<b>" + LONG_TEXT)),
    ("filing drops control chars", "ISTEK \x00\x07" + LONG_TEXT + "\u200f", Filing(IST, LONG_TEXT)),
    (
        "filing newlines become spaces",
        "SIKAYET\nYol\r\nbozuk ve çok tehlikeli durumda",
        Filing(SIK, "Yol bozuk ve çok tehlikeli durumda"),
    ),
    ("filing exactly minimum", "ISTEK " + "a" * FILING_MIN_CHARS, Filing(IST, "a" * FILING_MIN_CHARS)),
    # --- filing, too short
    ("filing no text", "SIKAYET", FilingTooShort(SIK, FILING_MIN_CHARS, 0)),
    ("filing short", "İSTEK yol bozuk", FilingTooShort(IST, FILING_MIN_CHARS, 9)),
    (
        "filing one short",
        "ONERI " + "a" * (FILING_MIN_CHARS - 1),
        FilingTooShort(ONR, FILING_MIN_CHARS, FILING_MIN_CHARS - 1),
    ),
    ("filing only separators", "IHBAR :::---", FilingTooShort(IHB, FILING_MIN_CHARS, 0)),
    ("filing spaces do not count", "IHBAR a          b", FilingTooShort(IHB, FILING_MIN_CHARS, 3)),
    # --- not understood, malformed, hostile
    ("empty", "", Help("empty")),
    ("spaces only", "    ", Help("empty")),
    ("control chars only", "\x00\x01\x1b\x7f", Help("empty")),
    ("ansi escape leaves digits", "\x1b[31m", q(31)),
    ("nul bytes only", "\x00\x00\x00", Help("empty")),
    ("rtl marks only", "\u200f\u200e\u202b", Help("empty")),
    ("emoji only", "🙂🙂🙂", Help("no_words")),
    ("punctuation only", "!!!...", Help("no_words")),
    ("talep without number", "TALEP", Help("missing_number")),
    ("T alone", "T", Help("missing_number")),
    ("talep with text", "TALEP yolumuz bozuk", Help("missing_number")),
    ("greeting", "Merhaba", Help("unknown")),
    ("similar word", "TALEPLERİNİZ", Help("unknown")),
    ("keyword later", "merhaba TALEP 1234", Help("unknown")),
    ("sql", "'; DROP TABLE requests; --", Help("unknown")),
    ("html", "<script>alert(1)</script>", Help("unknown")),
    ("arabic text", "مرحبا", Help("unknown")),
    ("cyrillic lookalike", "ТАЛЕП 1234", Help("unknown")),
    ("very long", "A" * 200_000, Help("unknown")),
    ("very long digits", "9" * 200_000, QueryRequest(None, "9" * 16)),
    ("lone surrogate", "\ud800TALEP 12", q(12)),
    ("combining zalgo", "T\u0301\u0302A\u0303LEP 5", q(5)),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_table_has_enough_cases() -> None:
    assert len(CASES) >= 60


def test_every_keyword_has_a_case() -> None:
    """Each keyword phrase in the table is exercised by some case (typed with Turkish letters or not)."""
    from inbound.normalize import clean, words

    typed = {tuple(w.key for w in words(clean(c[1]))[: len(k)]) for c in CASES for k in KEYWORDS}
    missing = [k for k in KEYWORDS if k not in typed]
    assert missing == [], missing


def test_minimum_is_a_parameter() -> None:
    assert parse("ISTEK kısa metin", min_chars=5) == Filing(IST, "kısa metin")
    assert parse("ISTEK kısa", min_chars=5) == FilingTooShort(IST, 5, 4)
