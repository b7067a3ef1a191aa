"""Alphabet choice and splitting: boundaries, escapes, surrogates, UDH bytes, round trips."""

from __future__ import annotations

import pytest

from gateway_sms.encoding import (
    DC_GSM7,
    DC_UCS2,
    ESM_UDHI,
    EncodingError,
    Plan,
    decode_gsm7,
    plan,
    segments,
)
from gateway_sms.gsm_tables import ESCAPE

TR_SENTENCE = "Sayın muhtarımız, 1234 numaralı talebiniz sonuçlandı. Ayrıntı için giriş yapınız."
TR_UPPER = "İSTANBUL ŞİŞLİ ÇAĞLAYAN MAHALLESİ"


def _body(part_message: bytes, esm_class: int) -> bytes:
    if not esm_class & ESM_UDHI:
        return part_message
    return part_message[1 + part_message[0] :]


def _nli(part_message: bytes) -> int:
    """National language single shift id announced in the UDH (0 = none)."""
    udh = part_message[1 : 1 + part_message[0]]
    i = 0
    while i + 1 < len(udh):
        iei, length = udh[i], udh[i + 1]
        if iei == 0x24:
            return udh[i + 2]
        i += 2 + length
    return 0


def _round_trip(p: Plan) -> str:
    bodies = [_body(part.short_message, part.esm_class) for part in p.parts]
    if p.data_coding == DC_UCS2:
        return b"".join(bodies).decode("utf-16-be")
    lang = _nli(p.parts[0].short_message) if p.parts[0].esm_class & ESM_UDHI else 0
    return "".join(decode_gsm7(b, lang) for b in bodies)


def _septets_used(part_message: bytes, esm_class: int) -> int:
    udh_len = 1 + part_message[0] if esm_class & ESM_UDHI else 0
    return (8 * udh_len + 6) // 7 + len(part_message) - udh_len


# (text, mode, scheme, data_coding, segments)
CHOICE = [
    ("", "gsm7", "gsm7", DC_GSM7, 1),
    ("", "ucs2_only", "ucs2", DC_UCS2, 1),
    ("TALEP 1234", "gsm7", "gsm7", DC_GSM7, 1),
    ("TALEP 1234", "turkish_shift", "gsm7", DC_GSM7, 1),
    ("TALEP 1234", "ucs2_only", "ucs2", DC_UCS2, 1),
    ("Ölçü", "gsm7", "ucs2", DC_UCS2, 1),  # ç is not in the default alphabet (Ç is)
    ("ÖÇÜöü", "gsm7", "gsm7", DC_GSM7, 1),
    (TR_SENTENCE, "gsm7", "ucs2", DC_UCS2, 2),
    (TR_SENTENCE, "turkish_shift", "turkish_shift", DC_GSM7, 1),
    (TR_UPPER, "gsm7", "ucs2", DC_UCS2, 1),
    (TR_UPPER, "turkish_shift", "turkish_shift", DC_GSM7, 1),
    ("Kod: 123456 `", "gsm7", "ucs2", DC_UCS2, 1),  # backtick is not GSM (smpplib maps it to §)
    ("a€[]{}^~\\|\f", "gsm7", "gsm7", DC_GSM7, 1),
    ("Merhaba 😀", "turkish_shift", "ucs2", DC_UCS2, 1),
    ("Привет", "turkish_shift", "ucs2", DC_UCS2, 1),
]


@pytest.mark.parametrize(("text", "mode", "scheme", "dc", "count"), CHOICE)
def test_alphabet_choice(text: str, mode: str, scheme: str, dc: int, count: int) -> None:
    p = plan(text, mode, ref=1)
    assert (p.scheme, p.data_coding, p.segments) == (scheme, dc, count)
    assert _round_trip(p) == text


# (text, mode, segments): the exact limits 160/153, 155/149, 70/67 and their neighbours.
BOUNDARIES = [
    ("a" * 160, "gsm7", 1),
    ("a" * 161, "gsm7", 2),
    ("a" * 306, "gsm7", 2),
    ("a" * 307, "gsm7", 3),
    ("€" * 80, "gsm7", 1),  # 160 septets
    ("€" * 80 + "a", "gsm7", 2),
    ("ş" + "a" * 153, "turkish_shift", 1),  # 155 septets
    ("ş" + "a" * 154, "turkish_shift", 2),
    ("ş" + "a" * 296, "turkish_shift", 2),  # 298 = 2 x 149
    ("ş" + "a" * 297, "turkish_shift", 3),
    ("ş" * 70, "gsm7", 1),
    ("ş" * 71, "gsm7", 2),
    ("ş" * 134, "gsm7", 2),
    ("ş" * 135, "gsm7", 3),
    ("a" * 70, "ucs2_only", 1),
    ("a" * 71, "ucs2_only", 2),
    ("😀" * 35, "gsm7", 1),  # 70 UTF-16 code units
    ("😀" * 36, "gsm7", 2),
    ("😀" * 66, "gsm7", 2),  # 33 pairs per part: 67 is odd, a pair is never split
    ("😀" * 67, "gsm7", 3),
]


