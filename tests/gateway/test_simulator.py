"""The simulator over real TCP, driven by a bare client built on our codec (not on the connector)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest

from gateway_sms.encoding import plan
from gateway_sms.pdus import status as st
from gateway_sms.pdus.codec import TAG_MESSAGE_STATE, TAG_RECEIPTED_MESSAGE_ID, Pdu, decode, encode
from gateway_sms.pdus.mo import Fragment, Receipt, inspect
from gateway_sms.simulator import Simulator

pytestmark = pytest.mark.timeout(30)


class RawEsme:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.seq = reader, writer, 0

    @classmethod
    async def connect(cls, sim: Simulator) -> RawEsme:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        return cls(reader, writer)

    def send(self, pdu: Pdu) -> int:
        if not pdu.sequence:
            self.seq += 1
            pdu.sequence = self.seq
        self.writer.write(encode(pdu))
        return pdu.sequence

    async def read(self) -> Pdu:
        head = await asyncio.wait_for(self.reader.readexactly(4), 5)
        (length,) = struct.unpack(">L", head)
        return decode(head + await self.reader.readexactly(length - 4))

    async def call(self, pdu: Pdu) -> Pdu:
        self.send(pdu)
        return await self.read()

    async def bind(self, password: str = "secret", kind: str = "bind_transceiver") -> Pdu:
        return await self.call(
            Pdu(kind, 0, params={"system_id": "muhtar", "password": password, "interface_version": 0x34})
        )

    def close(self) -> None:
        self.writer.close()


def submit(text: str, to: str = "905321234567", *, registered: int = 0) -> list[Pdu]:
    p = plan(text, "turkish_shift", ref=3)
    return [
        Pdu(
            "submit_sm",
            0,
            params={
                "source_addr_ton": 5,
                "source_addr": "MUHTAR",
                "dest_addr_ton": 1,
                "dest_addr_npi": 1,
                "destination_addr": to,
                "esm_class": part.esm_class,
                "registered_delivery": registered,
                "data_coding": p.data_coding,
                "short_message": part.short_message,
            },
        )
        for part in p.parts
    ]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    s = Simulator({"muhtar": "secret"}, dlr_delay_s=0.0)
    await s.start()
    yield s
    await s.stop()


@pytest.mark.parametrize(
    ("password", "kind", "status"),
    [
        ("secret", "bind_transceiver", st.ESME_ROK),
        ("secret", "bind_transmitter", st.ESME_ROK),
        ("secret", "bind_receiver", st.ESME_ROK),
        ("wrong", "bind_transceiver", st.ESME_RINVPASWD),
    ],
)
async def test_bind_checks_credentials(sim: Simulator, password: str, kind: str, status: int) -> None:
    esme = await RawEsme.connect(sim)
    resp = await esme.bind(password, kind)
    assert (resp.command, resp.status) == (kind + "_resp", status)
    esme.close()


async def test_submit_before_bind_is_refused(sim: Simulator) -> None:
    esme = await RawEsme.connect(sim)
    resp = await esme.call(submit("x")[0])
    assert (resp.command, resp.status) == ("submit_sm_resp", st.ESME_RINVBNDSTS)
    esme.close()


async def test_submit_records_reassembled_message_and_sends_receipt(sim: Simulator) -> None:
    esme = await RawEsme.connect(sim)
    await esme.bind()
    text = "Sayın muhtarımız, talebiniz sonuçlandı. " * 5
    ids: list[str] = []
    receipts: list[str] = []

    async def next_response() -> Pdu:
        while True:
            pdu = await esme.read()
            if pdu.command != "deliver_sm":
                return pdu
            result = inspect(pdu, b"")  # a receipt, possibly ahead of a later submit_sm_resp
            assert isinstance(result, Receipt)
            receipts.append(result.message_id)
            esme.send(Pdu("deliver_sm_resp", pdu.sequence))

    parts = submit(text, registered=1)
    assert len(parts) == 2
    for pdu in parts:
        esme.send(pdu)
        resp = await next_response()
        assert resp.command == "submit_sm_resp" and resp.status == 0
        ids.append(resp.text("message_id"))
    await sim.wait_until(lambda: len(sim.messages) == 1)
    message = sim.messages[0]
    assert (message.text, message.destination_addr, message.message_ids) == (text, "905321234567", ids)
    while len(receipts) < len(ids):
        esme.send(Pdu("enquire_link", 0))
        assert (await next_response()).command == "enquire_link_resp"
    assert sorted(receipts) == sorted(i.lstrip("0").lower() for i in ids)
    esme.close()


async def test_receipt_tlvs(sim: Simulator) -> None:
    esme = await RawEsme.connect(sim)
    await esme.bind()
    resp = await esme.call(submit("x", registered=1)[0])
    receipt = await esme.read()
    assert receipt.int("esm_class") == 0x04
    assert receipt.tlvs[TAG_RECEIPTED_MESSAGE_ID] == resp.text("message_id").encode() + b"\x00"
    assert receipt.tlvs[TAG_MESSAGE_STATE] == b"\x02"
    esme.close()


@pytest.mark.parametrize(
    ("fault", "command", "status"),
    [
        ("throttle_next", "submit_sm_resp", st.ESME_RTHROTTLED),
        ("queue_full_next", "submit_sm_resp", st.ESME_RMSGQFUL),
        ("nack_next", "generic_nack", st.ESME_RSYSERR),
    ],
)
async def test_faults_answer_once(sim: Simulator, fault: str, command: str, status: int) -> None:
    esme = await RawEsme.connect(sim)
    await esme.bind()
    setattr(sim.faults, fault, 1)
    first = await esme.call(submit("a")[0])
    second = await esme.call(submit("b")[0])
    assert (first.command, first.status) == (command, status)
    assert (second.command, second.status) == ("submit_sm_resp", st.ESME_ROK)
    assert [m.text for m in sim.messages] == ["b"]
    esme.close()


async def test_permanent_failure_for_a_destination(sim: Simulator) -> None:
    esme = await RawEsme.connect(sim)
    await esme.bind()
    sim.faults.fail_destinations["905000000000"] = st.ESME_RINVDSTADR
    resp = await esme.call(submit("a", to="905000000000")[0])
    assert resp.status == st.ESME_RINVDSTADR
    esme.close()


async def test_silent_then_answers_again(sim: Simulator) -> None:
    esme = await RawEsme.connect(sim)
    await esme.bind()
    sim.faults.silent = True
    esme.send(submit("lost")[0])
    await sim.wait_until(lambda: sim.unanswered == 1)
    sim.faults.silent = False
    resp = await esme.call(Pdu("enquire_link", 0))
    assert resp.command == "enquire_link_resp"  # the silent submit got nothing
    esme.close()


async def test_drop_after_cuts_tcp(sim: Simulator) -> None:
    esme = await RawEsme.connect(sim)
    await esme.bind()
    sim.faults.drop_after = 1
    assert (await esme.call(submit("one")[0])).status == 0
    esme.send(submit("two")[0])
    with pytest.raises(asyncio.IncompleteReadError):
        await esme.read()
    assert [m.text for m in sim.messages] == ["one"]


async def test_unbind_from_smsc(sim: Simulator) -> None:
    esme = await RawEsme.connect(sim)
    await esme.bind()
    task = asyncio.ensure_future(sim.unbind_all())
    pdu = await esme.read()
    assert pdu.command == "unbind"
    esme.send(Pdu("unbind_resp", pdu.sequence))
    await task
    assert await esme.reader.read() == b""


async def test_unbind_from_esme_and_enquire_link(sim: Simulator) -> None:
    esme = await RawEsme.connect(sim)
    await esme.bind()
    assert (await esme.call(Pdu("enquire_link", 0))).command == "enquire_link_resp"
    assert (await esme.call(Pdu("unbind", 0))).command == "unbind_resp"


async def test_inject_mo_concatenated(sim: Simulator) -> None:
    esme = await RawEsme.connect(sim)
    await esme.bind()
    text = "TALEP 1234 " + "ğ" * 80
    task = asyncio.ensure_future(sim.inject_mo("905321234567", "4567", text))
    got = []
    for _ in range(2):
        pdu = await esme.read()
        got.append(inspect(pdu, b""))
        esme.send(Pdu("deliver_sm_resp", pdu.sequence))
    assert await task == (0, 0)
    assert all(isinstance(g, Fragment) for g in got)
    assert "".join(g.text for g in got if isinstance(g, Fragment)) == text
    assert sim.mo[0].statuses == (0, 0)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (bytes.fromhex("00000010 00000099 00000000 00000004"), st.ESME_RINVCMDID),
        (bytes.fromhex("00000012 00000004 00000000 00000004 0005"), st.ESME_RINVCMDLEN),
    ],
)
async def test_unreadable_pdu_gets_generic_nack(sim: Simulator, raw: bytes, status: int) -> None:
    esme = await RawEsme.connect(sim)
    esme.writer.write(raw)
    resp = await esme.read()
    assert (resp.command, resp.status, resp.sequence) == ("generic_nack", status, 4)
    esme.close()
