"""MOs answered in batches (SQLite and PostgreSQL): ``answer_batch`` inside one transaction, and the workflow
service's ``sms.inbound`` batch consumer — limits counted in order within a batch, one reply a day for an
unregistered number within a batch, idempotent on redelivery (whole batch, duplicates inside a batch,
concurrent batches), filings answered after the batch commits and filed once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbound import answers
from inbound.service import Deferred, InboundConfig, MoMessage, answer_batch, handle_mo, status_text
from inbound.tables import inbound_rate_counters
from tests.inbound.conftest import (
    DESCRIPTION,
    OTHER_MUHTAR_PHONE,
    OWNER_PHONE,
    RATE_LIMIT,
    UNREGISTERED_PHONE,
    Cast,
    Clock,
    file_on_web,
)
from tests.messaging.conftest import wait_until
from workflow.adapters import orm
from workflow.adapters.orm import outbox
from workflow.bootstrap import Services
from workflow.domain import commands
from workflow.domain.model import Channel
from workflow.entrypoints.workflow_service import Consumers
from workflow.messaging.bus import Ack, BatchHandler, Bus, Handler, RetryPolicy, run_batch
from workflow.messaging.envelope import Envelope
from workflow.messaging.relay import OutboxRelay
from workflow.messaging.sms_store import sms_messages

_ids = itertools.count(1)


def mo(sender: str, text: str, mo_id: str | None = None) -> MoMessage:
    return MoMessage(mo_id or f"batch-{next(_ids)}", sender, text)


async def answer(services: Services, mos: Sequence[MoMessage]) -> list[object]:
    config = InboundConfig.from_services(services)
    async with services.engine.begin() as conn:
        return list(await answer_batch(conn, config, mos, services.clock()))


def envelope(sender: str, text: str, mo_id: str) -> Envelope:
    payload = {
        "mo_id": mo_id,
        "from": sender,
        "to": "4444",
        "text": text,
        "data_coding": 0,
        "received_at": "2026-11-25T09:00:00+00:00",
    }
    return Envelope.new("sms.inbound", payload)


def consumers(services: Services) -> Consumers:
    return Consumers(services.settings, services.engine, services)


async def stored(engine: AsyncEngine, purpose: str) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        query = select(sms_messages).where(sms_messages.c.purpose == purpose).order_by(sms_messages.c.mo_id)
        return [dict(r) for r in (await conn.execute(query)).mappings().all()]


async def count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


# --- answer_batch ----------------------------------------------------------------------------------


async def test_a_batch_from_one_phone_is_limited_exactly_as_one_by_one(
    services: Services, cast: Cast
) -> None:
    replies = await answer(services, [mo(OWNER_PHONE, "YARDIM") for _ in range(RATE_LIMIT + 3)])
    assert all(isinstance(r, str) and r.startswith("Komutlar") for r in replies[:RATE_LIMIT])
    warning = replies[RATE_LIMIT]
    assert isinstance(warning, str) and "dakika sonra" in warning
    assert replies[RATE_LIMIT + 1 :] == [None, None]
    # The counter carries over into the next batch (and to one-by-one handling).
    assert await handle_mo(services, mo(OWNER_PHONE, "YARDIM")) is None


async def test_a_batch_continues_the_count_of_earlier_messages(services: Services, cast: Cast) -> None:
    for _ in range(RATE_LIMIT - 1):
        assert await handle_mo(services, mo(OWNER_PHONE, "?")) is not None
    replies = await answer(
        services, [mo(OWNER_PHONE, "?"), mo(OTHER_MUHTAR_PHONE, "?"), mo(OWNER_PHONE, "?")]
    )
    assert isinstance(replies[0], str) and replies[0].startswith("Komutlar")
    assert isinstance(replies[1], str) and replies[1].startswith("Komutlar")  # per number
    assert isinstance(replies[2], str) and "dakika sonra" in replies[2]


async def test_a_mixed_batch_answers_each_sender_by_the_rules(
    services: Services, cast: Cast, engine: AsyncEngine
) -> None:
    mine = await file_on_web(services, cast.owner)
    theirs = await file_on_web(services, cast.other)
    replies = await answer(
        services,
        [
            mo(OWNER_PHONE, f"TALEP {mine}"),
            mo(OWNER_PHONE, f"TALEP {theirs}"),  # another muhtar's request
            mo(OTHER_MUHTAR_PHONE, f"talep {mine}"),  # a stranger asking about mine
            mo(UNREGISTERED_PHONE, f"TALEP {mine}"),
            mo(UNREGISTERED_PHONE, "YARDIM"),  # the same unregistered number: no second reply today
            mo("+4915112345678", "YARDIM"),  # not a Turkish mobile
            mo(OWNER_PHONE, "ISTEK " + DESCRIPTION),
            mo(OWNER_PHONE, "TALEPLER"),
            mo(OWNER_PHONE, "istek kısa"),
            mo(OTHER_MUHTAR_PHONE, f"T {theirs}"),
        ],
    )
    assert isinstance(replies[0], str) and replies[0].startswith(f"Talep {mine}: Bekleyen")
    not_found = str(replies[1]).replace(str(theirs), str(mine))
    assert "bulunamad" in not_found
    assert replies[2] == replies[3] == not_found  # stranger and unregistered: as if it did not exist
    assert replies[4] is None and replies[5] is None
    assert isinstance(replies[6], Deferred) and isinstance(replies[7], Deferred)
    assert isinstance(replies[8], str) and "en az 20 karakter" in replies[8]
    assert isinstance(replies[9], str) and replies[9].startswith(f"Talep {theirs}: Bekleyen")
    async with engine.connect() as conn:
        log = (await conn.execute(select(orm.data_access_log).order_by(orm.data_access_log.c.id))).all()
    assert sorted((r.viewer_id, r.source_addr) for r in log) == sorted(
        [(cast.owner, "sms"), (cast.other, "sms")]
    )
    assert await count(engine, orm.requests) == 2  # nothing filed inside the batch


async def test_a_rolled_back_batch_leaves_no_trace(
    services: Services, cast: Cast, engine: AsyncEngine
) -> None:
    number = await file_on_web(services, cast.owner)
    config = InboundConfig.from_services(services)
    async with services.engine.connect() as conn:
        async with conn.begin() as tx:
            [reply] = await answer_batch(conn, config, [mo(OWNER_PHONE, f"TALEP {number}")], services.clock())
            assert isinstance(reply, str)
            await tx.rollback()
    assert await count(engine, orm.data_access_log) == 0
    assert await count(engine, inbound_rate_counters) == 0


# --- the workflow service's sms.inbound batches --------------------------------------------------------


async def test_a_batch_is_stored_and_answered_once_even_when_redelivered(
    services: Services, cast: Cast, engine: AsyncEngine
) -> None:
    number = await file_on_web(services, cast.owner)
    batch = [
        envelope(OWNER_PHONE, f"TALEP {number}", "mo-a"),
        envelope(OTHER_MUHTAR_PHONE, f"TALEP {number}", "mo-b"),
        envelope(OWNER_PHONE, f"TALEP {number}", "mo-a"),  # the SMSC delivered it twice, same batch
        envelope(OWNER_PHONE, "ŞİKAYET " + DESCRIPTION, "mo-c"),
        envelope(UNREGISTERED_PHONE, "YARDIM", "mo-d"),
        envelope(UNREGISTERED_PHONE, "YARDIM", "mo-e"),
    ]
    consumer = consumers(services)
    await consumer.on_sms_inbound(batch)
    await consumer.on_sms_inbound(list(reversed(batch)))  # the whole batch redelivered
    mos = await stored(engine, "mo")
    assert [m["mo_id"] for m in mos] == ["mo-a", "mo-b", "mo-c", "mo-d", "mo-e"]
    assert {m["state"] for m in mos} == {"handled"}
    replies = {r["reply_to_id"]: r for r in await stored(engine, "reply")}
    by_mo = {m["mo_id"]: m["id"] for m in mos}
    assert set(replies) == {by_mo["mo-a"], by_mo["mo-b"], by_mo["mo-c"], by_mo["mo-d"]}  # mo-e: one a day
    assert str(replies[by_mo["mo-a"]]["text"]).startswith(f"Talep {number}: Bekleyen")
    assert "bulunamad" in str(replies[by_mo["mo-b"]]["text"])
    assert "talep no: " in str(replies[by_mo["mo-c"]]["text"])
    assert replies[by_mo["mo-a"]]["phone_e164"] == OWNER_PHONE
    assert await count(engine, orm.requests) == 2  # the filing filed once
    async with engine.connect() as conn:
        rows = (await conn.execute(select(outbox).where(outbox.c.topic == "sms.outbound"))).all()
    outbound = [r for r in rows if any(str(reply["id"]) in r.payload for reply in replies.values())]
    assert len(outbound) == 4  # one sms.outbound message per reply, nothing twice


async def test_the_consumer_counts_the_mos_of_a_batch_in_arrival_order(
    services: Services, cast: Cast, engine: AsyncEngine
) -> None:
    # mo_ids that sort against the arrival order: the limit notice still goes to the first MO over it.
    batch = [envelope(OWNER_PHONE, "YARDIM", f"mo-{9 - i}") for i in range(RATE_LIMIT + 2)]
    await consumers(services).on_sms_inbound(batch)
    mos = {m["id"]: m["mo_id"] for m in await stored(engine, "mo")}
    replies = {mos[str(r["reply_to_id"])]: str(r["text"]) for r in await stored(engine, "reply")}
    over = f"mo-{9 - RATE_LIMIT}"
    assert "dakika sonra" in replies[over]
    assert sorted(replies) == sorted(f"mo-{9 - i}" for i in range(RATE_LIMIT + 1))  # then silence
    assert all(text.startswith("Komutlar") for mo_id, text in replies.items() if mo_id != over)


async def test_concurrent_batches_with_the_same_mos_answer_each_once(
    services: Services, cast: Cast, engine: AsyncEngine
) -> None:
    number = await file_on_web(services, cast.owner)
    batch = [envelope(OWNER_PHONE, f"TALEP {number}", f"mo-{i}") for i in range(4)]
    consumer = consumers(services)
    policy = RetryPolicy(delays_s=(0.01,), max_attempts=3)
    items = [(e.encode(), 1) for e in batch]
    outcomes = await asyncio.gather(
        run_batch("sms.inbound", consumer.on_sms_inbound, items, policy),
        run_batch("sms.inbound", consumer.on_sms_inbound, list(reversed(items)), policy),
    )
    assert all(isinstance(o, Ack) for batch_outcomes in outcomes for o in batch_outcomes)
    mos = await stored(engine, "mo")
    assert len(mos) == 4 and {m["state"] for m in mos} == {"handled"}
    replies = await stored(engine, "reply")
    assert sorted(str(r["reply_to_id"]) for r in replies) == sorted(str(m["id"]) for m in mos)


async def test_batch_status_equals_the_service_layer_view_in_every_state(
    services: Services, cast: Cast, clock: Clock
) -> None:
    pending = await file_on_web(services, cast.owner)
    routed = await file_on_web(services, cast.owner)
    handed_back = await file_on_web(services, cast.owner)
    concluded = await file_on_web(services, cast.owner)
    migm, bel = cast.users["MIGM"], cast.users["BEL-ILCE-1231"]
    clock.advance(hours=3)
    targets = (
        commands.Target(cast.units["VAL-06"], "İnceleyiniz."),
        commands.Target(cast.units["BEL-ILCE-1231"], "Yol onarımı."),
    )
    ids = await services.commands.handle(commands.RouteRequest(migm, routed, targets))
    await services.commands.handle(commands.TakeOn(bel, routed, ids[1]))
    clock.advance(days=1)
    await services.commands.handle(commands.Complete(bel, routed, ids[1], "Yol onarıldı."))
    [back] = await services.commands.handle(commands.RouteRequest(migm, handed_back, targets[1:]))
    clock.advance(hours=2)
    await services.commands.handle(commands.HandBack(bel, handed_back, back, "Bizim yetkimizde değil."))
    [done] = await services.commands.handle(commands.RouteRequest(migm, concluded, targets[1:]))
    await services.commands.handle(commands.TakeOn(bel, concluded, done))
    await services.commands.handle(commands.Complete(bel, concluded, done, "Gerekli onarım yapıldı."))
    clock.advance(days=2)
    await services.commands.handle(commands.Conclude(migm, concluded, "Talep sonuçlandırıldı, teşekkürler."))
    numbers = [pending, routed, handed_back, concluded]
    expected = [
        await answers.find_status(services, [cast.owner], n, Channel.SMS, services.clock()) for n in numbers
    ]
    async with services.engine.begin() as conn:
        got = await answers.owned_statuses(
            conn, [([cast.owner], n) for n in numbers], Channel.SMS, services.clock()
        )
    assert got == expected
    assert [v.state.value for v in got if v is not None] == [
        "bekleyen",
        "yonlendirilen",
        "bekleyen",
        "sonuclanan",
    ]
    assert got[1] is not None and len(got[1].units) == 2
    # The workflow service's consumer (on PostgreSQL its own statements, inbound.pg_batch) replies with
    # exactly these views.
    await consumers(services).on_sms_inbound(
        [envelope(OWNER_PHONE, f"TALEP {n}", f"mo-s{n}") for n in numbers]
    )
    replies = {r["reply_to_id"]: r["text"] for r in await stored(services.engine, "reply")}
    mos = {m["mo_id"]: m["id"] for m in await stored(services.engine, "mo")}
    config = InboundConfig.from_services(services)
    texts = [status_text(view, config) for view in expected if view is not None]
    assert [replies[mos[f"mo-s{n}"]] for n in numbers] == texts
    assert "Çankaya" in texts[1]  # the routed request lists its units


class PublishedOnly(Bus):
    """A bus that only records what is published (the relays' side of the round trip)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Envelope]] = []

    @property
    def queues(self) -> frozenset[str]:
        return frozenset({"sms.outbound"})

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, topic: str, envelope: Envelope) -> None:
        self.published.append((topic, envelope))

    async def requeue(self, queue: str, body: bytes) -> None:
        raise AssertionError("no replays here")

    async def consume(self, queue: str, handler: Handler, *, prefetch: int | None = None) -> None:
        raise AssertionError("nothing consumed here")

    async def consume_batches(
        self, queue: str, handler: BatchHandler, *, max_batch: int = 50, prefetch: int | None = None
    ) -> None:
        raise AssertionError("nothing consumed here")


