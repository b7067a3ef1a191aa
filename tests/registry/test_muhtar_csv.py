"""Checking a muhtar CSV before the database: headers, delimiters, every kind of bad row (pure, no I/O)."""

from __future__ import annotations

import random

import pytest

from workflow.registry.muhtar_csv import RowError, UnreadableFile, decode, parse_muhtar_csv
from workflow.registry.testdata import make_mobile, make_tckn, national_form

RNG = random.Random(2024)
T = [make_tckn(RNG) for _ in range(12)]
P = [national_form(make_mobile(RNG)) for _ in range(12)]
BAD_CHECK = T[0][:-1] + str((int(T[0][-1]) + 1) % 10)


def test_good_rows_are_normalised() -> None:
    text = f"tckn,name,phone,muhtarlik\n{T[0]}, ayşe   Yılmaz ,{P[0]},m-123\n"
    parsed = parse_muhtar_csv(text)
    assert parsed.errors == [] and parsed.total == 1
    row = parsed.rows[0]
    assert (row.line, row.tckn, row.full_name, row.muhtarlik_code) == (2, T[0], "ayşe Yılmaz", "M-123")
    assert row.phone_e164.startswith("+905") and len(row.phone_e164) == 13


BAD_ROWS = [
    (f"{BAD_CHECK},Ali Kaya,{P[1]},M-1", "invalid TC Kimlik No (check digits)"),
    (f"{T[1][:10]},Ali Kaya,{P[1]},M-1", "invalid TC Kimlik No (length)"),
    (f"0{T[1][1:]},Ali Kaya,{P[1]},M-1", "invalid TC Kimlik No (format)"),
    (f",Ali Kaya,{P[1]},M-1", "invalid TC Kimlik No (empty)"),
    (f"{T[1]},,{P[1]},M-1", "name is empty"),
    (f"{T[1]},Ali Kaya 2,{P[1]},M-1", "name contains characters other than letters, spaces, apostrophes, "
                                      "hyphens, dots"),
    (f"{T[1]},{'A' * 201},{P[1]},M-1", "name is longer than 200 characters"),
    (f"{T[1]},Ali Kaya,0312 123 45 67,M-1", "invalid mobile phone (not a mobile number)"),
    (f"{T[1]},Ali Kaya,+44 7911 123456,M-1", "invalid mobile phone (not Turkish)"),
    (f"{T[1]},Ali Kaya,,M-1", "invalid mobile phone (empty)"),
    (f"{T[1]},Ali Kaya,{P[1]},", "muhtarlık code is empty"),
    (f"{T[1]},Ali Kaya,{P[1]},Çankaya", "muhtarlık code is not of the form M-<number> or K-<number>"),
    (f"{T[1]},Ali Kaya,{P[1]},M-{T[2]}", "muhtarlık code is not of the form M-<number> or K-<number>"),
    (f"{T[1]},Ali Kaya,{P[1]}", "expected 4 columns, found 3"),
    (f"{T[1]},Ali Kaya,{P[1]},M-1,extra", "expected 4 columns, found 5"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_ROWS)
def test_each_bad_row_is_reported_with_line_and_reason_and_no_personal_data(line: str, reason: str) -> None:
    parsed = parse_muhtar_csv(f"tckn,name,phone,muhtarlik\n{line}\n")
    assert parsed.rows == []
    assert parsed.errors == [RowError(2, reason)]
    message = str(parsed.errors[0])
    assert message == f"line 2: {reason}"
    for secret in (*T, BAD_CHECK, *(p.replace(" ", "") for p in P)):
        assert secret not in message.replace(" ", "")


def test_duplicates_reject_every_line_involved() -> None:
    text = "\n".join([
        "tckn,name,phone,muhtarlik",
        f"{T[3]},A Bir,{P[3]},M-1",
        f"{T[3]},A Bir,{P[4]},M-2",  # same TCKN as line 2
        f"{T[5]},C Üç,{P[5]},M-3",
        f"{T[6]},D Dört,{P[5]},M-4",  # same phone as line 4
        f"{T[7]},E Beş,{P[7]},K-5",
        f"{T[8]},F Altı,{P[8]},k-5",  # same muhtarlık as line 6 (case-insensitive code)
        f"{T[9]},G Yedi,{P[9]},K-6",
        f"{T[3]},A Bir,{P[10]},M-7",  # TCKN a third time
    ])
    parsed = parse_muhtar_csv(text)
    assert [r.line for r in parsed.rows] == [8]
    assert [str(e) for e in parsed.errors] == [
        "line 2: duplicate TC Kimlik No (also on line 3, 9)",
        "line 3: duplicate TC Kimlik No (also on line 2, 9)",
        "line 4: duplicate mobile phone (also on line 5)",
        "line 5: duplicate mobile phone (also on line 4)",
        "line 6: duplicate muhtarlık (also on line 7)",
        "line 7: duplicate muhtarlık (also on line 6)",
        "line 9: duplicate TC Kimlik No (also on line 2, 3)",
    ]


def test_line_numbers_count_blank_lines_and_multi_line_cells() -> None:
    text = "\n".join([
        "tckn,name,phone,muhtarlik",  # 1
        "",  # 2
        f'{T[0]},"Ayşe\nYılmaz",{P[0]},M-1',  # 3-4: a name cell spanning two lines
        f"{BAD_CHECK},Ali Kaya,{P[1]},M-2",  # 5
        "   ",  # 6: whitespace only
        f"{T[2]},Veli Uçar,{P[2]},M-3,,",  # 7: empty trailing cells from a spreadsheet are fine
    ])
    parsed = parse_muhtar_csv(text)
    assert [(r.line, r.full_name) for r in parsed.rows] == [(3, "Ayşe Yılmaz"), (7, "Veli Uçar")]
    assert parsed.errors == [RowError(5, "invalid TC Kimlik No (check digits)")]
    assert parsed.total == 3


@pytest.mark.parametrize(
    ("header", "order"),
    [
        ("tckn;name;phone;muhtarlik", ("tckn", "name", "phone", "muhtarlik")),
        ("TC Kimlik No;Adı Soyadı;Cep Telefonu;Muhtarlık Kodu", ("tckn", "name", "phone", "muhtarlik")),
        ("T.C. KİMLİK NO;AD SOYAD;TELEFON;MUHTARLIK", ("tckn", "name", "phone", "muhtarlik")),
        ("muhtarlik;phone;full_name;TCKN", ("muhtarlik", "phone", "name", "tckn")),
    ],
)
def test_semicolon_files_with_turkish_or_english_headers(header: str, order: tuple[str, ...]) -> None:
    values = {"tckn": T[0], "name": "Işıl Öztürk", "phone": P[0], "muhtarlik": "K-42"}
    text = header + "\n" + ";".join(values[k] for k in order) + "\n"
    parsed = parse_muhtar_csv(text)
    assert parsed.errors == []
    assert (parsed.rows[0].tckn, parsed.rows[0].full_name, parsed.rows[0].muhtarlik_code) == (
        T[0], "Işıl Öztürk", "K-42")


def test_a_bom_is_accepted_and_other_encodings_are_refused() -> None:
    text = f"tckn,name,phone,muhtarlik\n{T[0]},Şükran Işık,{P[0]},M-9\n"
    assert decode(b"\xef\xbb\xbf" + text.encode()) == text
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        decode(text.encode("cp1254"))


UNREADABLE = [
    ("", "the file is empty"),
    ("\n\n  \n", "the file is empty"),
    ("tckn,name,phone\n1,2,3\n", "missing: muhtarlik"),
    ("tc,ad,telefon,kod,tckn\n", "names the tckn column twice"),
    ("foo,bar\n", "missing: tckn, name, phone, muhtarlik"),
    ('tckn,name,phone,muhtarlik\n"unterminated' + "x" * 200_000, "cannot be read"),
]


@pytest.mark.parametrize(("text", "message"), UNREADABLE)
def test_unusable_files_raise(text: str, message: str) -> None:
    with pytest.raises(UnreadableFile, match=message):
        parse_muhtar_csv(text)
