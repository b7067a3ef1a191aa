"""MO decoding, receipts, message ids, concatenation and de-duplication: tables, malformed cases included."""

from __future__ import annotations

import pytest

from gateway_sms.pdus.codec import (
    TAG_MESSAGE_STATE,
    TAG_NETWORK_ERROR_CODE,
    TAG_RECEIPTED_MESSAGE_ID,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    Pdu,
    encode,
)
from gateway_sms.pdus.mo import (
    Concat,
    Fragment,
    Receipt,
    Undecodable,
    inspect,
    normalise_id,
    parse_receipt_text,
)
from gateway_sms.pdus.reassembly import Deduper, Reassembler
from gateway_sms.pdus.status import status


def deliver(message: bytes, *, dc: int = 0, esm: int = 0, tlvs: dict[int, bytes] | None = None) -> Pdu:
    return Pdu(
        "deliver_sm",
        1,
        params={
            "source_addr_ton": 1,
            "source_addr": "905321234567",
            "destination_addr": "4567",
            "esm_class": esm,
            "data_coding": dc,
            "short_message": message,
        },
        tlvs=tlvs or {},
    )


def look(pdu: Pdu) -> Fragment | Receipt | Undecodable:
    return inspect(pdu, encode(pdu))


# (description, short_message hex, data_coding, esm_class, text, concat)
MO_TEXT = [
    ("GSM 7 unpacked", b"TALEP 1234".hex(), 0, 0, "TALEP 1234", None),
    ("GSM 7 with @ and escape €", "00201b65", 0, 0, "@ €", None),
    ("IA5/ASCII", b"talep 42".hex(), 1, 0, "talep 42", None),
    ("Latin-1", "c7f6fc", 3, 0, "Çöü", None),
    ("UCS-2 Turkish", "talep işlendi".encode("utf-16-be").hex(), 8, 0, "talep işlendi", None),
    ("UCS-2 emoji pair", "👍".encode("utf-16-be").hex(), 8, 0, "👍", None),
    ("Latin-1 under data_coding 0", "c7", 0, 0, "Ç", None),
    ("GSM 7 class 0xF0", b"HI".hex(), 0xF0, 0, "HI", None),
    ("UDH 8-bit concat", "050003aa0201" + b"TALEP".hex(), 0, 0x40, "TALEP", Concat(0xAA, 2, 1)),
    ("UDH 16-bit concat", "06080412340302" + "0041", 8, 0x40, "A", Concat(0x1234, 3, 2)),
    ("Turkish shift UDH", "03240101" + "1b69", 0, 0x40, "ı", None),
    ("empty", "", 0, 0, "", None),
]


@pytest.mark.parametrize(("name", "sm", "dc", "esm", "text", "concat"), MO_TEXT, ids=[m[0] for m in MO_TEXT])
def test_mo_text(name: str, sm: str, dc: int, esm: int, text: str, concat: Concat | None) -> None:
    result = look(deliver(bytes.fromhex(sm), dc=dc, esm=esm))
    assert isinstance(result, Fragment)
    assert (result.text, result.concat, result.source_addr) == (text, concat, "905321234567")


def test_sar_concat_from_tlvs() -> None:
    tlvs = {
        TAG_SAR_MSG_REF_NUM: b"\x01\x02",
        TAG_SAR_TOTAL_SEGMENTS: b"\x02",
        TAG_SAR_SEGMENT_SEQNUM: b"\x02",
    }
    result = look(deliver(b"1234", tlvs=tlvs))
    assert isinstance(result, Fragment) and result.concat == Concat(0x0102, 2, 2)


# (description, short_message hex, data_coding, esm_class, words of the reason)
MO_BAD = [
    ("UCS-2 odd length", "004100", 8, 0, "odd length"),
    ("UCS-2 lone surrogate", "d83d", 8, 0, "utf-16"),
    ("ASCII with high octet", "c7", 1, 0, "ascii"),
    ("binary data_coding", "0102", 4, 0, "0x04"),
    ("UDHI on empty message", "", 0, 0x40, "empty"),
    ("UDH length past the end", "0900030102", 0, 0x40, "UDH length"),
    ("truncated IE", "0300050102", 0, 0x40, "truncated"),
    ("part 3 of 2", "050003010203" + "41", 0, 0x40, "part 3 of 2"),
]


@pytest.mark.parametrize(("name", "sm", "dc", "esm", "reason"), MO_BAD, ids=[m[0] for m in MO_BAD])
def test_mo_undecodable_keeps_raw_and_reason(name: str, sm: str, dc: int, esm: int, reason: str) -> None:
    pdu = deliver(bytes.fromhex(sm), dc=dc, esm=esm)
    result = look(pdu)
    assert isinstance(result, Undecodable)
    assert reason.lower() in result.reason.lower()
    assert result.raw == encode(pdu)


RECEIPT_TEXT = b"id:0000001234 sub:001 dlvrd:001 submit date:2611251800 done date:2611251801 stat:DELIVRD err:000 text:Talep"

