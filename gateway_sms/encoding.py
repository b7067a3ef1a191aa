"""Outgoing text → SMPP parts: alphabet choice and splitting, done here rather than by smpplib.

Why not smpplib's ``make_parts``: it can cut a two-septet escape sequence in half and maps ` to §.

Rules (3GPP TS 23.038 / 23.040):
- GSM 7-bit default alphabet, sent unpacked (one septet per octet, data_coding 0), when every character is in
  the default alphabet or its extension table (extension characters cost two septets, never split).
- Mode ``turkish_shift``: a text that needs ç ğ ı İ ş Ş Ğ uses the Turkish single shift table, announced by
  the national language single shift information element (IE 0x24, language 1) in the UDH.
- Otherwise UCS-2 (UTF-16BE, data_coding 8); a character outside the BMP is a surrogate pair, never split.
- Long texts are concatenated parts: UDH IE 0x00 (8-bit reference) or 0x08 (16-bit), or SAR TLVs.

Segment limits follow from the UDH length: a part carries 140 octets; in 7-bit mode the UDH occupies
ceil(8·L/7) septets of the 160. That gives 160/153 (GSM 7), 155/149 (Turkish shift), 70/67 (UCS-2).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from gateway_sms.gsm_tables import (
    DEFAULT_ALPHABET,
    DEFAULT_EXTENSION,
    ESCAPE,
    SINGLE_SHIFT_TABLES,
    TURKISH_LANGUAGE_ID,
    TURKISH_SINGLE_SHIFT,
)

MODES = ("gsm7", "turkish_shift", "ucs2_only")
CONCAT_STYLES = ("udh8", "udh16", "sar")

DC_GSM7 = 0x00
DC_UCS2 = 0x08
ESM_UDHI = 0x40
PAYLOAD_OCTETS = 140
GSM7_SEPTETS = 160

IE_CONCAT_8 = 0x00
IE_CONCAT_16 = 0x08
IE_NL_SINGLE_SHIFT = 0x24
IE_NL_LOCKING_SHIFT = 0x25

_DEFAULT_CODES = {ch: code for code, ch in enumerate(DEFAULT_ALPHABET) if code != ESCAPE}


_EXT_CODES = {ch: code for code, ch in DEFAULT_EXTENSION.items()}
_TR_CODES = {ch: code for code, ch in TURKISH_SINGLE_SHIFT.items()}


def _unit_table(shift: dict[str, int]) -> dict[str, bytes]:
    """Character -> its septets (unpacked): the default alphabet, else escape + the shift table's code."""
    table = {ch: bytes((ESCAPE, code)) for ch, code in shift.items()}
    table.update((ch, bytes((code,))) for ch, code in _DEFAULT_CODES.items())
    return table


# Built once: looking each character up in one table is what every outgoing SMS costs.
_EXT_UNITS = _unit_table(_EXT_CODES)
_TR_UNITS = _unit_table(_TR_CODES)


class EncodingError(ValueError):
    """A mode or concatenation style that does not exist (a programming or settings error)."""


@dataclass(frozen=True)
class Part:
    """One submit_sm worth of message: ``short_message`` includes the UDH when ``esm_class`` has UDHI."""

    short_message: bytes
    esm_class: int
    # (reference, total, sequence) for the SAR TLVs when the concatenation style is "sar", else None.
    sar: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Plan:
    scheme: str  # "gsm7", "turkish_shift" or "ucs2"
    data_coding: int
    parts: tuple[Part, ...]

    @property
    def segments(self) -> int:
        return len(self.parts)


# --- character units ----------------------------------------------------------------------------


def _gsm_units(text: str, table: dict[str, bytes]) -> list[bytes] | None:
    """Each character as its septets (1 or 2 octets, unpacked); None if a character is not encodable."""
    get = table.get
    units = [get(ch) for ch in text]
    if None in units:
        return None
    return units  # type: ignore[return-value]  # no None left


def _ucs2_units(text: str) -> list[bytes]:
    # One unit per character: 2 octets, or 4 for a surrogate pair (kept together).
    return [ch.encode("utf-16-be") for ch in text]


# --- UDH and capacities -------------------------------------------------------------------------


def _concat_ie(style: str, ref: int, total: int, seq: int) -> bytes:
    if style == "udh8":
        return bytes((IE_CONCAT_8, 3, ref & 0xFF, total, seq))
    if style == "udh16":
        return bytes((IE_CONCAT_16, 4, (ref >> 8) & 0xFF, ref & 0xFF, total, seq))
    return b""


def _udh(ies: Sequence[bytes]) -> bytes:
    body = b"".join(ies)
    return bytes((len(body),)) + body if body else b""


