"""A batch of MOs on PostgreSQL in two statements: the workflow service's ``sms.inbound`` hot path.

``inbound.service.answer_batch`` answers a batch with a handful of statements through SQLAlchemy, and the
consumer adds a few of its own (store the MOs, look up redeliveries, store the replies, queue them, mark
earlier replies sent): about ten round trips and most of the consumer's CPU per batch. Here the same work
is two statements on the driver connection, inside the consumer's transaction:

* ``read``: store the MOs (a redelivered ``mo_id`` is not stored twice), count the commands of the MOs to
  answer against the hourly limit, and read the senders' muhtars and the requests asked about (with the
  assignments and units of routed ones) — one statement, one round trip;
* ``write``: the access log of what was read, the replies and their outbox rows, the state of MOs
  answered now after being stored ``received``, the unregistered senders' daily marks (a reply to an
  unregistered number is stored only if its mark is new today), and earlier direct replies marked sent.

The decisions in between are ``inbound.service.decide`` (the same rules as ``answer_batch``). Statements
whose text does not depend on the batch size (arrays, ``unnest``), so the driver's prepared statements are
reused. Semantics are those of the consumer's portable path (``workflow_service.Consumers``): one
transaction, and a concurrent insert of the same ``mo_id`` waits for the other transaction, then conflicts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from inbound import answers
from inbound.commands import QueryRequest
from inbound.limits import decide_counts, local_day, window_start
from inbound.service import UNREGISTERED_MARK, Answer, InboundConfig, MoMessage, Work, decide, prepare
from workflow.domain.model import Assignment, AssignmentState
from workflow.domain.units import UnitKind, UnitRef

#: Store the MOs, count, and read what the answers need. Row kinds: 0 an MO stored now (``a`` = mo_id);
#: 1 an MO stored before (``a`` mo_id, ``b`` id, ``c`` state); 2 a counter (``a`` phone, ``n`` its count in
#: the window); 3 a muhtar (``a`` phone, ``b`` id); 4 a request (``j``); 5 an assignment with its unit (``j``).
#: The MOs to answer (and count) are the ones stored now and the ones stored before but not handled; the
#: earlier MOs are read with the statement's snapshot, so the MOs it stores itself are not among them.
#: MOs are inserted in ``mo_id`` order: two consumers inserting overlapping redeliveries lock in the same
#: order (a concurrent insert of the same ``mo_id`` waits for the other transaction, then conflicts).
READ = """
WITH m AS (
    SELECT * FROM unnest(
        $1::varchar[], $2::varchar[], $3::text[], $4::varchar[], $5::varchar[], $6::timestamptz[],
        $7::varchar[]
    ) WITH ORDINALITY AS m(id, phone, body, state, mo_id, received_at, norm, i)
), ins AS (
    INSERT INTO sms_messages (id, direction, phone_e164, text, purpose, state, mo_id, created_at, updated_at)
    SELECT m.id, 'in', m.phone, m.body, 'mo', m.state, m.mo_id, m.received_at, $8::timestamptz
    FROM m ORDER BY m.mo_id
    ON CONFLICT (mo_id) DO NOTHING
    RETURNING mo_id
), known AS (
    SELECT s.mo_id, s.id, s.state FROM sms_messages s WHERE s.mo_id = ANY($5::varchar[])
), todo AS (
    SELECT m.norm FROM m
    WHERE m.norm IS NOT NULL AND (
        m.mo_id IN (SELECT mo_id FROM ins) OR m.mo_id IN (SELECT mo_id FROM known WHERE state <> 'handled')
    )
), counted AS (
    INSERT INTO inbound_rate_counters AS t (phone_e164, window_start, count)
    SELECT norm, $9::timestamptz, count(*) FROM todo GROUP BY norm ORDER BY norm
    ON CONFLICT (phone_e164, window_start) DO UPDATE SET count = t.count + excluded.count
    RETURNING t.phone_e164, t.count
), expired AS (
    DELETE FROM inbound_rate_counters d
    WHERE d.phone_e164 IN (SELECT norm FROM todo) AND d.window_start < $9::timestamptz
), owners AS (
    SELECT mu.phone_e164, mu.id FROM muhtars mu WHERE mu.phone_e164 = ANY($7::varchar[]) AND mu.active
), owned AS (
    SELECT r.id, r.number, r.muhtar_id, r.kind, r.description, r.channel, r.priority, r.state, r.created_at,
        r.updated_at, r.concluded_at, r.final_note, r.public_attachment_ids, r.version,
        (SELECT mv.at FROM movements mv WHERE mv.request_id = r.id AND mv.public
         ORDER BY mv.seq DESC LIMIT 1) AS last_public_at
    FROM requests r
    WHERE r.number = ANY($10::bigint[]) AND r.muhtar_id IN (SELECT id FROM owners)
), routed AS (
    SELECT a.*, u.kind AS u_kind, u.name AS u_name, u.parent_id AS u_parent_id,
        u.province_id AS u_province_id, u.active AS u_active
    FROM assignments a JOIN units u ON u.id = a.unit_id
    WHERE a.request_id IN (SELECT id FROM owned WHERE state = 'yonlendirilen')
)
SELECT 0 AS k, mo_id AS a, NULL::varchar AS b, NULL::varchar AS c, NULL::bigint AS n, NULL::json AS j FROM ins
UNION ALL SELECT 1, mo_id, id, state, NULL, NULL FROM known
UNION ALL SELECT 2, phone_e164, NULL, NULL, count, NULL FROM counted
UNION ALL SELECT 3, phone_e164, id, NULL, NULL, NULL FROM owners
UNION ALL SELECT 4, NULL, NULL, NULL, NULL, row_to_json(owned) FROM owned
UNION ALL SELECT 5, NULL, NULL, NULL, NULL, row_to_json(routed) FROM routed
"""

#: Everything a batch writes after its answers, in one statement (see the module docstring). An
#: unregistered sender's reply (its ``mark`` set) is stored only when that phone's daily mark is new.
WRITE = """
WITH marks AS (
    INSERT INTO inbound_daily_marks (phone_e164, purpose, day, created_at)
    SELECT DISTINCT p, $1::varchar, $2::varchar, $3::timestamptz FROM unnest($4::varchar[]) AS p
    ON CONFLICT DO NOTHING
    RETURNING phone_e164
), old_marks AS (
    DELETE FROM inbound_daily_marks d
    WHERE d.phone_e164 IN (SELECT phone_e164 FROM marks) AND d.purpose = $1::varchar AND d.day <> $2::varchar
), r AS (
    SELECT * FROM unnest(
        $5::varchar[], $6::varchar[], $7::varchar[], $8::text[], $9::varchar[], $10::varchar[],
        $11::text[], $12::varchar[], $13::timestamptz[]
    ) AS r(id, mo, phone, body, mark, message_id, payload, correlation_id, created_at)
    WHERE r.mark IS NULL OR r.mark IN (SELECT phone_e164 FROM marks)
), replies AS (
    INSERT INTO sms_messages (id, direction, phone_e164, text, purpose, state, reply_to_id, created_at, updated_at)
    SELECT r.id, 'out', r.phone, r.body, 'reply', 'queued', r.mo, $3::timestamptz, $3::timestamptz FROM r
), queued AS (
    INSERT INTO outbox (message_id, topic, schema, schema_version, payload, correlation_id, ordering_key,
        created_at, attempts)
    SELECT r.message_id, 'sms.outbound', 'sms.outbound', 1, r.payload, r.correlation_id, r.id, r.created_at,
        $14::integer
    FROM r
), handled AS (
    UPDATE sms_messages SET state = 'handled', updated_at = $3::timestamptz WHERE id = ANY($15::varchar[])
), log AS (
    INSERT INTO data_access_log (at, viewer_kind, viewer_id, unit_id, request_id, action, source_addr)
    SELECT $3::timestamptz, 'muhtar', l.viewer, NULL, l.request, 'view', 'sms'
    FROM unnest($16::varchar[], $17::varchar[]) AS l(viewer, request)
), sent AS (
    UPDATE outbox SET sent_at = v.at
    FROM unnest($18::varchar[], $19::timestamptz[]) AS v(message_id, at)
    WHERE outbox.message_id = v.message_id AND outbox.sent_at IS NULL
)
SELECT r.message_id FROM r
"""


@dataclass(frozen=True)
class NewMo:
    """An MO of the batch, as it is stored if it is new: its ``sms_messages`` id and state."""

    sms_id: str
    mo: MoMessage
    received_at: datetime
    state: str


@dataclass(frozen=True)
class Answered:
    """An MO the batch answers: its stored id, whether this batch stored it, and the answer."""

    mo: MoMessage
    sms_id: str
    new: bool
    answer: Answer
    #: The phone whose first reply today this is: the reply is stored only if its daily mark is new.
    first_today: str | None = None


@dataclass
class Batch:
    answered: list[Answered] = field(default_factory=list)
    #: (viewer muhtar id, request id) of each access-log row, for MOs answered by this batch.
    log: list[tuple[str, str]] = field(default_factory=list)


async def read(
    raw: asyncpg.Connection, config: InboundConfig, mos: Sequence[NewMo], now: datetime, stamp: datetime
) -> Batch:
    """Store the MOs and answer the ones to answer (``READ`` and ``decide``), on ``raw`` in its open
    transaction; ``mos`` in arrival order (the order the MOs of one phone are counted in). MOs handled
    before, and MOs another transaction stored meanwhile, are not answered."""
    if not mos:
        return Batch()
    work = {w.mo.mo_id: w for w in prepare([m.mo for m in mos], config)}
    numbers = sorted(
        {
            w.command.number
            for w in work.values()
            if isinstance(w.command, QueryRequest) and w.command.number is not None
        }
    )
    start = window_start(now, config.rate.window)
    rows = await raw.fetch(
        READ,
        [m.sms_id for m in mos],
        [m.mo.sender for m in mos],
        [m.mo.text for m in mos],
        [m.state for m in mos],
        [m.mo.mo_id for m in mos],
        [m.received_at.astimezone(UTC) for m in mos],
        [work[m.mo.mo_id].phone if m.mo.mo_id in work else None for m in mos],
        stamp,
        start,
        numbers,
    )
    inserted: set[str] = set()
    known: dict[str, tuple[str, str]] = {}
    totals: dict[str, int] = {}
    owners: dict[str, list[str]] = {}
    requests: list[dict[str, Any]] = []
    routed: dict[str, list[Assignment]] = {}
    for row in rows:
        kind = row["k"]
        if kind == 0:
            inserted.add(row["a"])
        elif kind == 1:
            known[row["a"]] = (row["b"], row["c"])
        elif kind == 2:
            totals[row["a"]] = int(row["n"])
        elif kind == 3:
            owners.setdefault(row["a"], []).append(row["b"])
        elif kind == 4:
            requests.append(_json(row["j"]))
        else:
            a = _json(row["j"])
            routed.setdefault(a["request_id"], []).append(_assignment(a))
    for assigned in routed.values():
        assigned.sort(key=lambda a: (a.assigned_at, a.id))  # as the repository orders them
    # Answered: stored now, or stored before and not handled (a filing or list answered after its commit).
    todo = [
        (m, m.sms_id if m.mo.mo_id in inserted else known[m.mo.mo_id][0], m.mo.mo_id in inserted)
        for m in mos
        if m.mo.mo_id in inserted or (m.mo.mo_id in known and known[m.mo.mo_id][1] != "handled")
    ]
    todo_work = [work[m.mo.mo_id] for m, _, _ in todo if m.mo.mo_id in work]
    # Work indexes refer to ``mos``; ``decide`` wants them to refer to ``todo``.
    position = {m.mo.mo_id: i for i, (m, _, _) in enumerate(todo)}
    todo_work = [Work(position[w.mo.mo_id], w.mo, w.phone, w.command) for w in todo_work]
    phones = [w.phone for w in todo_work]
    decisions = decide_counts(phones, Counter(phones), totals, start, config.rate) if phones else []
    loaded = {
        int(r["number"]): (
            answers.request_from(_timestamps(r), routed.get(r["id"], [])),
            _time(r["last_public_at"]),
        )
        for r in requests
    }
    by_phone = {phone: tuple(sorted(ids)) for phone, ids in owners.items()}
    decided = decide(config, len(todo), todo_work, decisions, by_phone, loaded, now)
    marks = dict(decided.first_today)
    batch = Batch()
    for i, (m, sms_id, new) in enumerate(todo):
        batch.answered.append(Answered(m.mo, sms_id, new, decided.answers[i], marks.get(i)))
    batch.log = [(str(row["viewer_id"]), str(row["request_id"])) for _, row in decided.log]
    return batch


async def write(
    raw: asyncpg.Connection,
    *,
    now: datetime,
    replies: Sequence[tuple[str, str, str, str, str | None, str, str, str, datetime]],
    attempts: int,
    handled: Sequence[str],
    log: Sequence[tuple[str, str]],
    sent: Sequence[tuple[str, datetime]],
) -> set[str]:
    """``WRITE``: ``replies`` are (sms id, MO id, phone, text, phone whose daily mark it needs or None,
    outbox message id, payload JSON, correlation id, created at). Returns the outbox message ids stored."""
    rows = await raw.fetch(
        WRITE,
        UNREGISTERED_MARK,
        local_day(now),
        now,
        [r[4] for r in replies if r[4] is not None],
        [r[0] for r in replies],
        [r[1] for r in replies],
        [r[2] for r in replies],
        [r[3] for r in replies],
        [r[4] for r in replies],
        [r[5] for r in replies],
        [r[6] for r in replies],
        [r[7] for r in replies],
        [r[8].astimezone(UTC) for r in replies],
        attempts,
        list(handled),
        [viewer for viewer, _ in log],
        [request for _, request in log],
        [message_id for message_id, _ in sent],
        [at.astimezone(UTC) for _, at in sent],
    )
    return {str(row["message_id"]) for row in rows}


def _json(value: str | dict[str, Any]) -> dict[str, Any]:
    """A ``json`` column: decoded already where the connection has a JSON codec (SQLAlchemy's pool)."""
    return json.loads(value) if isinstance(value, str) else value


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _timestamps(row: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON row with its timestamps parsed back into aware datetimes."""
    return {
        **row,
        "created_at": _time(row["created_at"]),
        "updated_at": _time(row["updated_at"]),
        "concluded_at": _time(row["concluded_at"]),
    }


def _assignment(a: Mapping[str, Any]) -> Assignment:
    unit = UnitRef(
        id=a["unit_id"],
        kind=UnitKind(a["u_kind"]),
        name=a["u_name"],
        parent_id=a["u_parent_id"],
        province_id=a["u_province_id"],
        active=a["u_active"],
    )
    return Assignment(
        id=a["id"],
        request_id=a["request_id"],
        unit=unit,
        assigned_by_unit_id=a["assigned_by_unit_id"],
        routing_note=a["routing_note"],
        assigned_at=_required(a["assigned_at"]),
        due_at=_required(a["due_at"]),
        parent_id=a["parent_id"],
        state=AssignmentState(a["state"]),
        taken_on_at=_time(a["taken_on_at"]),
        completed_at=_time(a["completed_at"]),
        completion_note=a["completion_note"],
        attachment_ids=json.loads(a["attachment_ids"]),
        handback_reason=a["handback_reason"],
        closed_at=_time(a["closed_at"]),
        handback_reviewed=a["handback_reviewed"],
    )


def _required(value: str) -> datetime:
    parsed = _time(value)
    assert parsed is not None
    return parsed