# (description, short_message, tlvs, radix, receipt fields)
RECEIPTS = [
    ("text only", RECEIPT_TEXT, {}, None, ("1234", "DELIVRD", None)),
    ("text, decimal id to hex", RECEIPT_TEXT, {}, 10, ("4d2", "DELIVRD", None)),
    (
        "lower-case keys, error",
        b"ID:ab12 SUB:001 DLVRD:000 STAT:undeliv ERR:034",
        {},
        None,
        ("ab12", "UNDELIV", "034"),
    ),
    (
        "TLVs win",
        RECEIPT_TEXT,
        {TAG_RECEIPTED_MESSAGE_ID: b"00ff\x00", TAG_MESSAGE_STATE: b"\x03"},
        10,
        ("ff", "EXPIRED", None),
    ),
    (
        "TLVs only, network error",
        b"",
        {
            TAG_RECEIPTED_MESSAGE_ID: b"77\x00",
            TAG_MESSAGE_STATE: b"\x05",
            TAG_NETWORK_ERROR_CODE: b"\x03\x00\x0b",
        },
        None,
        ("77", "UNDELIV", "3:11"),
    ),
    (
        "text: part holds id-like words",
        b"id:9 stat:ACCEPTD err:0 text:id:5 stat:REJECTD",
        {},
        None,
        ("9", "ACCEPTD", "0"),
    ),
]


@pytest.mark.parametrize(("name", "sm", "tlvs", "radix", "want"), RECEIPTS, ids=[r[0] for r in RECEIPTS])
def test_receipts(
    name: str, sm: bytes, tlvs: dict[int, bytes], radix: int | None, want: tuple[str, ...]
) -> None:
    pdu = deliver(sm, esm=0x04, tlvs=tlvs)
    result = inspect(pdu, encode(pdu), receipt_id_radix=radix)
    assert isinstance(result, Receipt)
    assert (result.message_id, result.state, result.error) == want


@pytest.mark.parametrize("sm", [b"", b"sub:001 dlvrd:001", b"id:12 sub:1", b"\xff\xfe garbage"])
def test_receipt_without_id_or_state_is_undecodable(sm: bytes) -> None:
    assert isinstance(look(deliver(sm, esm=0x04)), Undecodable)


def test_intermediate_notification_is_a_receipt() -> None:
    assert isinstance(look(deliver(b"id:1 stat:ENROUTE", esm=0x20)), Receipt)


def test_parse_receipt_text_fields() -> None:
    assert parse_receipt_text(RECEIPT_TEXT.decode())["done date"] == "2611251801"


# (raw id, radix, normalised)
IDS = [
    ("0001A2B", None, "1a2b"),
    (" 42 ", None, "42"),
    ("000", None, "0"),
    ("", None, ""),
    ("255", 10, "ff"),
    ("ff", 16, "255"),
    ("not-a-number", 10, "not-a-number"),
]


@pytest.mark.parametrize(("raw", "radix", "want"), IDS)
def test_normalise_id(raw: str, radix: int | None, want: str) -> None:
    assert normalise_id(raw, radix) == want


def _part(seq: int, total: int, text: str, ref: int = 5, source: str = "905321234567") -> Fragment:
    return Fragment(source, 1, "4567", 0, text, Concat(ref, total, seq))


def test_reassembly_out_of_order_and_redelivered_part() -> None:
    r = Reassembler()
    assert r.add(_part(2, 3, "b"), 0.0) is None
    assert r.add(_part(2, 3, "b"), 1.0) is None  # redelivery of the same part
    assert r.add(_part(1, 3, "a"), 2.0) is None
    parts = r.add(_part(3, 3, "c"), 3.0)
    assert parts is not None and "".join(p.text for p in parts) == "abc"
    assert r.pending == 0


def test_reassembly_keeps_senders_and_refs_apart_and_expires() -> None:
    r = Reassembler(ttl_s=10)
    assert r.add(_part(1, 2, "x", ref=1), 0.0) is None
    assert r.add(_part(2, 2, "y", ref=2), 0.0) is None
    assert r.add(_part(2, 2, "z", ref=1, source="905559998877"), 0.0) is None
    assert r.pending == 3
    assert r.add(_part(1, 2, "q", ref=9), 11.0) is None  # the first three expired
    assert r.pending == 1


def test_single_fragment_passes_straight_through() -> None:
    f = Fragment("905321234567", 1, "4567", 0, "TALEP 1", None)
    assert Reassembler().add(f, 0.0) == [f]


def test_deduper_same_id_within_window_only_after_remember() -> None:
    d = Deduper(window_s=60)
    mo_id, seen = d.mo_id("k", 0.0)
    assert not seen
    assert d.mo_id("k", 1.0)[1] is False  # not published yet: a retry is not a duplicate
    d.remember("k", mo_id, 1.0)
    assert d.mo_id("k", 30.0) == (mo_id, True)
    assert d.mo_id("k", 62.0)[1] is False


# (code, name, kind)
STATUSES = [
    (0x00, "ESME_ROK", "ok"),
    (0x58, "ESME_RTHROTTLED", "throttle"),
    (0x14, "ESME_RMSGQFUL", "throttle"),
    (0x0B, "ESME_RINVDSTADR", "permanent"),
    (0x08, "ESME_RSYSERR", "temporary"),
    (0x64, "ESME_RX_T_APPN", "temporary"),
    (0x1400, "SMPP_0x00001400", "temporary"),
]


@pytest.mark.parametrize(("code", "name", "kind"), STATUSES)
def test_status_table(code: int, name: str, kind: str) -> None:
    s = status(code)
    assert (s.name, s.kind) == (name, kind)
