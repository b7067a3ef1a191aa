"""SMS records on SQLite and PostgreSQL: queue_sms with its outbox row, MOs once per mo_id, status and receipts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.orm import outbox
from workflow.messaging.bus import Reject
from workflow.messaging.envelope import SCHEMAS, Envelope, check_payload
from workflow.messaging.idempotency import first_time
from workflow.messaging.sms_receipts import (
    count_pending_receipts,
    derive_state,
    purge_pending_receipts,
    record_status,
    record_statuses,
    status_batch_handler,
)
from workflow.messaging.sms_store import queue_sms, record_mo, sms_messages, sms_parts, sms_pending_receipts

pytestmark = pytest.mark.integration

PHONE = "+905321234567"
AT = "2026-11-25T10:00:00+00:00"


async def new_sms(engine: AsyncEngine) -> str:
    async with engine.begin() as conn:
        return await queue_sms(conn, PHONE, "Merhaba", "notice")


async def test_queue_sms_writes_the_row_and_its_outbox_message_together(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        sms_id = await queue_sms(conn, PHONE, "Talebiniz alındı", "confirmation")
    async with engine.connect() as conn:
        sms = (await conn.execute(select(sms_messages))).mappings().one()
        row = (await conn.execute(select(outbox))).mappings().one()
    assert (sms["id"], sms["state"], sms["direction"], sms["purpose"]) == (
        sms_id,
        "queued",
        "out",
        "confirmation",
    )
    assert (row["topic"], row["schema"], row["schema_version"], row["ordering_key"]) == (
        "sms.outbound",
        "sms.outbound",
        1,
        sms_id,
    )
    payload = json.loads(row["payload"])
    assert payload == {"sms_id": sms_id, "to": PHONE, "text": "Talebiniz alındı"}
    check_payload(SCHEMAS[("sms.outbound", 1)], payload, "sms.outbound v1")  # what the gateway will accept


async def test_queue_sms_rolls_back_with_the_callers_transaction(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await queue_sms(conn, PHONE, "x", "otp")
            raise RuntimeError("the caller's change failed")
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(sms_messages))).scalar_one() == 0
        assert (await conn.execute(select(func.count()).select_from(outbox))).scalar_one() == 0


@pytest.mark.parametrize(("purpose", "text"), [("gossip", "x"), ("otp", "")])
async def test_queue_sms_refuses_bad_input(engine: AsyncEngine, purpose: str, text: str) -> None:
    async with engine.begin() as conn:
        with pytest.raises(ValueError):
            await queue_sms(conn, PHONE, text, purpose)


async def test_an_mo_is_recorded_once_per_mo_id(engine: AsyncEngine) -> None:
    received = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        first = await record_mo(conn, "mo-1", PHONE, "TALEP 12", received)
    async with engine.begin() as conn:
        again = await record_mo(conn, "mo-1", PHONE, "TALEP 12", received)
    assert first == again and first[1] == "received"
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(sms_messages))).scalar_one() == 1


async def test_processed_message_ids_are_remembered_per_consumer(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        assert await first_time(conn, "a", "m1")
        assert not await first_time(conn, "a", "m1")
        assert await first_time(conn, "b", "m1")
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            assert await first_time(conn, "a", "m2")
            raise RuntimeError("the work failed, so the id must not stay recorded")
    async with engine.begin() as conn:
        assert await first_time(conn, "a", "m2")


def ok(index: int, smsc: str, count: int = 1) -> dict[str, Any]:
    return {"kind": "submit_ok", "part_index": index, "part_count": count, "smsc_message_id": smsc, "at": AT}


def dlr(smsc: str, state: str) -> dict[str, Any]:
    return {
        "kind": "dlr",
        "sms_id": None,
        "part_index": None,
        "part_count": None,
        "smsc_message_id": smsc,
        "dlr_state": state,
        "at": AT,
    }


def failed(index: int) -> dict[str, Any]:
    return {
        "kind": "submit_failed",
        "part_index": index,
        "part_count": 1,
        "smsc_message_id": None,
        "smpp_status": "ESME_RINVDSTADR",
        "error": "invalid destination",
        "at": AT,
    }


# (case, statuses in arrival order, expected SMS state, expected part states by index)
SEQUENCES: list[tuple[str, list[dict[str, Any]], str, dict[int, str]]] = [
    ("submitted", [ok(0, "A")], "submitted", {0: "submitted"}),
    ("delivered", [ok(0, "A"), dlr("A", "DELIVRD")], "delivered", {0: "delivered"}),
    ("receipt before submit result", [dlr("A", "DELIVRD"), ok(0, "A")], "delivered", {0: "delivered"}),
    (
        "two parts, one delivered",
        [ok(0, "A", 2), ok(1, "B", 2), dlr("A", "DELIVRD")],
        "submitted",
        {0: "delivered", 1: "submitted"},
    ),
    (
        "two parts delivered",
        [ok(0, "A", 2), ok(1, "B", 2), dlr("B", "DELIVRD"), dlr("A", "DELIVRD")],
        "delivered",
        {0: "delivered", 1: "delivered"},
    ),
    (
        "one part undelivered",
        [ok(0, "A", 2), ok(1, "B", 2), dlr("A", "DELIVRD"), dlr("B", "UNDELIV")],
        "failed",
        {0: "delivered", 1: "failed"},
    ),
    ("expired", [ok(0, "A"), dlr("A", "EXPIRED")], "expired", {0: "expired"}),
    ("rejected by the SMSC", [failed(0)], "failed", {0: "failed"}),
    ("intermediate report", [ok(0, "A"), dlr("A", "ACCEPTD")], "submitted", {0: "submitted"}),
    (
        "late contrary report",
        [ok(0, "A"), dlr("A", "DELIVRD"), dlr("A", "UNDELIV")],
        "delivered",
        {0: "delivered"},
    ),
    ("repeated submit result", [ok(0, "A"), dlr("A", "DELIVRD"), ok(0, "A")], "delivered", {0: "delivered"}),
]


@pytest.mark.parametrize(("case", "statuses", "state", "parts"), SEQUENCES, ids=[s[0] for s in SEQUENCES])
async def test_status_sequences(
    engine: AsyncEngine, case: str, statuses: list[dict[str, Any]], state: str, parts: dict[int, str]
) -> None:
    sms_id = await new_sms(engine)
    for status in statuses:
        async with engine.begin() as conn:
            await record_status(conn, {**status, "sms_id": sms_id} if status["kind"] != "dlr" else status)
    async with engine.connect() as conn:
        got = (
            await conn.execute(select(sms_messages.c.state).where(sms_messages.c.id == sms_id))
        ).scalar_one()
        rows = (await conn.execute(select(sms_parts.c.part_index, sms_parts.c.state))).all()
        got_parts = {index: part_state for index, part_state in rows}
        pending = await count_pending_receipts(conn)
    assert (got, got_parts, pending) == (state, parts, 0), case


BAD_STATUSES: list[tuple[str, dict[str, Any]]] = [
    ("unknown kind", {"kind": "exploded", "at": AT}),
    ("submit_ok without smsc id", {**ok(0, ""), "sms_id": "SELF"}),
    ("submit_ok for an unknown SMS", {**ok(0, "A"), "sms_id": "nope"}),
    ("dlr without state", dlr("A", "")),
    ("bad timestamp", {**ok(0, "A"), "sms_id": "SELF", "at": "yesterday"}),
    ("smsc id too long", dlr("X" * 65, "DELIVRD")),
]


@pytest.mark.parametrize(("case", "status"), BAD_STATUSES, ids=[b[0] for b in BAD_STATUSES])
async def test_impossible_statuses_are_rejected(
    engine: AsyncEngine, case: str, status: dict[str, Any]
) -> None:
    sms_id = await new_sms(engine)
    if status.get("sms_id") == "SELF":
        status = {**status, "sms_id": sms_id}
    async with engine.begin() as conn:
        with pytest.raises(Reject):
            await record_status(conn, status)


async def test_unclaimed_receipts_are_kept_a_day_then_purged(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await record_status(conn, dlr("ORPHAN", "DELIVRD"))
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        assert await purge_pending_receipts(conn, now + timedelta(hours=24)) == 0
        assert await purge_pending_receipts(conn, now + timedelta(hours=49)) == 1
        assert (await conn.execute(select(func.count()).select_from(sms_pending_receipts))).scalar_one() == 0


@pytest.mark.parametrize(
    ("part_count", "states", "expected"),
    [
        (None, [], "queued"),
        (2, ["submitted"], "submitted"),
        (2, ["delivered"], "submitted"),
        (2, ["delivered", "delivered"], "delivered"),
        (None, ["delivered"], "submitted"),  # unknown part count: never claim delivery
        (2, ["delivered", "expired"], "expired"),
        (2, ["expired", "failed"], "failed"),
    ],
)
def test_derive_state(part_count: int | None, states: list[str], expected: str) -> None:
    assert derive_state(part_count, states) == expected


async def _sms_and_parts(engine: AsyncEngine, sms_id: str) -> tuple[str, int | None, dict[int, str]]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(sms_messages.c.state, sms_messages.c.part_count).where(sms_messages.c.id == sms_id)
            )
        ).one()
        rows = await conn.execute(
            select(sms_parts.c.part_index, sms_parts.c.state).where(sms_parts.c.sms_id == sms_id)
        )
        return str(row.state), row.part_count, {index: part_state for index, part_state in rows}


def _for(sms_id: str, status: dict[str, Any]) -> dict[str, Any]:
    return {**status, "sms_id": sms_id} if status["kind"] != "dlr" else status


@pytest.mark.parametrize(("case", "statuses", "state", "parts"), SEQUENCES, ids=[s[0] for s in SEQUENCES])
async def test_status_sequences_recorded_as_one_batch(
    engine: AsyncEngine, case: str, statuses: list[dict[str, Any]], state: str, parts: dict[int, str]
) -> None:
    """The batch writer (set-based on PostgreSQL) ends where the one-by-one path ends, whatever the batch holds."""
    sms_id = await new_sms(engine)
    async with engine.begin() as conn:
        await record_statuses(conn, [_for(sms_id, s) for s in statuses])
    got_state, _, got_parts = await _sms_and_parts(engine, sms_id)
    async with engine.connect() as conn:
        pending = await count_pending_receipts(conn)
    assert (got_state, got_parts, pending) == (state, parts, 0), case


@pytest.mark.parametrize(("case", "statuses", "state", "parts"), SEQUENCES, ids=[s[0] for s in SEQUENCES])
async def test_status_sequences_split_over_batches(
    engine: AsyncEngine, case: str, statuses: list[dict[str, Any]], state: str, parts: dict[int, str]
) -> None:
    sms_id = await new_sms(engine)
    for start in range(0, len(statuses), 2):
        async with engine.begin() as conn:
            await record_statuses(conn, [_for(sms_id, s) for s in statuses[start : start + 2]])
    got_state, _, got_parts = await _sms_and_parts(engine, sms_id)
    assert (got_state, got_parts) == (state, parts), case


async def test_a_batch_of_many_sms_records_each_state_and_part_count(engine: AsyncEngine) -> None:
    one, two, three = [await new_sms(engine) for _ in range(3)]
    batch = [
        {**ok(1, "A1", 2), "sms_id": one},
        {**ok(1, "B1"), "sms_id": two},
        dlr("B1", "DELIVRD"),
        {**ok(2, "A2", 2), "sms_id": one},
        {**failed(1), "sms_id": three},
        dlr("C9", "DELIVRD"),  # for no part yet: kept pending
    ]
    async with engine.begin() as conn:
        await record_statuses(conn, batch)
    assert await _sms_and_parts(engine, one) == ("submitted", 2, {1: "submitted", 2: "submitted"})
    assert await _sms_and_parts(engine, two) == ("delivered", 1, {1: "delivered"})
    assert await _sms_and_parts(engine, three) == ("failed", 1, {1: "failed"})
    async with engine.connect() as conn:
        assert await count_pending_receipts(conn) == 1


async def test_a_batch_naming_an_unknown_sms_is_rejected_whole(engine: AsyncEngine) -> None:
    """The bus then retries the batch one message at a time, so only the bad one is parked."""
    sms_id = await new_sms(engine)
    with pytest.raises(Reject):
        async with engine.begin() as conn:
            await record_statuses(conn, [{**ok(1, "A"), "sms_id": sms_id}, {**ok(1, "B"), "sms_id": "nope"}])
    assert await _sms_and_parts(engine, sms_id) == ("queued", None, {})


async def test_the_batch_consumer_skips_messages_it_already_handled(engine: AsyncEngine) -> None:
    sms_id = await new_sms(engine)
    handle = status_batch_handler(engine, "test.sms_status")
    first = Envelope.new("sms.status", {**ok(1, "A"), "sms_id": sms_id}, message_id="m-ok")
    receipt = Envelope.new("sms.status", dlr("A", "DELIVRD"), message_id="m-dlr")
    await handle([first, first])  # a copy inside one batch
    assert await _sms_and_parts(engine, sms_id) == ("submitted", 1, {1: "submitted"})
    await handle([first, receipt])  # the first is a redelivery now
    assert await _sms_and_parts(engine, sms_id) == ("delivered", 1, {1: "delivered"})
    async with engine.begin() as conn:
        assert not await first_time(conn, "test.sms_status", "m-ok")
        assert not await first_time(conn, "test.sms_status", "m-dlr")


def batch(*items: dict[str, Any], message_id: str) -> Envelope:
    return Envelope.new("sms.status", {"items": list(items)}, version=2, message_id=message_id)


async def test_the_batch_consumer_records_every_item_of_a_status_batch(engine: AsyncEngine) -> None:
    first, second = await new_sms(engine), await new_sms(engine)
    handle = status_batch_handler(engine, "test.sms_status")
    old_style = Envelope.new("sms.status", dlr("B", "DELIVRD"), message_id="m-v1")  # queued before an upgrade
    await handle(
        [
            batch({**ok(1, "A"), "sms_id": first}, {**ok(1, "B"), "sms_id": second}, message_id="m-v2"),
            old_style,
        ]
    )
    assert await _sms_and_parts(engine, first) == ("submitted", 1, {1: "submitted"})
    assert await _sms_and_parts(engine, second) == ("delivered", 1, {1: "delivered"})
    await handle([batch(dlr("A", "UNDELIV"), message_id="m-v2")])  # a redelivery: skipped whole
    assert await _sms_and_parts(engine, first) == ("submitted", 1, {1: "submitted"})


async def test_a_status_batch_with_a_bad_item_records_the_others_then_is_rejected(
    engine: AsyncEngine,
) -> None:
    first, second = await new_sms(engine), await new_sms(engine)
    handle = status_batch_handler(engine, "test.sms_status")
    message = batch(
        {**ok(1, "A"), "sms_id": first},
        {**ok(1, "X"), "sms_id": "nope"},
        {**ok(1, "B"), "sms_id": second},
        message_id="m-bad",
    )
    with pytest.raises(Reject, match=r"1 of 3 items rejected; items\[1\]: .*no outbound SMS"):
        await handle([message])
    assert await _sms_and_parts(engine, first) == ("submitted", 1, {1: "submitted"})
    assert await _sms_and_parts(engine, second) == ("submitted", 1, {1: "submitted"})
    async with engine.begin() as conn:  # not remembered: replaying the parked message records it again
        assert await first_time(conn, "test.sms_status", "m-bad")
