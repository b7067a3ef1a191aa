"""A small SMPP 3.4 PDU codec: bytes <-> ``Pdu``, driven by a table of each command's mandatory fields.

Used by the simulator (both directions) and by the connector to parse what the SMSC sends, so that a
malformed PDU becomes a ``PduError`` with a reason (and the raw bytes stay with the caller) instead of an
exception from deep inside a library. Unknown TLVs are kept as raw bytes, never an error.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

HEADER = struct.Struct(">LLLL")
HEADER_LEN = 16
MAX_PDU_LEN = 64 * 1024  # far above any legal PDU; bounds what a broken peer can make us buffer

FieldKind = Literal["cstr", "u8", "sm"]  # "sm" = sm_length (u8) followed by that many octets

_BIND: tuple[tuple[str, FieldKind], ...] = (
    ("system_id", "cstr"),
    ("password", "cstr"),
    ("system_type", "cstr"),
    ("interface_version", "u8"),
    ("addr_ton", "u8"),
    ("addr_npi", "u8"),
    ("address_range", "cstr"),
)
_SM: tuple[tuple[str, FieldKind], ...] = (
    ("service_type", "cstr"),
    ("source_addr_ton", "u8"),
    ("source_addr_npi", "u8"),
    ("source_addr", "cstr"),
    ("dest_addr_ton", "u8"),
    ("dest_addr_npi", "u8"),
    ("destination_addr", "cstr"),
    ("esm_class", "u8"),
    ("protocol_id", "u8"),
    ("priority_flag", "u8"),
    ("schedule_delivery_time", "cstr"),
    ("validity_period", "cstr"),
    ("registered_delivery", "u8"),
    ("replace_if_present_flag", "u8"),
    ("data_coding", "u8"),
    ("sm_default_msg_id", "u8"),
    ("short_message", "sm"),
)
_ID: tuple[tuple[str, FieldKind], ...] = (("system_id", "cstr"),)
_MSG_ID: tuple[tuple[str, FieldKind], ...] = (("message_id", "cstr"),)


@dataclass(frozen=True)
class Command:
    id: int
    name: str
    fields: tuple[tuple[str, FieldKind], ...] = ()


COMMANDS: tuple[Command, ...] = (
    Command(0x80000000, "generic_nack"),
    Command(0x00000001, "bind_receiver", _BIND),
    Command(0x80000001, "bind_receiver_resp", _ID),
    Command(0x00000002, "bind_transmitter", _BIND),
    Command(0x80000002, "bind_transmitter_resp", _ID),
    Command(0x00000004, "submit_sm", _SM),
    Command(0x80000004, "submit_sm_resp", _MSG_ID),
    Command(0x00000005, "deliver_sm", _SM),
    Command(0x80000005, "deliver_sm_resp", _MSG_ID),
    Command(0x00000006, "unbind"),
    Command(0x80000006, "unbind_resp"),
    Command(0x00000009, "bind_transceiver", _BIND),
    Command(0x80000009, "bind_transceiver_resp", _ID),
    Command(0x00000015, "enquire_link"),
    Command(0x80000015, "enquire_link_resp"),
)
BY_ID: Mapping[int, Command] = {c.id: c for c in COMMANDS}
BY_NAME: Mapping[str, Command] = {c.name: c for c in COMMANDS}

# TLV tags we read or write (SMPP 3.4 section 5.3.2).
TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_SAR_MSG_REF_NUM = 0x020C
TAG_SAR_TOTAL_SEGMENTS = 0x020E
TAG_SAR_SEGMENT_SEQNUM = 0x020F
TAG_SC_INTERFACE_VERSION = 0x0210
TAG_NETWORK_ERROR_CODE = 0x0423
TAG_MESSAGE_PAYLOAD = 0x0424
TAG_MESSAGE_STATE = 0x0427


class PduError(ValueError):
    """The bytes are not a PDU we can read; ``str()`` is the reason, in English."""


@dataclass
class Pdu:
    command: str
    sequence: int
    status: int = 0
    params: dict[str, int | str | bytes] = field(default_factory=dict)
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def text(self, name: str) -> str:
        value = self.params.get(name, "")
        return value if isinstance(value, str) else ""

    def int(self, name: str) -> int:
        value = self.params.get(name, 0)
        return value if isinstance(value, int) else 0

    def octets(self, name: str) -> bytes:
        value = self.params.get(name, b"")
        return value if isinstance(value, bytes) else b""


def command_id(name: str) -> int:
    return BY_NAME[name].id


def response_name(request: str) -> str:
    return request + "_resp"


# --- encoding ----------------------------------------------------------------------------------


def encode(pdu: Pdu) -> bytes:
    cmd = BY_NAME[pdu.command]
    body = bytearray()
    # An error response to submit_sm/bind may carry no body (SMPP 3.4 section 4.4.2).
    if not (pdu.status and cmd.id & 0x80000000 and not pdu.params):
        for name, kind in cmd.fields:
            body += _encode_field(kind, pdu.params.get(name))
    for tag, value in pdu.tlvs.items():
        body += struct.pack(">HH", tag, len(value)) + value
    return HEADER.pack(HEADER_LEN + len(body), cmd.id, pdu.status, pdu.sequence) + bytes(body)


def _encode_field(kind: FieldKind, value: int | str | bytes | None) -> bytes:
    if kind == "u8":
        return bytes((int(value or 0) & 0xFF,))
    if kind == "cstr":
        text = value if isinstance(value, str) else ""
        return text.encode("latin-1") + b"\x00"
    data = value if isinstance(value, bytes) else b""
    if len(data) > 254:
        raise PduError("short_message longer than 254 octets; use message_payload")
    return bytes((len(data),)) + data


# --- decoding ----------------------------------------------------------------------------------


def peek_header(raw: bytes) -> tuple[int, int, int, int]:
    """(length, command_id, status, sequence) of a PDU; raises PduError if fewer than 16 octets."""
    if len(raw) < HEADER_LEN:
        raise PduError(f"PDU of {len(raw)} octets is shorter than its 16-octet header")
    length, cid, status, seq = HEADER.unpack_from(raw)
    return length, cid, status, seq


def decode(raw: bytes) -> Pdu:
    """Parse one whole PDU; raises ``PduError`` with the reason."""
    length, cid, status, seq = peek_header(raw)
    if length != len(raw):
        raise PduError(f"command_length {length} but {len(raw)} octets")
    cmd = BY_ID.get(cid)
    if cmd is None:
        raise PduError(f"unknown command_id 0x{cid:08x}")
    pdu = Pdu(cmd.name, seq, status)
    pos = HEADER_LEN
    if pos == len(raw):
        return pdu  # empty body: legal for the body-less commands and for error responses
    for name, kind in cmd.fields:
        pdu.params[name], pos = _decode_field(kind, raw, pos, name)
    pdu.tlvs = _decode_tlvs(raw, pos)
    return pdu


def _decode_field(kind: FieldKind, raw: bytes, pos: int, name: str) -> tuple[int | str | bytes, int]:
    if pos >= len(raw):
        raise PduError(f"PDU ends before field {name}")
    if kind == "u8":
        return raw[pos], pos + 1
    if kind == "cstr":
        end = raw.find(b"\x00", pos)
        if end < 0:
            raise PduError(f"field {name} is not NUL-terminated")
        return raw[pos:end].decode("latin-1"), end + 1
    size = raw[pos]
    if pos + 1 + size > len(raw):
        raise PduError(f"sm_length {size} runs past the end of the PDU")
    return raw[pos + 1 : pos + 1 + size], pos + 1 + size


def _decode_tlvs(raw: bytes, pos: int) -> dict[int, bytes]:
    tlvs: dict[int, bytes] = {}
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise PduError(f"truncated TLV header at octet {pos}")
        tag, size = struct.unpack_from(">HH", raw, pos)
        if pos + 4 + size > len(raw):
            raise PduError(f"TLV 0x{tag:04x} of length {size} runs past the end of the PDU")
        tlvs[tag] = raw[pos + 4 : pos + 4 + size]
        pos += 4 + size
    return tlvs


def tlv_int(tlvs: Mapping[int, bytes], tag: int) -> int | None:
    value = tlvs.get(tag)
    return int.from_bytes(value, "big") if value else None


def tlv_cstr(tlvs: Mapping[int, bytes], tag: int) -> str | None:
    value = tlvs.get(tag)
    if value is None:
        return None
    return value.split(b"\x00", 1)[0].decode("latin-1")


def int_tlv(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def cstr_tlv(value: str) -> bytes:
    return value.encode("latin-1") + b"\x00"
