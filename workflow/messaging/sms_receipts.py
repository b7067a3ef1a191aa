"""Recording the gateway's ``sms.status`` messages against the stored SMS and its parts.

Kinds: ``submit_ok`` (the SMSC took part N and named it ``smsc_message_id``), ``submit_failed`` and ``dlr``
(a delivery receipt, which names only the ``smsc_message_id``). A receipt for an id no part carries yet is
kept in ``sms_pending_receipts`` and applied when the submit result arrives. States only move forward.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.messaging.bus import BatchHandler, Reject
from workflow.messaging.envelope import Envelope, sms_status_items
from workflow.messaging.idempotency import first_time
from workflow.messaging.sms_store import sms_messages, sms_parts, sms_pending_receipts

logger = logging.getLogger(__name__)

# SMPP delivery-receipt `stat` -> part state; None keeps the part as it is (an intermediate report).
DLR_STATES: Mapping[str, str | None] = {
    "DELIVRD": "delivered",
    "UNDELIV": "failed",
    "REJECTD": "failed",
    "DELETED": "failed",
    "EXPIRED": "expired",
    "ACCEPTD": None,
    "ENROUTE": None,
    "UNKNOWN": None,
}
FINAL_PART_STATES = frozenset({"delivered", "failed", "expired"})
PENDING_RECEIPT_KEEP = timedelta(hours=48)
SMSC_ID_MAX = 64  # sms_parts.smsc_message_id  # at least 24 h, as promised to the gateway


def _at(payload: Mapping[str, Any]) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(payload["at"]))
    except ValueError:
        raise Reject("sms.status: `at` is not an ISO 8601 timestamp") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def record_status(conn: AsyncConnection, payload: Mapping[str, Any]) -> None:
    handler = STATUS_KINDS.get(str(payload["kind"]))
    if handler is None:
        raise Reject(f"sms.status: unknown kind {payload['kind']!r}")
    if len(payload.get("smsc_message_id") or "") > SMSC_ID_MAX:
        raise Reject(f"sms.status: smsc_message_id longer than {SMSC_ID_MAX} characters")
    await handler(conn, payload)


async def _lock_receipt_id(conn: AsyncConnection, smsc_message_id: str) -> None:
    """Serialise a submit result and a receipt naming the same SMSC id (PostgreSQL; SQLite writes one at a time)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": smsc_message_id})


async def _lock_sms(conn: AsyncConnection, sms_id: str) -> Mapping[str, Any]:
    query = select(sms_messages).where(sms_messages.c.id == sms_id, sms_messages.c.direction == "out")
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise Reject("sms.status: no outbound SMS with this sms_id")
    return dict(row)


async def _submit_ok(conn: AsyncConnection, payload: Mapping[str, Any]) -> None:
    sms_id, index, smsc_id = payload["sms_id"], payload["part_index"], payload["smsc_message_id"]
    if sms_id is None or index is None or not smsc_id:
        raise Reject("sms.status submit_ok needs sms_id, part_index and smsc_message_id")
    await _lock_receipt_id(conn, smsc_id)
    sms = await _lock_sms(conn, sms_id)
    at = _at(payload)
    await _upsert_part(conn, sms_id, index, {"smsc_message_id": smsc_id, "submitted_at": at}, "submitted")
    await _set_part_count(conn, sms, payload.get("part_count"))
    pending = (
        (
            await conn.execute(
                select(sms_pending_receipts)
                .where(sms_pending_receipts.c.smsc_message_id == smsc_id)
                .order_by(sms_pending_receipts.c.id)
            )
        )
        .mappings()
        .all()
    )
    for receipt in pending:
        await _apply_receipt(conn, sms_id, index, receipt["dlr_state"], receipt["dlr_at"], receipt["error"])
    if pending:
        await conn.execute(
            delete(sms_pending_receipts).where(sms_pending_receipts.c.smsc_message_id == smsc_id)
        )
    await _refresh_sms_state(conn, sms_id, at)


async def _submit_failed(conn: AsyncConnection, payload: Mapping[str, Any]) -> None:
    sms_id, index = payload["sms_id"], payload["part_index"] or 0
    if sms_id is None:
        raise Reject("sms.status submit_failed needs sms_id")
    sms = await _lock_sms(conn, sms_id)
    at = _at(payload)
    error = payload.get("error") or payload.get("smpp_status") or "submit failed"
    await _upsert_part(conn, sms_id, index, {"error": error}, "failed")
    await _set_part_count(conn, sms, payload.get("part_count"))
    await conn.execute(update(sms_messages).where(sms_messages.c.id == sms_id).values(error=error))
    await _refresh_sms_state(conn, sms_id, at)