async def test_each_reply_is_published_once_with_two_relays_running(
    services: Services, cast: Cast, engine: AsyncEngine
) -> None:
    number = await file_on_web(services, cast.owner)
    bus = PublishedOnly()
    relays = [OutboxRelay(engine, bus, batch=3, poll_s=0.05) for _ in range(2)]
    for relay in relays:
        await relay.start()
    try:
        consumer = consumers(services)
        # Three batches while the relays run (and race each other); with the hourly limit of 5, the owner's
        # sixth message gets the limit notice: every MO here gets exactly one reply.
        phones = [OTHER_MUHTAR_PHONE if i % 3 == 1 else OWNER_PHONE for i in range(9)]
        for start in range(0, 9, 3):
            await consumer.on_sms_inbound(
                [envelope(phones[i], f"TALEP {number}", f"mo-r{i}") for i in range(start, start + 3)]
            )
        await consumer.on_sms_inbound([envelope(OWNER_PHONE, f"TALEP {number}", "mo-r0")])  # again

        async def all_sent() -> bool:
            async with engine.connect() as conn:
                query = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
                return int((await conn.execute(query)).scalar_one()) == 0

        await wait_until(all_sent, "every outbox row published")
    finally:
        for relay in relays:
            await relay.stop()
    assert await relays[0].publish_pending() == 0  # nothing left for another round
    replies = await stored(engine, "reply")
    sent = [e.payload["sms_id"] for topic, e in bus.published if topic == "sms.outbound"]
    assert len(replies) == 9 and sorted(sent) == sorted(str(r["id"]) for r in replies)
