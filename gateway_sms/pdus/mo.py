"""What the SMSC delivers: MO text per data_coding (with UDH), concatenation, and delivery receipts.

Nothing here raises on bad input: ``inspect`` turns a deliver_sm into a ``Fragment``, a ``Receipt`` or an
``Undecodable`` (raw bytes + English reason) that the connector stores and answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway_sms.encoding import IE_CONCAT_8, IE_CONCAT_16, IE_NL_SINGLE_SHIFT, decode_gsm7
from gateway_sms.pdus.codec import (
    TAG_MESSAGE_PAYLOAD,
    TAG_MESSAGE_STATE,
    TAG_NETWORK_ERROR_CODE,
    TAG_RECEIPTED_MESSAGE_ID,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    Pdu,
    tlv_cstr,
    tlv_int,
)

ESM_UDHI = 0x40
ESM_TYPE_MASK = 0x3C
# esm_class message types that carry a receipt (SMPP 3.4 section 5.2.12).
RECEIPT_TYPES = {0x04: "smsc_delivery_receipt", 0x20: "intermediate_notification"}

# message_state TLV values → the stat: words receipts use in their text.
MESSAGE_STATES: Mapping[int, str] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
FINAL_STATES = frozenset({"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "REJECTD", "UNKNOWN"})


@dataclass(frozen=True)
class Concat:
    ref: int
    total: int
    seq: int


@dataclass(frozen=True)
class Fragment:
    """One MO message or one part of a concatenated one, text already decoded."""

    source_addr: str
    source_ton: int
    destination_addr: str
    data_coding: int
    text: str
    concat: Concat | None


@dataclass(frozen=True)
class Receipt:
    message_id: str  # normalised (see normalise_id)
    state: str  # DELIVRD, UNDELIV, EXPIRED, …
    error: str | None
    source_addr: str  # the handset the original SMS went to


@dataclass(frozen=True)
class Undecodable:
    raw: bytes
    reason: str


# --- message ids --------------------------------------------------------------------------------


def normalise_id(raw: str, radix: int | None = None) -> str:
    """Canonical SMSC message id: trimmed, lower case, no leading zeros.

    ``radix`` converts a receipt id written in another base than the submit_sm_resp ids (operators differ:
    some answer submit_sm in hex and write receipts in decimal). ``radix=10`` means "this id is decimal,
    turn it into hex"; ``radix=16`` the reverse. An id that is not a number in that base stays as it is.
    """
    text = raw.strip().lower()
    try:
        if radix == 10:
            text = format(int(text, 10), "x")
        elif radix == 16:
            text = str(int(text, 16))
    except ValueError:
        pass
    stripped = text.lstrip("0")
    return stripped or ("0" if text else "")


# --- UDH and text -------------------------------------------------------------------------------


def split_udh(message: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """(information elements, body) of a message with UDHI set; raises ValueError if the UDH is broken."""
    if not message:
        raise ValueError("UDHI set but the message is empty")
    udhl = message[0]
    if 1 + udhl > len(message):
        raise ValueError(f"UDH length {udhl} runs past the message")
    udh, body = message[1 : 1 + udhl], message[1 + udhl :]
    ies: list[tuple[int, bytes]] = []
    i = 0
    while i < len(udh):
        if i + 2 > len(udh) or i + 2 + udh[i + 1] > len(udh):
            raise ValueError("truncated information element in UDH")
        ies.append((udh[i], udh[i + 2 : i + 2 + udh[i + 1]]))
        i += 2 + udh[i + 1]
    return ies, body


def _udh_concat(ies: list[tuple[int, bytes]]) -> Concat | None:
    for iei, data in ies:
        if iei == IE_CONCAT_8 and len(data) == 3:
            return Concat(data[0], data[1], data[2])
        if iei == IE_CONCAT_16 and len(data) == 4:
            return Concat(int.from_bytes(data[:2], "big"), data[2], data[3])
    return None


def _language(ies: list[tuple[int, bytes]]) -> int:
    for iei, data in ies:
        if iei == IE_NL_SINGLE_SHIFT and len(data) == 1:
            return data[0]
    return 0


def decode_text(data_coding: int, body: bytes, language: int = 0) -> str:
    """Text of an MO body by data_coding; raises ValueError (the reason) if it cannot be read."""
    if data_coding == 0x00 or (data_coding & 0xF4) == 0xF0:
        if any(b > 0x7F for b in body):
            return body.decode("latin-1")  # SMSCs that put Latin-1 under "SMSC default"
        return decode_gsm7(body, language)
    if data_coding == 0x01:
        return body.decode("ascii")
    if data_coding == 0x03:
        return body.decode("latin-1")
    if data_coding == 0x08:
        if len(body) % 2:
            raise ValueError(f"UCS-2 body has an odd length ({len(body)} octets)")
        return body.decode("utf-16-be")
    raise ValueError(f"data_coding 0x{data_coding:02x} is not a text coding we read")


# --- deliver_sm → fragment / receipt ------------------------------------------------------------


def inspect(pdu: Pdu, raw: bytes, *, receipt_id_radix: int | None = None) -> Fragment | Receipt | Undecodable:
    esm = pdu.int("esm_class")
    if esm & ESM_TYPE_MASK in RECEIPT_TYPES:
        return _receipt(pdu, raw, receipt_id_radix)
    message = pdu.octets("short_message") or pdu.tlvs.get(TAG_MESSAGE_PAYLOAD, b"")
    try:
        ies, body = split_udh(message) if esm & ESM_UDHI else ([], message)
        text = decode_text(pdu.int("data_coding"), body, _language(ies))
    except (ValueError, UnicodeDecodeError) as exc:
        return Undecodable(raw, f"deliver_sm text: {exc}")
    concat = _udh_concat(ies) or _sar_concat(pdu.tlvs)
    if concat is not None and not 1 <= concat.seq <= concat.total:
        return Undecodable(raw, f"concatenation part {concat.seq} of {concat.total}")
    return Fragment(
        pdu.text("source_addr"),
        pdu.int("source_addr_ton"),
        pdu.text("destination_addr"),
        pdu.int("data_coding"),
        text,
        concat,
    )


def _sar_concat(tlvs: Mapping[int, bytes]) -> Concat | None:
    ref = tlv_int(tlvs, TAG_SAR_MSG_REF_NUM)
    total = tlv_int(tlvs, TAG_SAR_TOTAL_SEGMENTS)
    seq = tlv_int(tlvs, TAG_SAR_SEGMENT_SEQNUM)
    if ref is None or total is None or seq is None:
        return None
    return Concat(ref, total, seq)


# `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…` (SMPP 3.4 appendix B); keys in any
# case, any order, text: last and free-form.
_RECEIPT_FIELD = re.compile(r"(id|sub|dlvrd|submit date|done date|stat|err):\s*(\S*)", re.IGNORECASE)


def parse_receipt_text(text: str) -> dict[str, str]:
    head = re.split(r"\btext:", text, maxsplit=1, flags=re.IGNORECASE)[0]
    return {key.lower(): value for key, value in _RECEIPT_FIELD.findall(head)}


def _receipt(pdu: Pdu, raw: bytes, radix: int | None) -> Receipt | Undecodable:
    fields: dict[str, str] = {}
    message = pdu.octets("short_message") or pdu.tlvs.get(TAG_MESSAGE_PAYLOAD, b"")
    if message:
        fields = parse_receipt_text(message.decode("latin-1"))
    message_id = tlv_cstr(pdu.tlvs, TAG_RECEIPTED_MESSAGE_ID) or fields.get("id")
    state_code = tlv_int(pdu.tlvs, TAG_MESSAGE_STATE)
    state = MESSAGE_STATES.get(state_code) if state_code is not None else None
    state = state or fields.get("stat", "").upper() or None
    if not message_id or not state:
        return Undecodable(raw, "delivery receipt without a message id or a state")
    error = fields.get("err")
    nec = pdu.tlvs.get(TAG_NETWORK_ERROR_CODE)
    if nec is not None and len(nec) == 3:
        error = f"{nec[0]}:{int.from_bytes(nec[1:], 'big')}"
    # A receipt id from the TLV is in the submit_sm_resp's base by definition; the text one may not be.
    from_tlv = tlv_cstr(pdu.tlvs, TAG_RECEIPTED_MESSAGE_ID) is not None
    return Receipt(
        normalise_id(message_id, None if from_tlv else radix),
        state,
        error if error and error != "000" else None,
        pdu.text("source_addr"),
    )
