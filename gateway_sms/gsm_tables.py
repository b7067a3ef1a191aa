"""3GPP TS 23.038 character tables as data: code (septet) -> character.

Verified against the specification's tables (section 6.2.1 default alphabet, 6.2.1.1 default extension,
annex A.2.1 Turkish national language single shift table). Row/column layout in the spec: column = high
three bits, row = low nibble; the dictionaries below are keyed by the resulting septet value.
"""

from __future__ import annotations

from collections.abc import Mapping

ESCAPE = 0x1B

# 6.2.1: the default alphabet, index = septet. 0x1B is the escape to the extension table (never a character).
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# 6.2.1.1: the default extension table (reached through 0x1B; each costs two septets).
DEFAULT_EXTENSION: Mapping[int, str] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

# A.2.1: the Turkish national language single shift table (national language identifier 1).
TURKISH_SINGLE_SHIFT: Mapping[int, str] = {
    **DEFAULT_EXTENSION,
    0x47: "Ğ",
    0x49: "İ",
    0x53: "Ş",
    0x63: "ç",
    0x67: "ğ",
    0x69: "ı",
    0x73: "ş",
}

TURKISH_LANGUAGE_ID = 0x01

# National language identifier -> its single shift table (0 = the default extension table).
SINGLE_SHIFT_TABLES: Mapping[int, Mapping[int, str]] = {
    0x00: DEFAULT_EXTENSION,
    TURKISH_LANGUAGE_ID: TURKISH_SINGLE_SHIFT,
}

assert len(DEFAULT_ALPHABET) == 128
