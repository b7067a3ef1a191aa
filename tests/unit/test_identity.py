"""Identity helpers: TCKN and Turkish mobile validation, masking and Turkish case rules (table-driven)."""

from __future__ import annotations

import random

import pytest

from workflow.identity import (
    InvalidPhone,
    InvalidTCKN,
    mask_phone,
    mask_tckn,
    normalize_tr_mobile,
    turkish_fold,
    turkish_lower,
    turkish_upper,
    validate_tckn,
)
from workflow.registry.testdata import make_mobile, make_tckn, national_form

VALID_TCKN = [
    ("17291716060", "17291716060"),
    ("10000000146", "10000000146"),
    (" 172 917 160 60 ", "17291716060"),
    ("17291716060\n", "17291716060"),
]

INVALID_TCKN = [
    ("", "empty"),
    ("   ", "empty"),
    ("17291716061", "check digits"),  # last digit off by one
    ("17291716050", "check digits"),  # tenth digit wrong
    ("11111111111", "check digits"),
    ("1729171606", "length"),  # 10 digits
    ("172917160600", "length"),  # 12 digits
    ("07291716092", "format"),  # leading zero
    ("1729171606a", "format"),
    ("17291-716060", "format"),
    ("١٧٢٩١٧١٦٠٦٠", "format"),  # Arabic-Indic digits: isdigit() but not ASCII
    ("+7291716060", "format"),
]


@pytest.mark.parametrize(("raw", "expected"), VALID_TCKN)
def test_valid_tckn_is_returned_compact(raw: str, expected: str) -> None:
    assert validate_tckn(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), INVALID_TCKN)
def test_invalid_tckn_raises_with_turkish_message_and_english_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidTCKN) as info:
        validate_tckn(raw)
    assert info.value.reason == reason
    assert "T.C. Kimlik No" in str(info.value)
    assert isinstance(info.value, ValueError)
    if raw.strip():
        assert raw.strip() not in str(info.value)  # never echo the number


def test_generated_tckns_are_valid_and_distinct_from_a_one_digit_change() -> None:
    rng = random.Random(7)
    for _ in range(200):
        tckn = make_tckn(rng)
        assert validate_tckn(tckn) == tckn
        broken = tckn[:-1] + str((int(tckn[-1]) + 1) % 10)
        with pytest.raises(InvalidTCKN):
            validate_tckn(broken)


VALID_PHONES = [
    ("0532 123 45 67", "+905321234567"),
    ("05321234567", "+905321234567"),
    ("+90 532 123 45 67", "+905321234567"),
    ("+905321234567", "+905321234567"),
    ("905321234567", "+905321234567"),
    ("90 532 123 45 67", "+905321234567"),
    ("5321234567", "+905321234567"),
    ("532 123 4567", "+905321234567"),
    ("0090 532 123 45 67", "+905321234567"),
    ("(0532) 123-45-67", "+905321234567"),
    ("0 (532) 123 45 67", "+905321234567"),
    ("+90 (542) 765.43.21", "+905427654321"),
    ("0505 000 00 00", "+905050000000"),
    ("  0555 999 88 77  ", "+905559998877"),
]

INVALID_PHONES = [
    ("", "empty"),
    ("   ", "empty"),
    ("0312 123 45 67", "not a mobile number"),  # Ankara landline
    ("0850 123 45 67", "not a mobile number"),  # non-geographic
    ("0800 123 45 67", "not a mobile number"),  # toll-free
    ("0561 123 45 67", "invalid number"),
    ("0542 765 43 2", "invalid number"),  # one digit short
    ("0542 765 43 210", "invalid number"),  # one digit too many
    ("+1 202 555 0143", "not Turkish"),
    ("+44 7911 123456", "not Turkish"),  # a UK mobile is still not Turkish
    ("0542 FLOWERS", "format"),
    ("0542 765 43 21 ext. 5", "format"),
    ("0542/765/43/21", "format"),
    ("+", "unparseable"),
    ("+90", "unparseable"),
    ("1" * 40, "format"),  # absurdly long input is refused before parsing
]


@pytest.mark.parametrize(("raw", "expected"), VALID_PHONES)
def test_turkish_mobile_numbers_normalise_to_e164(raw: str, expected: str) -> None:
    assert normalize_tr_mobile(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), INVALID_PHONES)
def test_invalid_phone_raises_with_turkish_message_and_english_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalize_tr_mobile(raw)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)
    assert "numara" in str(info.value)  # a Turkish sentence about the number
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) >= 7:
        assert digits not in str(info.value).replace(" ", "")


def test_generated_mobiles_are_accepted_in_both_forms() -> None:
    rng = random.Random(11)
    for _ in range(200):
        e164 = make_mobile(rng)
        assert normalize_tr_mobile(e164) == e164
        assert normalize_tr_mobile(national_form(e164)) == e164


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("12345678901", "123******01"),
        ("17291716060", "172******60"),
        ("12345", "*****"),
        ("", ""),
    ],
)
def test_mask_tckn(raw: str, masked: str) -> None:
    assert mask_tckn(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+905321234567", "0532 *** ** 67"),
        ("+905059876543", "0505 *** ** 43"),
        ("+12025550143", "**********43"),
        ("", ""),
    ],
)
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "upper", "lower"),
    [
        ("istanbul", "İSTANBUL", "istanbul"),
        ("ılıca", "ILICA", "ılıca"),
        ("IĞDIR", "IĞDIR", "ığdır"),
        ("İzmir", "İZMİR", "izmir"),
        ("Çağrı Işık", "ÇAĞRI IŞIK", "çağrı ışık"),
        ("ŞEHİT VEDAT", "ŞEHİT VEDAT", "şehit vedat"),
        ("Ünal Öztürk", "ÜNAL ÖZTÜRK", "ünal öztürk"),
        ("", "", ""),
    ],
)
def test_turkish_case(raw: str, upper: str, lower: str) -> None:
    assert turkish_upper(raw) == upper
    assert turkish_lower(raw) == lower
    assert len(turkish_lower(raw)) == len(raw)  # İ never becomes two code points


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ayşe  YILMAZ", "AYŞE Yılmaz"),
        ("  İsmail\tIşık ", "ismail ışık"),
        ("KÂZIM KARA", "kazım kara"),
        ("Gülşen İNCE", "gülşen ince"),
        ("i\u0307nce", "İnce"),  # decomposed dotted capital I, lower-cased the non-Turkish way
        ("Ömer\u00a0Uçar", "ömer uçar"),  # non-breaking space
    ],
)
def test_turkish_fold_matches_the_same_name(a: str, b: str) -> None:
    assert turkish_fold(a) == turkish_fold(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Işık", "İşik"),  # I/ı and İ/i are different letters in Turkish
        ("ılgaz", "ilgaz"),
        ("Ayşe Yılmaz", "Ayse Yilmaz"),  # folding is not transliteration
        ("Ali Kaya", "Ali Kayа"),  # Cyrillic а is a different letter
    ],
)
def test_turkish_fold_keeps_different_names_apart(a: str, b: str) -> None:
    assert turkish_fold(a) != turkish_fold(b)


def test_turkish_fold_example_from_the_docstring() -> None:
    assert turkish_fold("ayşe  YILMAZ") == "ayşe yılmaz"
