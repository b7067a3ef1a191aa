"""Unit tests without I/O: the envelope's validation, topic matching, the retry policy, ``run_handler``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.messaging.conftest import ping
from workflow.messaging.bus import (
    QUEUES,
    Ack,
    Dead,
    Reject,
    Retry,
    RetryPolicy,
    route,
    run_handler,
    topic_matches,
)
from workflow.messaging.envelope import (
    SCHEMAS,
    Envelope,
    MalformedMessage,
    decode,
    from_dict,
    peek_ids,
    sms_status_items,
)
from workflow.messaging.notifications import _local_date
from workflow.messaging.sms_receipts import DLR_STATES

VALID: dict[str, Any] = {
    "schema": "sms.status",
    "version": 1,
    "message_id": "m1",
    "correlation_id": "c1",
    "created_at": "2026-11-25T10:00:00+03:00",
    "payload": {
        "sms_id": None,
        "kind": "dlr",
        "part_index": None,
        "part_count": None,
        "smsc_message_id": "AB12",
        "smpp_status": None,
        "dlr_state": "DELIVRD",
        "error": None,
        "at": "2026-11-25T07:00:00+00:00",
    },
}


def with_(path: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(VALID))
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is DROP:
        del target[last]
    else:
        target[last] = value
    return data


DROP = object()

INVALID: list[tuple[str, Any, str]] = [
    ("not an object", [], "not a JSON object"),
    ("no schema", with_("schema", DROP), "lacks schema"),
    ("extra envelope key", {**VALID, "extra": 1}, "unknown keys extra"),
    ("version as text", with_("version", "1"), "version an integer"),
    ("version as bool", with_("version", True), "version an integer"),
    ("empty message id", with_("message_id", ""), "message_id must be"),
    ("long message id", with_("message_id", "x" * 65), "message_id must be"),
    ("correlation id number", with_("correlation_id", 5), "correlation_id must be"),
    ("created_at garbage", with_("created_at", "dün"), "not an ISO 8601"),
    ("created_at naive", with_("created_at", "2026-11-25T10:00:00"), "no time zone"),
    ("unknown schema", with_("schema", "sms.bogus"), "unknown schema"),
    ("unknown version", with_("version", 99), "unknown schema"),
    ("payload list", with_("payload", []), "payload is not a JSON object"),
    ("required field missing", with_("payload.kind", DROP), "lacks kind"),
    ("null where not allowed", with_("payload.kind", None), "kind must not be null"),
    ("int as string", with_("payload.part_index", "0"), "part_index has the wrong type"),
    ("bool as int", with_("payload.part_index", False), "part_index has the wrong type"),
    ("unknown payload field", with_("payload.colour", "red"), "unknown fields colour"),
]


def test_a_valid_envelope_decodes_with_utc_time() -> None:
    envelope = from_dict(VALID)
    assert envelope.schema == "sms.status" and envelope.payload["smsc_message_id"] == "AB12"
    assert envelope.created_at == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(("case", "data", "reason"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_envelopes_name_the_reason(case: str, data: Any, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        from_dict(data)


def _status_v2(items: Any) -> dict[str, Any]:
    return {**VALID, "version": 2, "payload": {"items": items}}


def test_a_status_batch_decodes_to_its_items_and_a_single_status_still_does() -> None:
    second = {**VALID["payload"], "smsc_message_id": "AB13"}
    batch = from_dict(_status_v2([VALID["payload"], second]))
    assert [i["smsc_message_id"] for i in sms_status_items(batch)] == ["AB12", "AB13"]
    assert sms_status_items(from_dict(VALID)) == [VALID["payload"]]


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ([], "needs 1 to 1000 items"),
        ([VALID["payload"]] * 1001, "needs 1 to 1000 items"),
        ("x", "items has the wrong type"),
        ([VALID["payload"], "x"], r"items\[1\]: payload is not a JSON object"),
        ([VALID["payload"], {**VALID["payload"], "kind": None}], r"items\[1\]: payload field kind must not"),
        ([{**VALID["payload"], "colour": "red"}], r"items\[0\]: payload has unknown fields colour"),
    ],
)
def test_a_status_batch_names_its_bad_item(items: Any, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        from_dict(_status_v2(items))


def test_encode_decode_round_trip_keeps_turkish_text() -> None:
    envelope = Envelope.new(
        "sms.outbound", {"sms_id": "s", "to": "+905321234567", "text": "Çağrı İşlendi ığüşöç"}
    )
    assert decode(envelope.encode()) == envelope
    assert "Çağrı".encode() in envelope.encode()


def test_domain_event_specs_follow_the_dataclasses() -> None:
    spec = SCHEMAS[("request.routed", 1)]
    assert set(spec.fields) == {"request_id", "number", "at", "unit_ids", "assignment_ids"}
    assert spec.fields["unit_ids"].types == (list,)


@pytest.mark.parametrize(
    ("body", "ids"),
    [(b"nope", (None, None)), (b"[]", (None, None)), (b'{"message_id": "m", "schema": 3}', ("m", None))],
)
def test_peek_ids_never_raises(body: bytes, ids: tuple[str | None, str | None]) -> None:
    assert peek_ids(body) == ids


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("events.#", "events.request.filed", True),
        ("events.#", "events", True),
        ("events.#", "eventsx.a", False),
        ("events.*", "events.request.filed", False),
        ("events.*.filed", "events.request.filed", True),
        ("sms.outbound", "sms.outbound", True),
        ("sms.outbound", "sms.outbound.x", False),
        ("#", "anything.at.all", True),
        ("*.status", "sms.status", True),
        ("#.filed", "events.request.filed", True),
    ],
)
def test_topic_matching_follows_amqp(pattern: str, topic: str, matches: bool) -> None:
    assert topic_matches(pattern, topic) is matches


def test_routing_table_of_the_real_topology() -> None:
    assert route(QUEUES, "events.request.concluded") == ["events"]
    assert route(QUEUES, "sms.status") == ["sms.status"]
    assert route(QUEUES, "queue.sms.inbound") == ["sms.inbound"]
    assert route(QUEUES, "sms.unknown") == []


@pytest.mark.parametrize(("attempt", "delay"), [(1, 1.0), (2, 10.0), (3, 60.0), (4, None), (9, None)])
def test_retry_policy_backs_off_then_gives_up(attempt: int, delay: float | None) -> None:
    assert RetryPolicy(delays_s=(1.0, 10.0, 60.0), max_attempts=4).delay_after(attempt) == delay


def test_retry_policy_repeats_the_last_delay() -> None:
    assert RetryPolicy(delays_s=(2.0,), max_attempts=5).delay_after(3) == 2.0


async def test_run_handler_outcomes() -> None:
    policy = RetryPolicy(delays_s=(0.5,), max_attempts=2)
    body = ping(1).encode()

    async def fine(_: Envelope) -> None:
        return None

    async def broken(_: Envelope) -> None:
        raise KeyError("boom")

    async def refusing(_: Envelope) -> None:
        raise Reject("never")

    assert await run_handler("q", fine, body, 1, policy) == Ack()
    assert await run_handler("q", broken, body, 1, policy) == Retry(0.5, "attempt 1: KeyError: 'boom'")
    assert await run_handler("q", broken, body, 2, policy) == Dead("attempt 2: KeyError: 'boom'")
    assert await run_handler("q", refusing, body, 1, policy) == Dead("rejected: never")
    outcome = await run_handler("q", fine, b"{", 1, policy)
    assert isinstance(outcome, Dead) and outcome.reason.startswith("malformed:")


def test_every_final_receipt_state_maps_to_a_final_sms_state() -> None:
    assert {DLR_STATES[s] for s in ("DELIVRD", "UNDELIV", "EXPIRED", "REJECTD")} == {
        "delivered",
        "failed",
        "expired",
    }


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        (datetime(2026, 11, 25, 20, 59, tzinfo=UTC), "25.11.2026"),
        (datetime(2026, 11, 25, 21, 0, tzinfo=UTC), "26.11.2026"),  # midnight in Istanbul (UTC+3)
        (datetime(2026, 11, 25, 22, 30), "26.11.2026"),  # SQLite's zone-less UTC
    ],
)
def test_sms_dates_are_istanbul_days(at: datetime, shown: str) -> None:
    assert _local_date(at) == shown
