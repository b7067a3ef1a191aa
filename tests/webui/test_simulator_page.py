"""The SMSC simulator's page: staff only, only when the app was given a simulator, form errors in Turkish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.simulator import Simulator
from tests.webui.conftest import Clock, Muhtar, World, log_in, sign_in_staff
from webui.app import init_app
from workflow.settings import Settings

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator({"muhtar": ""})
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def sim_client(
    settings: Settings, engine: AsyncEngine, clock: Clock, tmp_path: Path, sim: Simulator
) -> AsyncIterator[TestClient]:
    app = init_app(settings, engine=engine, clock=clock, attachments_dir=tmp_path, simulator=sim)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_staff_see_the_traffic_and_get_turkish_form_errors(
    sim_client: TestClient, engine: AsyncEngine, world: World
) -> None:
    await sign_in_staff(sim_client, engine, world.users["migm"])
    page = await sim_client.get("/personel/simulator")
    html = await page.text()
    assert page.status == 200 and "SMS Simülatörü" in html and "Henüz giden SMS yok." in html
    for phone, message in (
        ("0212 123 45 67", "Bu bir cep telefonu numarası değil."),
        ("0532 123 45 67", "SMS ağ geçidi simülatöre bağlı değil"),  # no gateway bound in this test
    ):
        response = await sim_client.post(
            "/personel/simulator",
            data={"csrf_token": "staff-csrf-token", "telefon": phone, "metin": "TALEP 1"},
        )
        assert response.status == 400 and message in await response.text()


async def test_not_for_muhtars_or_strangers(
    sim_client: TestClient, engine: AsyncEngine, world: World, muhtar: Muhtar
) -> None:
    assert (await sim_client.get("/personel/simulator")).url.path == "/personel/giris"
    await log_in(sim_client, engine, muhtar)
    assert (await sim_client.get("/personel/simulator")).url.path == "/personel/giris"


async def test_no_page_without_a_simulator(client: TestClient, engine: AsyncEngine, world: World) -> None:
    await sign_in_staff(client, engine, world.users["migm"])
    assert (await client.get("/personel/simulator")).status == 404


async def test_mails_of_the_file_outbox_are_shown(
    settings: Settings, engine: AsyncEngine, clock: Clock, tmp_path: Path, sim: Simulator, world: World
) -> None:
    import dataclasses
    from email.message import EmailMessage

    outbox = tmp_path / "mail"
    outbox.mkdir()
    mail = EmailMessage()
    mail["To"] = "ayse.yilmaz@muhtar.gov.tr"
    mail["Subject"] = "1234 numaralı talebiniz sonuçlandı"
    mail["Date"] = "Mon, 02 Mar 2026 09:00:00 +0000"
    mail.set_content("Sayın Ayşe Yılmaz, talebiniz sonuçlanmıştır.")
    (outbox / "m1.eml").write_bytes(bytes(mail))
    settings = dataclasses.replace(settings, mail=dataclasses.replace(settings.mail, outbox_dir=str(outbox)))
    app = init_app(settings, engine=engine, clock=clock, attachments_dir=tmp_path / "att", simulator=sim)
    async with TestClient(TestServer(app)) as client:
        await sign_in_staff(client, engine, world.users["migm"])
        html = await (await client.get("/personel/simulator")).text()
    assert "1234 numaralı talebiniz sonuçlandı" in html and "ayse.yilmaz@muhtar.gov.tr" in html
    assert "Sayın Ayşe Yılmaz, talebiniz sonuçlanmıştır." in html
