"""The PDU codec against byte strings written by hand from the SMPP 3.4 specification's layouts."""

from __future__ import annotations

from typing import Any

import pytest
import smpplib.client
import smpplib.smpp

from gateway_sms.link import _Bind
from gateway_sms.pdus.codec import (
    TAG_MESSAGE_STATE,
    TAG_RECEIPTED_MESSAGE_ID,
    Pdu,
    PduError,
    decode,
    encode,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def sized(text: str) -> bytes:
    """A PDU whose command_length is set right, so the body's own fault is what gets reported."""
    raw = h(text)
    return len(raw).to_bytes(4, "big") + raw[4:]


# (description, bytes written by hand, the PDU they are)
VECTORS = [
    ("enquire_link", h("00000010 00000015 00000000 00000001"), Pdu("enquire_link", 1)),
    ("enquire_link_resp", h("00000010 80000015 00000000 00000001"), Pdu("enquire_link_resp", 1)),
    ("unbind", h("00000010 00000006 00000000 0000000a"), Pdu("unbind", 10)),
    ("generic_nack", h("00000010 80000000 00000003 00000005"), Pdu("generic_nack", 5, 3)),
    (
        "bind_transmitter",
        h(
            "0000002f 00000002 00000000 00000001"
            "534d50503354455354 00"  # system_id "SMPP3TEST"
            "7365637265743038 00"  # password "secret08"
            "5355424d495431 00"  # system_type "SUBMIT1"
            "34 01 01 00"  # interface_version 3.4, addr_ton, addr_npi, address_range ""
        ),
        Pdu(
            "bind_transmitter",
            1,
            params={
                "system_id": "SMPP3TEST",
                "password": "secret08",
                "system_type": "SUBMIT1",
                "interface_version": 0x34,
                "addr_ton": 1,
                "addr_npi": 1,
                "address_range": "",
            },
        ),
    ),
    (
        "bind_transceiver_resp",
        h("00000015 80000009 00000000 00000001 534d534300"),
        Pdu("bind_transceiver_resp", 1, params={"system_id": "SMSC"}),
    ),
    (
        "submit_sm",
        h(
            "00000038 00000004 00000000 00000002"
            "00"  # service_type ""
            "05 00 4d554854415200"  # source TON 5 (alphanumeric), NPI 0, "MUHTAR"
            "01 01 39303533323132333435363700"  # dest TON 1, NPI 1 (E.164), "905321234567"
            "00 00 00 00 00 01 00 00 00"  # esm, pid, priority, 2 empty times, registered_delivery 1, ...
            "05 48656c6c6f"  # sm_length 5, "Hello"
        ),
        Pdu(
            "submit_sm",
            2,
            params={
                "service_type": "",
                "source_addr_ton": 5,
                "source_addr_npi": 0,
                "source_addr": "MUHTAR",
                "dest_addr_ton": 1,
                "dest_addr_npi": 1,
                "destination_addr": "905321234567",
                "esm_class": 0,
                "protocol_id": 0,
                "priority_flag": 0,
                "schedule_delivery_time": "",
                "validity_period": "",
                "registered_delivery": 1,
                "replace_if_present_flag": 0,
                "data_coding": 0,
                "sm_default_msg_id": 0,
                "short_message": b"Hello",
            },
        ),
    ),
    (
        "submit_sm_resp",
        h("00000015 80000004 00000000 00000002 3161326200"),
        Pdu("submit_sm_resp", 2, params={"message_id": "1a2b"}),
    ),
    (
        "submit_sm_resp throttled, no body",
        h("00000010 80000004 00000058 00000007"),
        Pdu("submit_sm_resp", 7, 0x58),
    ),
]


@pytest.mark.parametrize(("name", "raw", "pdu"), VECTORS, ids=[v[0] for v in VECTORS])
def test_encode_matches_spec_bytes(name: str, raw: bytes, pdu: Pdu) -> None:
    assert encode(pdu) == raw


@pytest.mark.parametrize(("name", "raw", "pdu"), VECTORS, ids=[v[0] for v in VECTORS])
def test_decode_spec_bytes(name: str, raw: bytes, pdu: Pdu) -> None:
    assert decode(raw) == pdu


def test_tlvs_round_trip_and_unknown_tags_kept() -> None:
    raw = h(
        "00000010 00000005 00000000 00000003"  # header, length patched below
        "00 01 01 39303533323132333435363700"  # service_type, source TON/NPI "905321234567"
        "00 00 00"  # destination TON, NPI, ""
        "04 00 00 00 00 00 00 00 00 00"  # esm_class 0x04 = receipt, ..., sm_length 0
        "001e 0005 6162633100"  # receipted_message_id "abc1"
        "0427 0001 02"  # message_state DELIVERED
        "1401 0002 beef"  # a vendor TLV
    )
    raw = sized(raw.hex())
    pdu = decode(raw)
    assert pdu.tlvs[TAG_RECEIPTED_MESSAGE_ID] == b"abc1\x00"
    assert pdu.tlvs[TAG_MESSAGE_STATE] == b"\x02"
    assert pdu.tlvs[0x1401] == b"\xbe\xef"
    assert encode(pdu) == raw


# (description, bytes, words of the reason)
MALFORMED = [
    ("short header", h("00000010 000000"), "shorter than"),
    ("length mismatch", h("00000020 00000015 00000000 00000001"), "command_length"),
    ("unknown command", h("00000010 00000099 00000000 00000001"), "unknown command_id"),
    ("unterminated string", h("00000014 80000004 00000000 00000001 31323334"), "NUL"),
    ("body ends early", h("00000012 00000004 00000000 00000001 0005"), "ends before"),
    (
        "sm_length overrun",
        sized(
            "00000000 00000004 00000000 00000001 00 05 00 4100 01 01 4200 00 00 00 00 00 00 00 00 00 ff 4142434445"
        ),
        "sm_length",
    ),
    ("truncated TLV", sized("00000000 80000004 00000000 00000001 3100 0427 00"), "truncated TLV"),
    ("TLV overrun", sized("00000000 80000004 00000000 00000001 3100 0427 0009 01"), "runs past"),
]


@pytest.mark.parametrize(("name", "raw", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_pdus_raise_pdu_error_with_reason(name: str, raw: bytes, reason: str) -> None:
    with pytest.raises(PduError, match=reason):
        decode(raw)


@pytest.mark.parametrize(
    "extra",
    [
        {"esm_class": 0, "data_coding": 0, "short_message": b"Merhaba"},
        {
            "esm_class": 0x40,
            "data_coding": 8,
            "short_message": b"\x05\x00\x03\x2a\x02\x01" + "ğü".encode("utf-16-be"),
        },
        {
            "esm_class": 0,
            "data_coding": 0,
            "short_message": b"part",
            "sar_msg_ref_num": 0x1234,
            "sar_total_segments": 3,
            "sar_segment_seqnum": 2,
        },
    ],
)
def test_the_links_own_submit_sm_says_what_smpplibs_does(extra: dict[str, Any]) -> None:
    """The link builds submit_sm itself (speed); the SMSC must see the same PDU smpplib would send."""
    params: dict[str, Any] = {
        "source_addr_ton": 5,
        "source_addr_npi": 0,
        "source_addr": "MUHTAR",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": "905321234567",
        "registered_delivery": 1,
        **extra,
    }
    client = smpplib.client.Client("127.0.0.1", 1, allow_unknown_opt_params=True)
    bind = _Bind(client, can_send=True)
    sequence = bind.send_submit(params)
    ours = bytes(bind._out)
    theirs = smpplib.smpp.make_pdu("submit_sm", client=client, sequence=sequence, **params).generate()
    assert decode(ours) == decode(theirs)
    if "sar_msg_ref_num" not in extra:
        assert ours == theirs
