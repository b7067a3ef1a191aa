"""E-mail notifications from real domain events (service layer on SQLite and PostgreSQL): who gets what,
preferences, dedupe; and the staff digest of a unit's new and overdue tasks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import column, insert, select, table, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import World, build_world
from workflow.adapters import orm
from workflow.bootstrap import Services, bootstrap
from workflow.domain import commands as c
from workflow.mail.compose import ISTANBUL
from workflow.mail.digest import queue_due_digests
from workflow.mail.preferences import MailPreferences, get_preferences, set_digest, set_preferences
from workflow.mail.tables import mail_messages
from workflow.messaging.envelope import Envelope
from workflow.messaging.notifications import run_event_hooks
from workflow.settings import Settings, load_settings

ADDRESS = "ayse.yilmaz@muhtar.gov.tr"
ATTACHMENT = "a" * 32
# The web area's table (migration 0005), named without importing webui/.
ATTACHMENTS = table(
    "attachments",
    *(
        column(name)
        for name in (
            "id",
            "sha256",
            "size",
            "media_type",
            "original_name",
            "uploaded_by_kind",
            "uploaded_by_id",
            "request_id",
            "created_at",
        )
    ),
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={"MUHTAR_WEB_BASE_URL": "https://muhtar.example"}, var_dir=tmp_path)


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    w = await build_world(engine)
    async with engine.begin() as conn:
        await conn.execute(update(orm.muhtars).where(orm.muhtars.c.id == w.muhtars[0]).values(email=ADDRESS))
    return w


@pytest.fixture
def services(engine: AsyncEngine, settings: Settings) -> Services:
    return bootstrap(settings, engine=engine)


async def events(engine: AsyncEngine) -> list[Envelope]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(orm.outbox).where(orm.outbox.c.topic.like("events.%")).order_by(orm.outbox.c.id)
        )
        return [
            Envelope(
                r.schema,
                r.schema_version,
                r.message_id,
                r.correlation_id,
                r.created_at,
                json.loads(r.payload),
            )
            for r in rows
        ]


async def handle_events(engine: AsyncEngine, settings: Settings) -> None:
    for envelope in await events(engine):
        async with engine.begin() as conn:
            await run_event_hooks(conn, envelope, settings)


async def mails(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(mail_messages).order_by(mail_messages.c.created_at, mail_messages.c.id)
        )
        return [dict(r) for r in rows.mappings()]


async def life_cycle(services: Services, world: World, engine: AsyncEngine, muhtar: int = 0) -> int:
    bus, u, units = services.commands, world.users, world.units
    number = await bus.handle(
        c.FileRequest(world.muhtars[muhtar], "sikayet", "Parkın aydınlatması yetersiz.")
    )
    await bus.handle(c.RouteRequest(u["migm"], number, (c.Target(units["BEL-ILCE-1231"], "İnceleyiniz."),)))
    async with services.uow() as uow:
        request = await uow.requests.get_by_number(number)
    assignment = request.open_assignment_for(units["BEL-ILCE-1231"])
    async with engine.begin() as conn:
        await conn.execute(
            insert(ATTACHMENTS).values(
                id=ATTACHMENT,
                sha256="0" * 64,
                size=10,
                media_type="image/jpeg",
                original_name="aydınlatma <önce>.jpg",
                uploaded_by_kind="staff",
                uploaded_by_id=u["cankaya.bel"],
                request_id=request.id,
                created_at=datetime.now(UTC),
            )
        )
    await bus.handle(c.Complete(u["cankaya.bel"], number, assignment.id, "Lambalar değişti.", (ATTACHMENT,)))
    await bus.handle(c.Conclude(u["migm"], number, "Aydınlatma yenilendi. İyi günler.", (ATTACHMENT,)))
    return number


async def test_received_and_concluded_by_default(
    services: Services, world: World, engine: AsyncEngine, settings: Settings
) -> None:
    number = await life_cycle(services, world, engine)
    await handle_events(engine, settings)
    got = await mails(engine)
    assert [m["purpose"] for m in got] == ["request_received", "request_concluded"]
    received, concluded = got
    assert received["to_address"] == ADDRESS and received["to_name"] == "Ayşe Yılmaz"
    assert received["subject"] == f"Talebiniz alındı – Talep No: {number}"
    assert "şikâyet başvurunuz" in received["body_text"]
    assert f"https://muhtar.example/talepler/{number}" in received["body_text"]
    assert concluded["subject"] == f"Talebiniz sonuçlandı – Talep No: {number}"
    assert "Aydınlatma yenilendi. İyi günler." in concluded["body_text"]
    link = f"https://muhtar.example/talepler/{number}/ekler/{ATTACHMENT}"
    assert f"- aydınlatma <önce>.jpg: {link}" in concluded["body_text"]
    assert "aydınlatma &lt;önce&gt;.jpg" in concluded["body_html"]
    assert all(m["state"] == "queued" and m["muhtar_id"] == world.muhtars[0] for m in got)
    # Handling the same events again (a redelivery) queues nothing more.
    await handle_events(engine, settings)
    assert len(await mails(engine)) == 2


async def test_routing_steps_by_preference_and_nothing_when_opted_out(
    services: Services, world: World, engine: AsyncEngine, settings: Settings
) -> None:
    async with engine.begin() as conn:
        assert await get_preferences(conn, world.muhtars[0]) == MailPreferences(True, True, False)
        await set_preferences(conn, world.muhtars[0], MailPreferences(False, True, True))
        await set_preferences(
            conn, world.muhtars[0], MailPreferences(False, False, True)
        )  # second write updates
        assert await get_preferences(conn, world.muhtars[0]) == MailPreferences(False, False, True)
    await life_cycle(services, world, engine)
    await handle_events(engine, settings)
    got = await mails(engine)
    assert [m["purpose"] for m in got] == ["request_step", "request_step"]
    assert "şu birimlere yönlendirilmiştir:\n- Çankaya Belediyesi" in got[0]["body_text"]
    assert "tamamlayan birim:\n- Çankaya Belediyesi" in got[1]["body_text"]


@pytest.mark.parametrize(
    ("case", "env"),
    [
        ("no address", {}),
        ("inactive", {}),
        ("production without mail.enabled", {"MUHTAR_MODE": "production"}),
    ],
)
async def test_no_mail(
    services: Services, world: World, engine: AsyncEngine, tmp_path: Path, case: str, env: dict[str, str]
) -> None:
    muhtar = 1 if case == "no address" else 0
    await life_cycle(services, world, engine, muhtar=muhtar)
    if case == "inactive":
        async with engine.begin() as conn:
            await conn.execute(
                update(orm.muhtars).where(orm.muhtars.c.id == world.muhtars[0]).values(active=False)
            )
    production = {
        "MUHTAR_WEB_SECRET_KEY": "x" * 40,
        "MUHTAR_SMPP_SIMULATOR": "false",
    }
    settings = load_settings(env={**env, **(production if env else {})}, var_dir=tmp_path)
    await handle_events(engine, settings)
    assert await mails(engine) == []


async def test_staff_digest_new_then_overdue_once_a_day(
    services: Services, world: World, engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = load_settings(env={"MUHTAR_MAIL_DIGEST_HOUR": "0"}, var_dir=tmp_path)
    bus, u, units = services.commands, world.users, world.units
    number = await bus.handle(
        c.FileRequest(world.muhtars[0], "istek", "Köy yolunun yapımı için destek istiyoruz.")
    )
    await bus.handle(c.RouteRequest(u["migm"], number, (c.Target(units["VAL-06"], "İnceleyiniz."),)))
    second = await bus.handle(
        c.FileRequest(world.muhtars[1], "ihbar", "Mahallede kaçak yapı yapılıyor, inceleyiniz.")
    )
    async with engine.begin() as conn:
        await set_digest(conn, "ankara", "ankara.valilik@example.gov.tr", True)
        await set_digest(conn, "migm", "migm@example.gov.tr", True)
        await set_digest(conn, "izmir", "izmir@example.gov.tr", True)  # nothing routed to İzmir
        await set_digest(conn, "saglik06", "saglik@example.gov.tr", False)  # opted out

    soon = datetime.now(UTC) + timedelta(hours=1)
    async with engine.begin() as conn:
        assert await queue_due_digests(conn, settings, soon) == 2
    async with engine.begin() as conn:
        assert await queue_due_digests(conn, settings, soon + timedelta(minutes=5)) == 0  # once a day
    got = {m["to_address"]: m for m in await mails(engine)}
    assert set(got) == {"ankara.valilik@example.gov.tr", "migm@example.gov.tr"}
    ankara = got["ankara.valilik@example.gov.tr"]["body_text"]
    assert f"- Talep {number} (İstek), geliş:" in ankara
    assert "Süresi geçmiş görevler (0):\n- Yok" in ankara
    assert got["ankara.valilik@example.gov.tr"]["subject"].startswith(
        "Günlük görev özeti – Ankara Valiliği – "
    )
    assert f"- Talep {second} (İhbar)" in got["migm@example.gov.tr"]["body_text"]

    later = datetime.now(UTC) + timedelta(days=16)
    async with engine.begin() as conn:
        assert await queue_due_digests(conn, settings, later) == 2
    overdue = [m for m in await mails(engine) if m["to_address"] == "ankara.valilik@example.gov.tr"][-1]
    assert "Son 24 saatte gelen yeni görevler (0):\n- Yok" in overdue["body_text"]
    assert f"- Talep {number} (İstek), son tarih:" in overdue["body_text"]
    assert "gün gecikmiş" in overdue["body_text"]


async def test_digest_waits_for_its_hour(
    services: Services, world: World, engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = load_settings(env={"MUHTAR_MAIL_DIGEST_HOUR": "7"}, var_dir=tmp_path)
    await services.commands.handle(
        c.FileRequest(world.muhtars[0], "istek", "Köy yolunun yapımı için destek istiyoruz.")
    )
    # The next 07:00 in İstanbul after the filing: within 24 hours, so the request is still "new".
    local = datetime.now(UTC).astimezone(ISTANBUL)
    seven = local.replace(hour=7, minute=0, second=0, microsecond=0)
    if seven <= local:
        seven += timedelta(days=1)
    async with engine.begin() as conn:
        await set_digest(conn, "migm", "migm@example.gov.tr", True)
        assert await queue_due_digests(conn, settings, (seven - timedelta(minutes=1)).astimezone(UTC)) == 0
        assert await queue_due_digests(conn, settings, seven.astimezone(UTC)) == 1
