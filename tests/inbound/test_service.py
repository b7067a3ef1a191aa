"""handle_mo on the real database (SQLite and PostgreSQL): authorization, limits, filing, replies."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.encoding import segments
from inbound.replies import fit
from inbound.service import MoMessage, handle_mo
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
from workflow.adapters import orm
from workflow.bootstrap import Services
from workflow.domain import commands

_ids = itertools.count(1)


async def send(services: Services, sender: str, text: str, mo_id: str | None = None) -> str | None:
    return await handle_mo(services, MoMessage(mo_id or f"mo-{next(_ids)}", sender, text))


async def route_to_two_units(services: Services, cast: Cast, number: int) -> None:
    targets = (
        commands.Target(cast.units["VAL-06"], "İnceleyiniz."),
        commands.Target(cast.units["BEL-ILCE-1231"], "Yol onarımı."),
    )
    assignment_ids = await services.commands.handle(
        commands.RouteRequest(cast.users["MIGM"], number, targets)
    )
    bel_user = cast.users["BEL-ILCE-1231"]
    await services.commands.handle(commands.TakeOn(bel_user, number, assignment_ids[1]))
    await services.commands.handle(commands.Complete(bel_user, number, assignment_ids[1], "Yol onarıldı."))


async def test_owner_gets_the_state_of_a_pending_request(services: Services, cast: Cast) -> None:
    number = await file_on_web(services, cast.owner)
    reply = await send(services, OWNER_PHONE, f"talep {number}")
    assert reply == f"Talep {number}: Bekleyen, son hareket 25.11.2026."


async def test_owner_sees_each_routed_unit_working_or_done(
    services: Services, cast: Cast, clock: Clock
) -> None:
    number = await file_on_web(services, cast.owner)
    clock.advance(hours=14)  # 26.11.2026 01:00 in Istanbul: the date is the local one
    await route_to_two_units(services, cast, number)
    reply = await send(services, "0532 123 45 67", f"TALEP#{number}")
    assert reply is not None
    assert reply.startswith(f"Talep {number}: Yönlendirilen, son hareket 26.11.2026.")
    assert "Ankara Valiliği: işlemde" in reply or "Ankara Valiligi: islemde" in reply
    assert "Çankaya Belediyesi: tamamlandı" in reply or "Çankaya Belediyesi: tamamlandi" in reply
    assert segments(reply, services.settings.sms.encoding) == 1


async def test_concluded_request(services: Services, cast: Cast, clock: Clock) -> None:
    number = await file_on_web(services, cast.owner)
    clock.advance(days=2)
    await services.commands.handle(
        commands.Conclude(cast.users["MIGM"], number, "Mükerrer talep, kapatıldı.")
    )
    reply = await send(services, OWNER_PHONE, f"T {number}")
    assert reply == f"Talep {number}: Sonuçlanan, son hareket 27.11.2026."


async def test_stranger_and_unregistered_get_the_not_found_reply(services: Services, cast: Cast) -> None:
    number = await file_on_web(services, cast.owner)
    missing = number + 1000
    for_missing = await send(services, OWNER_PHONE, f"TALEP {missing}")
    turkish = (
        f"Talep {missing} bulunamadı. Yalnızca talebi açan muhtarın kayıtlı telefonundan sorgulanabilir."
    )
    assert for_missing == fit([turkish], mode=services.settings.sms.encoding)
    by_other_muhtar = await send(services, OTHER_MUHTAR_PHONE, f"TALEP {number}")
    by_unregistered = await send(services, UNREGISTERED_PHONE, f"TALEP {number}")
    assert by_other_muhtar == by_unregistered == for_missing.replace(str(missing), str(number))
    assert "Bekleyen" not in (by_other_muhtar or "")


async def test_unregistered_number_gets_one_reply_a_day(services: Services, cast: Cast, clock: Clock) -> None:
    first = await send(services, UNREGISTERED_PHONE, "YARDIM")
    assert first is not None and "kayıtlı muhtar" in first.replace("kayitli", "kayıtlı")
    assert await send(services, UNREGISTERED_PHONE, "TALEP 1000") is None
    assert await send(services, UNREGISTERED_PHONE, "ŞİKAYET " + DESCRIPTION) is None
    clock.advance(hours=15)  # 26.11 in Istanbul
    assert await send(services, UNREGISTERED_PHONE, "TALEP 1000") is not None
    async with services.engine.connect() as conn:
        filed = (await conn.execute(select(func.count()).select_from(orm.requests))).scalar()
    assert filed == 0


async def test_filing_by_sms_creates_a_request_once(
    services: Services, cast: Cast, engine: AsyncEngine
) -> None:
    text = "ŞİKÂYET: " + DESCRIPTION
    reply = await send(services, OWNER_PHONE, text, mo_id="mo-filing-1")
    again = await send(services, OWNER_PHONE, text, mo_id="mo-filing-1")  # SMSC redelivery
    assert reply == again
    assert reply is not None and "talep no: " in reply
    number = int(reply.split("talep no: ")[1].split(".")[0])
    async with engine.connect() as conn:
        rows = (await conn.execute(select(orm.requests))).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.number, row.kind, row.channel, row.muhtar_id) == (number, "sikayet", "sms", cast.owner)
    assert row.description == DESCRIPTION
    status = await send(services, OWNER_PHONE, f"TALEP {number}")
    assert status is not None and status.startswith(f"Talep {number}: Bekleyen")


async def test_filing_too_short_says_the_minimum(services: Services, cast: Cast) -> None:
    reply = await send(services, OWNER_PHONE, "istek yol bozuk")
    assert reply is not None and "en az 20 karakter" in reply


async def test_filing_refused_by_the_domain_explains(services: Services, cast: Cast) -> None:
    reply = await send(services, OWNER_PHONE, "ISTEK " + "çok uzun " * 600)
    assert reply is not None and reply.startswith(("Talebiniz alınamadı", "Talebiniz alinamadi"))
    assert "4000" in reply


async def test_list_of_open_requests_newest_first(services: Services, cast: Cast, clock: Clock) -> None:
    numbers = []
    for _ in range(3):
        numbers.append(await file_on_web(services, cast.owner))
        clock.advance(minutes=1)
    await services.commands.handle(commands.Conclude(cast.users["MIGM"], numbers[0], "Kapsam dışı talep."))
    await file_on_web(services, cast.other)  # another muhtar's: not listed
    reply = await send(services, OWNER_PHONE, "Talepler")
    assert reply is not None
    assert reply.startswith(
        f"Açık talepleriniz: {numbers[2]} Bekleyen, {numbers[1]} Bekleyen."
    ) or reply.startswith(f"Acik talepleriniz: {numbers[2]} Bekleyen, {numbers[1]} Bekleyen.")
    assert str(numbers[0]) not in reply


async def test_list_when_nothing_is_open(services: Services, cast: Cast) -> None:
    reply = await send(services, OWNER_PHONE, "DURUM")
    assert reply is not None and ("Açık talebiniz yok" in reply or "Acik talebiniz yok" in reply)


async def test_long_list_says_how_many_more_and_points_to_the_web(
    services: Services, cast: Cast, clock: Clock
) -> None:
    for _ in range(40):
        await file_on_web(services, cast.owner)
        clock.advance(seconds=1)
    reply = await send(services, OWNER_PHONE, "TALEPLER")
    assert reply is not None
    assert "talep daha var" in reply and services.settings.web.base_url in reply
    assert segments(reply, services.settings.sms.encoding) <= 2


async def test_rate_limit_warns_once_then_silence_until_the_hour_resets(
    services: Services, cast: Cast, clock: Clock
) -> None:
    replies = [await send(services, OWNER_PHONE, "YARDIM") for _ in range(RATE_LIMIT + 3)]
    assert all(r is not None and r.startswith("Komutlar") for r in replies[:RATE_LIMIT])
    warning = replies[RATE_LIMIT]
    assert warning is not None and "dakika sonra" in warning
    assert replies[RATE_LIMIT + 1 :] == [None, None]
    clock.advance(hours=1)
    again = await send(services, OWNER_PHONE, "YARDIM")
    assert again is not None and again.startswith("Komutlar")


async def test_unregistered_number_never_gets_a_second_reply_even_the_limit_notice(
    services: Services, cast: Cast
) -> None:
    replies = [await send(services, UNREGISTERED_PHONE, "YARDIM") for _ in range(RATE_LIMIT + 3)]
    assert replies[0] is not None
    assert replies[1:] == [None] * (RATE_LIMIT + 2)


async def test_rate_limit_is_per_number(services: Services, cast: Cast) -> None:
    for _ in range(RATE_LIMIT + 2):
        await send(services, OWNER_PHONE, "?")
    assert await send(services, OTHER_MUHTAR_PHONE, "?") is not None


HOSTILE = [
    "",
    "   ",
    "A" * 100_000,
    "🙂" * 500,
    "\x00\x01\x02\x1b[2J",
    "'; DROP TABLE requests; --",
    "<script>alert('x')</script>",
    "\u202eTALEP\u202c",
    "TALEP 99999999999999999999999999",
    "TALEP 9223372036854775808",
    "مرحبا بالعالم",
]


async def test_hostile_input_gets_help_or_not_found_never_an_error(
    services: Services, cast: Cast, clock: Clock
) -> None:
    for text in HOSTILE:
        clock.advance(hours=1)  # stay under the hourly limit
        reply = await send(services, OTHER_MUHTAR_PHONE, text)
        assert reply is not None
        assert reply.startswith(("Komutlar", "Talep")), (text[:20], reply)
        assert segments(reply, services.settings.sms.encoding) <= 2


async def test_sender_that_is_not_a_turkish_mobile_is_ignored(services: Services, cast: Cast) -> None:
    assert await send(services, "+4915112345678", "YARDIM") is None
    assert await send(services, "MUHTAR", "YARDIM") is None


async def test_payload_mapping_is_accepted(services: Services, cast: Cast) -> None:
    payload = {"mo_id": "abc", "from": OWNER_PHONE, "to": "4444", "text": "yardım", "received_at": "x"}
    reply = await handle_mo(services, payload)
    assert reply is not None and reply.startswith("Komutlar")


async def test_owner_query_is_written_to_the_access_log(
    services: Services, cast: Cast, engine: AsyncEngine
) -> None:
    number = await file_on_web(services, cast.owner)
    await send(services, OWNER_PHONE, f"TALEP {number}")
    await send(services, OTHER_MUHTAR_PHONE, f"TALEP {number}")
    async with engine.connect() as conn:
        rows = (await conn.execute(select(orm.data_access_log))).all()
    assert [(r.viewer_id, r.viewer_kind, r.source_addr) for r in rows] == [(cast.owner, "muhtar", "sms")]


async def test_phone_registered_for_two_muhtars(services: Services, cast: Cast, engine: AsyncEngine) -> None:
    second = uuid4().hex
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        muhtarlik_id = (await conn.execute(select(orm.muhtarliks.c.id))).scalar()
        await conn.execute(
            insert(orm.muhtars).values(
                id=second,
                tckn="30000000302",
                full_name="Ayşe Yılmaz",
                phone_e164=OWNER_PHONE,
                muhtarlik_id=muhtarlik_id,
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
    mine = await file_on_web(services, cast.owner)
    theirs = await file_on_web(services, second)
    for number in (mine, theirs):
        reply = await send(services, OWNER_PHONE, f"TALEP {number}")
        assert reply is not None and reply.startswith(f"Talep {number}: Bekleyen")
    listing = await send(services, OWNER_PHONE, "TALEPLER")
    assert listing is not None and str(mine) in listing and str(theirs) in listing
    filing = await send(services, OWNER_PHONE, "ISTEK " + DESCRIPTION)
    assert filing is not None and "web" in filing
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(orm.requests))).scalar() == 2


async def test_inactive_muhtar_is_unregistered(services: Services, cast: Cast, engine: AsyncEngine) -> None:
    number = await file_on_web(services, cast.owner)
    async with engine.begin() as conn:
        await conn.execute(update(orm.muhtars).where(orm.muhtars.c.id == cast.owner).values(active=False))
    reply = await send(services, OWNER_PHONE, f"TALEP {number}")
    assert reply is not None and "bulunamad" in reply


async def test_concurrent_messages_from_one_phone_count_exactly(services: Services, cast: Cast) -> None:
    replies = await asyncio.gather(*(send(services, OWNER_PHONE, "YARDIM") for _ in range(RATE_LIMIT + 5)))
    answered = [r for r in replies if r is not None and r.startswith("Komutlar")]
    warned = [r for r in replies if r is not None and "dakika sonra" in r]
    assert (len(answered), len(warned), replies.count(None)) == (RATE_LIMIT, 1, 4)


async def test_concurrent_messages_from_an_unregistered_phone_get_one_reply(
    services: Services, cast: Cast
) -> None:
    replies = await asyncio.gather(*(send(services, UNREGISTERED_PHONE, "YARDIM") for _ in range(4)))
    assert replies.count(None) == 3


async def test_concurrent_redeliveries_of_a_filing_file_once(
    services: Services, cast: Cast, engine: AsyncEngine
) -> None:
    text = "İHBAR " + DESCRIPTION
    replies = await asyncio.gather(*(send(services, OWNER_PHONE, text, mo_id="mo-same") for _ in range(3)))
    assert len(set(replies)) == 1 and replies[0] is not None and "talep no" in replies[0]
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(orm.requests))).scalar() == 1