async def _dlr(conn: AsyncConnection, payload: Mapping[str, Any]) -> None:
    smsc_id, dlr_state = payload["smsc_message_id"], payload.get("dlr_state")
    if not smsc_id or not dlr_state:
        raise Reject("sms.status dlr needs smsc_message_id and dlr_state")
    await _lock_receipt_id(conn, smsc_id)
    at = _at(payload)
    part = (
        await conn.execute(
            select(sms_parts.c.sms_id, sms_parts.c.part_index)
            .where(sms_parts.c.smsc_message_id == smsc_id)
            .order_by(sms_parts.c.id.desc())
        )
    ).first()
    if part is None:
        await conn.execute(
            sms_pending_receipts.insert().values(
                smsc_message_id=smsc_id,
                dlr_state=dlr_state,
                error=payload.get("error"),
                dlr_at=at,
                received_at=datetime.now(UTC),
            )
        )
        logger.info("delivery receipt before its submit result; kept pending")
        return
    await _lock_sms(conn, part.sms_id)
    await _apply_receipt(conn, part.sms_id, part.part_index, dlr_state, at, payload.get("error"))
    await _refresh_sms_state(conn, part.sms_id, at)


async def _apply_receipt(
    conn: AsyncConnection, sms_id: str, index: int, dlr_state: str, at: datetime, error: str | None
) -> None:
    state = DLR_STATES.get(dlr_state.upper(), None)
    values: dict[str, Any] = {"dlr_state": dlr_state[:10], "dlr_at": at}
    if error:
        values["error"] = error
    await _upsert_part(conn, sms_id, index, values, state)


async def _upsert_part(
    conn: AsyncConnection, sms_id: str, index: int, values: dict[str, Any], state: str | None
) -> None:
    where = (sms_parts.c.sms_id == sms_id, sms_parts.c.part_index == index)
    current = (await conn.execute(select(sms_parts.c.state).where(*where))).scalar_one_or_none()
    if current is None:
        await conn.execute(
            sms_parts.insert().values(sms_id=sms_id, part_index=index, state=state or "submitted", **values)
        )
        return
    if current in FINAL_PART_STATES:
        state = None  # a late or repeated report never moves a part back
        values = {k: v for k, v in values.items() if k in ("smsc_message_id", "submitted_at")}
    if state is not None:
        values["state"] = state
    if values:
        await conn.execute(update(sms_parts).where(*where).values(**values))


async def _set_part_count(conn: AsyncConnection, sms: Mapping[str, Any], part_count: Any) -> None:
    if isinstance(part_count, int) and part_count > 0 and sms["part_count"] != part_count:
        await conn.execute(
            update(sms_messages).where(sms_messages.c.id == sms["id"]).values(part_count=part_count)
        )


def derive_state(part_count: int | None, part_states: list[str]) -> str:
    """The SMS's state from its parts' states: any failed or expired part decides; all delivered delivers."""
    if "failed" in part_states:
        return "failed"
    if "expired" in part_states:
        return "expired"
    if part_count and part_states.count("delivered") >= part_count:
        return "delivered"
    return "submitted" if part_states else "queued"


async def _refresh_sms_state(conn: AsyncConnection, sms_id: str, at: datetime) -> None:
    part_count = (
        await conn.execute(select(sms_messages.c.part_count).where(sms_messages.c.id == sms_id))
    ).scalar()
    states = list(
        (await conn.execute(select(sms_parts.c.state).where(sms_parts.c.sms_id == sms_id))).scalars()
    )
    await conn.execute(
        update(sms_messages)
        .where(sms_messages.c.id == sms_id)
        .values(state=derive_state(part_count, states), updated_at=max(at, datetime.now(UTC)))
    )


async def purge_pending_receipts(conn: AsyncConnection, now: datetime | None = None) -> int:
    """Drop receipts no submit result claimed within ``PENDING_RECEIPT_KEEP``; returns how many."""
    cutoff = (now or datetime.now(UTC)) - PENDING_RECEIPT_KEEP
    result = await conn.execute(
        delete(sms_pending_receipts).where(sms_pending_receipts.c.received_at < cutoff)
    )
    return int(result.rowcount)


async def count_pending_receipts(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(sms_pending_receipts))).scalar_one())


STATUS_KINDS: Mapping[str, Callable[[AsyncConnection, Mapping[str, Any]], Awaitable[None]]] = {
    "submit_ok": _submit_ok,
    "submit_failed": _submit_failed,
    "dlr": _dlr,
}


# --- batches (the workflow service's sms.status consumer) -------------------------------------------------

