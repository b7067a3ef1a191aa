"""The real connector (smpplib in its thread) against the simulator over TCP: normal use and faults."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import replace

import pytest

from gateway_sms.connector import Connector
from gateway_sms.encoding import segments
from gateway_sms.pdus import status as st
from gateway_sms.pdus.codec import Pdu
from gateway_sms.simulator import Simulator
from tests.gateway.conftest import ConnectorFactory, RecordingHandler, fast_config

pytestmark = pytest.mark.timeout(60)

PHONE = "+905321234567"
LONG_TR = "Sayın muhtarımız, 1234 numaralı talebiniz sonuçlandı. Ayrıntılar için lütfen giriş yapınız. " * 3


async def test_send_long_turkish_sms(sim: Simulator, make_connector: ConnectorFactory) -> None:
    connector, _ = await make_connector()
    results = await connector.send("sms-1", PHONE, LONG_TR)
    count = segments(LONG_TR, "turkish_shift")
    assert count == 3 and len(results) == count
    assert all(r.ok and r.smpp_status == "ESME_ROK" for r in results)
    assert [(r.index, r.count) for r in results] == [(1, 3), (2, 3), (3, 3)]
    await sim.wait_until(lambda: len(sim.messages) == 1)
    message = sim.messages[0]
    assert (message.text, message.destination_addr, message.source_addr) == (
        LONG_TR,
        "905321234567",
        "MUHTAR",
    )
    assert sorted(message.message_ids) == sorted(r.message_id for r in results if r.message_id)
    assert {p.esm_class for p in sim.parts} == {0x40}


async def test_permanent_failure_is_not_retried(sim: Simulator, make_connector: ConnectorFactory) -> None:
    connector, _ = await make_connector()
    sim.faults.fail_destinations["905321234567"] = st.ESME_RINVDSTADR
    [result] = await connector.send("sms-2", PHONE, "TALEP 1")
    assert (result.ok, result.smpp_status) == (False, "ESME_RINVDSTADR")
    assert connector.stats["submitted"] == 1


@pytest.mark.parametrize("to", ["12345", "+90532", "not a number"])
async def test_invalid_number_fails_without_submit(
    sim: Simulator, make_connector: ConnectorFactory, to: str
) -> None:
    connector, _ = await make_connector()
    [result] = await connector.send("sms-3", to, "x")
    assert (result.ok, result.smpp_status) == (False, "ESME_RINVDSTADR")
    assert connector.stats["submitted"] == 0


async def test_throttled_smsc_pauses_then_everything_goes(
    sim: Simulator, make_connector: ConnectorFactory
) -> None:
    connector, _ = await make_connector(window=5)
    sim.faults.throttle_next = 7
    sim.faults.queue_full_next = 3
    results = await asyncio.gather(*(connector.send(f"t{i}", PHONE, f"mesaj {i}") for i in range(30)))
    assert all(r.ok for rs in results for r in rs)
    assert connector.stats["throttled"] == 10
    assert sorted(m.text for m in sim.messages) == sorted(f"mesaj {i}" for i in range(30))


async def test_generic_nack_is_retried(sim: Simulator, make_connector: ConnectorFactory) -> None:
    connector, _ = await make_connector()
    sim.faults.nack_next = 2
    [result] = await connector.send("sms-4", PHONE, "merhaba")
    assert result.ok and connector.stats["temporary"] == 2


async def test_silent_smsc_times_out_and_resends(sim: Simulator, make_connector: ConnectorFactory) -> None:
    connector, _ = await make_connector(response_timeout_s=0.3)
    sim.faults.silent = True
    task = asyncio.ensure_future(connector.send("sms-5", PHONE, "sessizlik"))
    await sim.wait_until(lambda: sim.unanswered >= 2)
    sim.faults.silent = False
    [result] = await task
    assert result.ok
    assert connector.stats["timeouts"] >= 2
    assert [m.text for m in sim.messages] == ["sessizlik"]


async def test_unbind_from_smsc_reconnects(sim: Simulator, make_connector: ConnectorFactory) -> None:
    connector, _ = await make_connector()
    await sim.unbind_all()
    await sim.wait_until(lambda: sim.binds == 2)
    await connector.wait_bound()
    [result] = await connector.send("sms-6", PHONE, "tekrar bağlandı")
    assert result.ok


async def test_tcp_drop_mid_burst_loses_nothing(sim: Simulator, make_connector: ConnectorFactory) -> None:
    window = 10
    connector, _ = await make_connector(window=window)
    sim.faults.drop_after = 2000
    count = 5000
    results = await asyncio.gather(*(connector.send(f"b{i}", PHONE, f"burst {i}") for i in range(count)))
    assert all(r.ok for rs in results for r in rs)
    assert sim.binds >= 2
    seen = Counter(m.text for m in sim.messages)
    assert set(seen) == {f"burst {i}" for i in range(count)}  # every message submitted at least once
    duplicates = sum(n - 1 for n in seen.values())
    assert duplicates <= window


async def test_bad_password_keeps_retrying_until_it_works(sim: Simulator) -> None:
    sim.accounts["muhtar"] = "other"
    connector = Connector(fast_config(sim.port), RecordingHandler())
    await connector.start()
    try:
        await sim.wait_until(lambda: connector.link.attempts >= 3)
        assert not connector.bound
        sim.accounts["muhtar"] = "secret"
        await connector.wait_bound(10)
        [result] = await connector.send("sms-7", PHONE, "ok")
        assert result.ok
    finally:
        await connector.stop()


async def test_pair_bind_mode_sends_and_receives(sim: Simulator, make_connector: ConnectorFactory) -> None:
    connector, handler = await make_connector(bind_mode="pair")
    assert sim.binds == 2
    [result] = await connector.send("sms-8", PHONE, "çift bağlantı")
    assert result.ok
    assert await sim.inject_mo("905321234567", "4567", "TALEP 1234") == (0,)
    await sim.wait_until(lambda: len(handler.mos) == 1)


async def test_receipts_reach_the_handler_with_the_submit_ids(
    sim: Simulator, make_connector: ConnectorFactory
) -> None:
    connector, handler = await make_connector()
    results = await connector.send("sms-9", PHONE, LONG_TR)
    await sim.wait_until(lambda: len(handler.receipts) == len(results))
    ids = {r.message_id.lstrip("0").lower() for r in results if r.message_id}
    assert {r.message_id for r in handler.receipts} == ids
    assert {r.state for r in handler.receipts} == {"DELIVRD"}


async def test_decimal_receipt_ids_are_normalised(sim: Simulator, make_connector: ConnectorFactory) -> None:
    sim.receipt_ids_decimal, sim.receipt_tlvs = True, False
    connector, handler = await make_connector(receipt_id_radix=10)
    [result] = await connector.send("sms-10", PHONE, "x")
    await sim.wait_until(lambda: len(handler.receipts) == 1)
    assert result.message_id is not None
    assert handler.receipts[0].message_id == result.message_id.lstrip("0").lower()


async def test_mo_published_then_acknowledged(sim: Simulator, make_connector: ConnectorFactory) -> None:
    _, handler = await make_connector()
    text = "TALEP 1234 " + "durumu nedir? ğüşıöç " * 8
    statuses = await sim.inject_mo("905321234567", "4567", text, mode="ucs2_only")
    assert len(statuses) > 1 and set(statuses) == {st.ESME_ROK}
    [mo] = handler.mos
    assert (mo.text, mo.source_addr, mo.data_coding) == (text, "905321234567", 8)


async def test_mo_publish_failure_asks_for_redelivery_then_dedupes(
    sim: Simulator, make_connector: ConnectorFactory
) -> None:
    _, handler = await make_connector()
    handler.fail_next = 1
    assert await sim.inject_mo("905321234567", "4567", "TALEP 77") == (st.ESME_RX_T_APPN,)
    assert handler.mos == []
    assert await sim.inject_mo("905321234567", "4567", "TALEP 77") == (st.ESME_ROK,)  # SMSC redelivers
    assert await sim.inject_mo("905321234567", "4567", "TALEP 77") == (st.ESME_ROK,)  # our resp was lost
    assert [m.text for m in handler.mos] == ["TALEP 77"]


async def test_concatenated_mo_publish_failure_on_last_part(
    sim: Simulator, make_connector: ConnectorFactory
) -> None:
    _, handler = await make_connector()
    handler.fail_next = 1
    text = "a" * 200
    assert await sim.inject_mo("905321234567", "4567", text, concat="sar") == (0, st.ESME_RX_T_APPN)
    assert await sim.inject_mo("905321234567", "4567", text, concat="sar") == (0, 0)
    assert [m.text for m in handler.mos] == [text]


@pytest.mark.parametrize(
    ("short_message", "data_coding", "reason"),
    [(b"\x00\x41\x00", 8, "odd length"), (b"\xff", 1, "ascii")],
)
async def test_undecodable_mo_is_kept_and_answered(
    sim: Simulator, make_connector: ConnectorFactory, short_message: bytes, data_coding: int, reason: str
) -> None:
    _, handler = await make_connector()
    pdu = Pdu(
        "deliver_sm",
        0,
        params={
            "source_addr": "905321234567",
            "destination_addr": "4567",
            "data_coding": data_coding,
            "short_message": short_message,
        },
    )
    assert await sim.deliver_raw(pdu) == st.ESME_ROK
    await sim.wait_until(lambda: len(handler.undecodables) == 1)
    assert reason in handler.undecodables[0].reason.lower()
    assert short_message in handler.undecodables[0].raw
    [result] = await (await make_connector())[0].send("after", PHONE, "hâlâ çalışıyor")
    assert result.ok


async def test_drain_and_stop_unbinds(sim: Simulator, make_connector: ConnectorFactory) -> None:
    connector, _ = await make_connector()
    await asyncio.gather(*(connector.send(f"d{i}", PHONE, "x") for i in range(20)))
    assert await connector.drain(5)
    await connector.stop()
    await sim.wait_until(lambda: sim.bound_sessions == 0)


async def test_tps_limited_connector_sends_everything(
    sim: Simulator, make_connector: ConnectorFactory
) -> None:
    connector, _ = await make_connector(tps=400.0)
    results = await asyncio.gather(*(connector.send(f"r{i}", PHONE, f"hız {i}") for i in range(40)))
    assert all(r.ok for rs in results for r in rs)
    assert len(sim.messages) == 40


async def test_password_never_logged_even_at_debug(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sim.accounts["muhtar"] = "s3cr3tPW"
    config = fast_config(sim.port)
    config = replace(config, link=replace(config.link, password="s3cr3tPW"))
    connector = Connector(config, RecordingHandler())
    await connector.start()
    try:
        await connector.wait_bound(10)
        [result] = await connector.send("sms-pw", PHONE, "x")
        assert result.ok
    finally:
        await connector.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ">> submit_sm" in logged  # PDUs are logged in hex at debug level...
    assert "s3cr3tPW" not in logged and b"s3cr3tPW".hex() not in logged  # ...but never the bind
    assert "s3cr3tPW" not in repr(config)


async def test_enquire_link_keeps_an_idle_link_and_a_mute_smsc_is_left(
    sim: Simulator, make_connector: ConnectorFactory
) -> None:
    connector, _ = await make_connector(enquire_link_s=0.1, response_timeout_s=0.5)
    await sim.wait_until(lambda: sim.enquire_links >= 3)
    assert sim.binds == 1  # answered keep-alives: the link stays
    sim.faults.mute_enquire_link = True
    await sim.wait_until(lambda: sim.binds >= 2)  # unanswered keep-alive: reconnect and rebind
    sim.faults.mute_enquire_link = False
    await connector.wait_bound()
    [result] = await connector.send("sms-el", PHONE, "canlı")
    assert result.ok


async def test_text_too_long_for_any_smsc_fails_for_good(
    sim: Simulator, make_connector: ConnectorFactory
) -> None:
    connector, _ = await make_connector()
    [result] = await connector.send("sms-huge", PHONE, "😀" * (256 * 33))  # 256 UCS-2 parts
    assert (result.ok, result.smpp_status) == (False, "ESME_RINVMSGLEN")
    assert result.error is not None and "255" in result.error
    assert connector.stats["submitted"] == 0