def _septet_capacity(udh_len: int) -> int:
    return GSM7_SEPTETS - (8 * udh_len + 6) // 7


def _octet_capacity(udh_len: int) -> int:
    return PAYLOAD_OCTETS - udh_len


# --- splitting ----------------------------------------------------------------------------------


def _pack(units: list[bytes], capacity: int, weight: int) -> list[bytes]:
    """Greedy split into chunks of at most ``capacity`` (in units of ``weight`` octets), whole units only."""
    chunks: list[bytes] = []
    current = bytearray()
    for unit in units:
        if len(current) + len(unit) > capacity * weight and current:
            chunks.append(bytes(current))
            current = bytearray()
        current += unit
    chunks.append(bytes(current))
    return chunks


def _split(units: list[bytes], weight: int, fixed_ies: list[bytes], style: str, ref: int) -> tuple[Part, ...]:
    capacity = _septet_capacity if weight == 1 else (lambda n: _octet_capacity(n) // 2)
    single_udh = _udh(fixed_ies)
    body = b"".join(units)
    if len(body) <= capacity(len(single_udh)) * weight:
        return (Part(single_udh + body, ESM_UDHI if single_udh else 0),)
    # With SAR the SMSC adds the concatenation UDH itself: leave room for the 8-bit one.
    probe_udh = _udh([*fixed_ies, _concat_ie("udh8" if style == "sar" else style, ref, 1, 1)])
    chunks = _pack(units, capacity(len(probe_udh)), weight)
    if len(chunks) > 255:
        raise EncodingError(f"text needs {len(chunks)} parts; at most 255 are possible")
    parts = []
    for seq, chunk in enumerate(chunks, start=1):
        udh = _udh([*fixed_ies, _concat_ie(style, ref, len(chunks), seq)])
        sar = (ref & 0xFFFF, len(chunks), seq) if style == "sar" else None
        parts.append(Part(udh + chunk, ESM_UDHI if udh else 0, sar))
    return tuple(parts)


def plan(text: str, mode: str = "gsm7", *, concat: str = "udh8", ref: int | None = None) -> Plan:
    """Choose the alphabet for ``text`` under ``mode`` and split it into parts."""
    if mode not in MODES:
        raise EncodingError(f"unknown SMS encoding mode {mode!r}")
    if concat not in CONCAT_STYLES:
        raise EncodingError(f"unknown concatenation style {concat!r}")
    if ref is None:
        ref = secrets.randbelow(0x10000 if concat != "udh8" else 0x100)
    if mode != "ucs2_only":
        units = _gsm_units(text, _EXT_UNITS)
        if units is not None:
            return Plan("gsm7", DC_GSM7, _split(units, 1, [], concat, ref))
    if mode == "turkish_shift":
        units = _gsm_units(text, _TR_UNITS)
        if units is not None:
            nli = bytes((IE_NL_SINGLE_SHIFT, 1, TURKISH_LANGUAGE_ID))
            return Plan("turkish_shift", DC_GSM7, _split(units, 1, [nli], concat, ref))
    return Plan("ucs2", DC_UCS2, _split(_ucs2_units(text), 2, [], concat, ref))


def segments(text: str, mode: str = "gsm7", *, concat: str = "udh8") -> int:
    """How many SMS parts ``text`` costs in ``mode`` (what the operator bills)."""
    return plan(text, mode, concat=concat, ref=0).segments


# --- decoding (MO and tests) --------------------------------------------------------------------


def decode_gsm7(septets: bytes, language: int = 0) -> str:
    """Unpacked GSM 7-bit → text, with the single shift table of national ``language`` (0 = default).

    Raises ``ValueError`` for an octet above 0x7F (not a septet). An escape followed by a code the table
    lacks shows the default-alphabet character, as 23.038 asks receivers to do.
    """
    shift = SINGLE_SHIFT_TABLES.get(language, DEFAULT_EXTENSION)
    out: list[str] = []
    i = 0
    while i < len(septets):
        code = septets[i]
        if code > 0x7F:
            raise ValueError(f"octet 0x{code:02x} at {i} is not a GSM 7-bit septet")
        if code == ESCAPE:
            i += 1
            if i == len(septets):
                break  # a lone trailing escape: nothing to show
            nxt = septets[i]
            if nxt > 0x7F:
                raise ValueError(f"octet 0x{nxt:02x} at {i} is not a GSM 7-bit septet")
            out.append(shift.get(nxt, DEFAULT_ALPHABET[nxt] if nxt != ESCAPE else " "))
        else:
            out.append(DEFAULT_ALPHABET[code])
        i += 1
    return "".join(out)