# A whole batch of submit results in three statements on the driver connection (PostgreSQL), without
# SQLAlchemy's per-statement work: the per-status path above costs about nine round trips per status, and at
# gateway speed (thousands per second) even one SQLAlchemy statement per step was most of the workflow
# service's CPU per SMS.
# 1. Lock: the receipt ids first (the order ``_dlr`` takes them in: receipt id, then SMS), then the SMS rows
#    in id order. The sort under FOR UPDATE reads the whole join, so the advisory locks are all taken
#    before the first row lock.
_LOCK = (
    "WITH receipt_locks AS MATERIALIZED ("
    "  SELECT count(pg_advisory_xact_lock(hashtext(k))) AS n"
    "  FROM (SELECT k FROM unnest($1::text[]) AS k ORDER BY k) AS keys)"
    " SELECT m.id FROM receipt_locks, sms_messages AS m"
    " WHERE m.id = ANY($2::text[]) AND m.direction = 'out' ORDER BY m.id FOR UPDATE OF m"
)
# 2. The parts, and which of their SMSC ids have receipts waiting. Same rule as ``_upsert_part``: a final
#    part keeps its state, only its SMSC id and submit time move.
_UPSERT_PARTS = (
    "WITH upserted AS ("
    " INSERT INTO sms_parts (sms_id, part_index, smsc_message_id, submitted_at, state)"
    " SELECT s, i, m, a, 'submitted' FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[])"
    "  AS v(s, i, m, a)"
    " ON CONFLICT ON CONSTRAINT uq_sms_parts_sms_part DO UPDATE SET"
    "  smsc_message_id = EXCLUDED.smsc_message_id, submitted_at = EXCLUDED.submitted_at,"
    "  state = CASE WHEN sms_parts.state IN ('delivered', 'failed', 'expired')"
    "   THEN sms_parts.state ELSE 'submitted' END)"
    " SELECT DISTINCT smsc_message_id FROM sms_pending_receipts WHERE smsc_message_id = ANY($3::text[])"
)
# 3. ``derive_state`` in SQL, plus the part count the gateway reported (when it is a positive integer); a
#    statement of its own, so it sees the parts written by 2 (and by the rare pending receipts applied).
_REFRESH_SMS = (
    "UPDATE sms_messages AS m SET"
    "  part_count = COALESCE(v.pc, m.part_count),"
    "  state = CASE"
    "   WHEN p.failed THEN 'failed' WHEN p.expired THEN 'expired'"
    "   WHEN COALESCE(v.pc, m.part_count) > 0 AND p.delivered >= COALESCE(v.pc, m.part_count)"
    "    THEN 'delivered'"
    "   WHEN p.n > 0 THEN 'submitted' ELSE 'queued' END,"
    "  updated_at = v.at"
    " FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS v(id, pc, at)"
    " CROSS JOIN LATERAL (SELECT count(*) AS n,"
    "   count(*) FILTER (WHERE state = 'delivered') AS delivered,"
    "   COALESCE(bool_or(state = 'failed'), false) AS failed,"
    "   COALESCE(bool_or(state = 'expired'), false) AS expired"
    "   FROM sms_parts WHERE sms_parts.sms_id = v.id) AS p"
    " WHERE m.id = v.id"
)


def _bulk_submit_ok(payload: Mapping[str, Any]) -> bool:
    """A submit result the set-based path can take; anything odd goes through ``record_status`` (which
    rejects what it must)."""
    smsc_id = payload.get("smsc_message_id")
    return (
        payload.get("kind") == "submit_ok"
        and isinstance(payload.get("sms_id"), str)
        and isinstance(payload.get("part_index"), int)
        and isinstance(smsc_id, str)
        and 0 < len(smsc_id) <= SMSC_ID_MAX
    )


async def record_statuses(conn: AsyncConnection, payloads: Sequence[Mapping[str, Any]]) -> None:
    """Record several ``sms.status`` payloads in the caller's transaction, with the same result as calling
    ``record_status`` for each in order.

    On PostgreSQL the submit results (nearly all of the traffic) are written set-based — one statement per
    step for the whole batch — before the other kinds, which go one by one. The order does not change the
    outcome: states only move forward, a receipt that finds no part yet is kept pending, and pending
    receipts are applied after the submit results of the batch are in.
    """
    if conn.dialect.name != "postgresql":
        for payload in payloads:
            await record_status(conn, payload)
        return
    bulk: dict[tuple[str, int], Mapping[str, Any]] = {}
    others: list[Mapping[str, Any]] = []
    for payload in payloads:
        if _bulk_submit_ok(payload):
            bulk[(payload["sms_id"], payload["part_index"])] = payload  # a repeat in one batch: the last wins
        else:
            others.append(payload)
    if bulk:
        await _record_submitted(conn, list(bulk.values()))
    for payload in others:
        await record_status(conn, payload)