@pytest.mark.parametrize(("text", "mode", "count"), BOUNDARIES)
def test_segment_boundaries(text: str, mode: str, count: int) -> None:
    p = plan(text, mode, ref=9)
    assert p.segments == count
    assert segments(text, mode) == count
    assert _round_trip(p) == text
    for part in p.parts:
        if p.data_coding == DC_UCS2:
            assert len(part.short_message) <= 140
        else:
            assert _septets_used(part.short_message, part.esm_class) <= 160


@pytest.mark.parametrize("prefix", range(140, 170))
@pytest.mark.parametrize("escape_char", ["€", "[", "\\", "\f"])
def test_escape_never_split_and_within_160_septets(prefix: int, escape_char: str) -> None:
    text = "a" * prefix + escape_char * 20
    p = plan(text, "gsm7", ref=3)
    for part in p.parts:
        body = _body(part.short_message, part.esm_class)
        assert not body.endswith(bytes((ESCAPE,)))
        assert _septets_used(part.short_message, part.esm_class) <= 160
    assert _round_trip(p) == text


@pytest.mark.parametrize("prefix", range(60, 70))
def test_surrogate_pair_never_split(prefix: int) -> None:
    text = "ş" * prefix + "👍🏽" * 10
    p = plan(text, "gsm7", ref=3)
    for part in p.parts:
        body = _body(part.short_message, part.esm_class)
        assert len(body) % 2 == 0
        last_unit = int.from_bytes(body[-2:], "big")
        assert not 0xD800 <= last_unit <= 0xDBFF  # a high surrogate never ends a part
        assert len(part.short_message) <= 140
    assert _round_trip(p) == text


# (text, mode, concat, expected UDH of the first part)
UDH_BYTES = [
    ("a" * 161, "gsm7", "udh8", bytes.fromhex("050003070201")),
    ("a" * 161, "gsm7", "udh16", bytes.fromhex("06080400070201")),
    ("ş", "turkish_shift", "udh8", bytes.fromhex("03240101")),
    ("ş" * 80, "turkish_shift", "udh8", bytes.fromhex("082401010003070201")),
    ("ş" * 71, "gsm7", "udh8", bytes.fromhex("050003070201")),
]


@pytest.mark.parametrize(("text", "mode", "concat", "udh"), UDH_BYTES)
def test_udh_bytes(text: str, mode: str, concat: str, udh: bytes) -> None:
    first = plan(text, mode, concat=concat, ref=7).parts[0]
    assert first.esm_class == ESM_UDHI
    assert first.short_message[: len(udh)] == udh


def test_udh16_limit_is_152() -> None:
    assert plan("a" * 304, "gsm7", concat="udh16").segments == 2
    assert plan("a" * 305, "gsm7", concat="udh16").segments == 3


def test_sar_style_has_no_udh_and_numbers_parts() -> None:
    p = plan("a" * 307, "gsm7", concat="sar", ref=0x1234)
    assert [part.sar for part in p.parts] == [(0x1234, 3, 1), (0x1234, 3, 2), (0x1234, 3, 3)]
    assert all(part.esm_class == 0 for part in p.parts)
    assert [len(part.short_message) for part in p.parts] == [153, 153, 1]


def test_single_part_has_no_concatenation() -> None:
    p = plan("a" * 160, "gsm7")
    assert p.parts[0].esm_class == 0 and p.parts[0].sar is None


@pytest.mark.parametrize(("mode", "concat"), [("latin1", "udh8"), ("gsm7", "udh32"), ("", "sar")])
def test_unknown_mode_or_style(mode: str, concat: str) -> None:
    with pytest.raises(EncodingError):
        plan("x", mode, concat=concat)


# (septets hex, language, text): decoding, including an escape the table lacks and a trailing escape.
DECODE = [
    ("48656c6c6f", 0, "Hello"),
    ("1b65", 0, "€"),
    ("1b69", 0, "i"),  # unknown in the default extension: shown as the default character
    ("1b69", 1, "ı"),
    ("1b491b53", 1, "İŞ"),
    ("411b", 0, "A"),
    ("00", 0, "@"),
]


@pytest.mark.parametrize(("septets", "language", "text"), DECODE)
def test_decode_gsm7(septets: str, language: int, text: str) -> None:
    assert decode_gsm7(bytes.fromhex(septets), language) == text


@pytest.mark.parametrize("bad", ["80", "41ff", "1b80"])
def test_decode_gsm7_rejects_octets(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_gsm7(bytes.fromhex(bad))