async def _driver(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under ``conn``, inside ``conn``'s transaction (SQLAlchemy begins it lazily, at
    its first statement: one is run when none has been yet)."""
    raw: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        await conn.execute(text("SELECT 1"))
    return raw


async def _record_submitted(conn: AsyncConnection, items: list[Mapping[str, Any]]) -> None:
    raw = await _driver(conn)
    ats = [_at(p) for p in items]
    sms_ids = [str(p["sms_id"]) for p in items]
    smsc_ids = [str(p["smsc_message_id"]) for p in items]
    wanted = sorted(set(sms_ids))
    found = await raw.fetch(_LOCK, sorted(set(smsc_ids)), wanted)
    if len(found) != len(wanted):
        raise Reject("sms.status: no outbound SMS with this sms_id")  # the bus retries one by one
    indexes = [int(p["part_index"]) for p in items]
    pending = {row[0] for row in await raw.fetch(_UPSERT_PARTS, sms_ids, indexes, smsc_ids, ats)}
    for sms_id, index, smsc_id in zip(sms_ids, indexes, smsc_ids, strict=True):
        if smsc_id in pending:  # rare: the receipt overtook its submit result
            await _claim_pending(conn, sms_id, index, smsc_id)
    now = datetime.now(UTC)
    per_sms: dict[str, tuple[int | None, datetime]] = {}
    for payload, sms_id, at in zip(items, sms_ids, ats, strict=True):
        count = payload.get("part_count")
        count = count if isinstance(count, int) and count > 0 else None
        previous = per_sms.get(sms_id)
        if previous is not None:
            count = count or previous[0]
            at = max(at, previous[1])
        per_sms[sms_id] = (count, at)
    await raw.execute(
        _REFRESH_SMS,
        list(per_sms),
        [count for count, _ in per_sms.values()],
        [max(at, now) for _, at in per_sms.values()],
    )


async def _claim_pending(conn: AsyncConnection, sms_id: str, index: int, smsc_id: str) -> None:
    pending = (
        (
            await conn.execute(
                select(sms_pending_receipts)
                .where(sms_pending_receipts.c.smsc_message_id == smsc_id)
                .order_by(sms_pending_receipts.c.id)
            )
        )
        .mappings()
        .all()
    )
    for receipt in pending:
        await _apply_receipt(conn, sms_id, index, receipt["dlr_state"], receipt["dlr_at"], receipt["error"])
    await conn.execute(delete(sms_pending_receipts).where(sms_pending_receipts.c.smsc_message_id == smsc_id))


_FIRST_TIMES = text(
    "INSERT INTO processed_messages (consumer, message_id, processed_at)"
    " SELECT :consumer, m, :now FROM unnest(CAST(:ids AS text[])) AS m"
    " ON CONFLICT DO NOTHING RETURNING message_id"
)


def status_batch_handler(engine: AsyncEngine, consumer: str) -> BatchHandler:
    """The ``sms.status`` batch consumer: one transaction per batch, each message id remembered (skipped if
    already handled, like ``idempotency.idempotent_batch``), the new ones recorded by ``record_statuses``.

    A message may carry many items (version 2). When one of them must be rejected, the bus hands that
    message over alone; then each item is recorded in its own transaction, and the message is rejected —
    parked whole, with the rejected items named in the reason — only after the others are in. Its id is
    not remembered, so replaying the parked message records the good items again, which changes nothing.
    """

    async def handler(envelopes: Sequence[Envelope]) -> None:
        try:
            await _record_batch(envelopes)
        except Reject:
            if len(envelopes) != 1 or len(items := sms_status_items(envelopes[0])) < 2:
                raise
            await _record_one_by_one(items)

    async def _record_one_by_one(items: list[dict[str, Any]]) -> None:
        rejected: list[str] = []
        for index, item in enumerate(items):
            try:
                async with engine.begin() as conn:
                    await record_status(conn, item)
            except Reject as exc:
                rejected.append(f"items[{index}]: {exc}")
        if rejected:
            raise Reject(f"{len(rejected)} of {len(items)} items rejected; " + "; ".join(rejected))

    async def _record_batch(envelopes: Sequence[Envelope]) -> None:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                ids = [e.message_id for e in envelopes]
                params = {"consumer": consumer, "now": datetime.now(UTC), "ids": ids}
                fresh = {row.message_id for row in await conn.execute(_FIRST_TIMES, params)}
                new: list[Envelope] = []
                for envelope in envelopes:
                    if envelope.message_id in fresh:
                        fresh.discard(envelope.message_id)  # a copy later in the same batch is a repeat
                        new.append(envelope)
            else:
                new = [e for e in envelopes if await first_time(conn, consumer, e.message_id)]
            if len(new) < len(envelopes):
                logger.info("%s: %d messages already handled; skipped", consumer, len(envelopes) - len(new))
            await record_statuses(conn, [item for e in new for item in sms_status_items(e)])

    return handler
