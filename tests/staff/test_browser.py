"""A real browser (Debian's chromium driven by Playwright) through the staff side of a request's whole life:
MİGM routes it to a Valilik and a Belediye with the unit picker, the Valilik forwards it to an İl Müdürlüğü
and a Kaymakamlık, each completes with a note and a file, the Valilik and the Belediye complete, MİGM
concludes with a file made public. Screenshots of every step go to test-artifacts/staff/.

The closure SMS reaching the SMSC simulator is checked by the end-to-end test wired by the lead; here the
conclusion's outbox event is checked. Without /usr/bin/chromium the test skips locally and FAILS in CI.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser import StaffWindow, launched_chromium
from tests.integration.world import World
from tests.staff.conftest import file
from workflow.adapters import orm
from workflow.bootstrap import Services
from workflow.paths import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "staff"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched_chromium() as browser:
        yield browser


class Desk(StaffWindow):
    """One staff user at their own browser window (own cookies), taking screenshots as they go."""

    artifacts = ARTIFACTS

    async def open_request(self, number: int) -> None:
        await self.page.goto(f"{self.base}personel/talepler/{number}")

    async def complete(self, note: str, upload: Path | None) -> None:
        await self.page.get_by_label("Tamamlama notu").fill(note)
        if upload is not None:
            await self.page.get_by_label("Ekler (isteğe bağlı)").set_input_files(str(upload))
        await self.page.get_by_role("button", name="İŞLEMİ TAMAMLA").click()
        await self.page.wait_for_load_state()
        assert "İşleminiz tamamlandı." in await self.page.content()


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


async def test_staff_life_cycle_in_a_real_browser(
    chromium: Any, server: TestServer, services: Services, world: World, engine: AsyncEngine, tmp_path: Path
) -> None:
    base, errors = str(server.make_url("/")), []
    number = await file(services, world)

    migm = await Desk.signed_in(chromium, base, errors, "migm")
    assert f"/personel/talepler/{number}" in await migm.page.content()
    await migm.shot("01-migm-gelen-kutusu")
    await migm.page.get_by_role("link", name=str(number), exact=True).click()
    await migm.page.get_by_label("Öncelik").select_option("yuksek")
    await migm.page.get_by_role("button", name="Önceliği Kaydet").click()
    await migm.page.get_by_label("Birim ara (Valilik ya da Belediye)").fill("Ankara")
    await migm.page.get_by_role("button", name="Ara", exact=True).click()
    await migm.page.get_by_role("checkbox", name=re.compile("^Ankara Valiliği")).check()
    await migm.page.get_by_label("Ankara Valiliği için yönlendirme notu").fill("Aydınlatma için inceleyiniz.")
    await migm.page.get_by_label("Birim ara (Valilik ya da Belediye)").fill("Çankaya")
    await migm.page.get_by_role("button", name="Ara", exact=True).click()
    await migm.page.get_by_role("checkbox", name=re.compile("^Çankaya Belediyesi")).check()
    await migm.page.get_by_label("Çankaya Belediyesi için yönlendirme notu").fill("Lambaları değiştiriniz.")
    await migm.shot("02-migm-birim-secimi")
    await migm.page.get_by_role("button", name="SEÇİLEN BİRİMLERE YÖNLENDİR").click()
    assert "Talep seçilen birimlere yönlendirildi." in await migm.page.content()
    await migm.shot("03-migm-yonlendirildi")

    ankara = await Desk.signed_in(chromium, base, errors, "ankara")
    await ankara.open_request(number)
    await ankara.page.get_by_role("checkbox", name="Ankara İl Sağlık Müdürlüğü").check()
    await ankara.page.get_by_role("checkbox", name="Çankaya Kaymakamlığı").check()
    await ankara.page.get_by_label("Not", exact=True).fill("İlgili birimler gereğini yapsın.")
    await ankara.shot("04-valilik-alt-birimlere-iletim")
    await ankara.page.get_by_role("button", name="Seçilen Alt Birimlere İlet").click()
    assert await ankara.page.get_by_role("button", name="İŞLEMİ TAMAMLA").is_disabled()
    await ankara.shot("05-valilik-alt-birimlerde")

    for user, colour in (("saglik06", (10, 120, 10)), ("cankaya.kay", (10, 10, 120))):
        sub = await Desk.signed_in(chromium, base, errors, user)
        await sub.open_request(number)
        await sub.complete(f"{user}: yerinde inceleme yapıldı.", picture(tmp_path / f"{user}.png", colour))
        await sub.shot(f"06-{user}-tamamladi")

    await ankara.open_request(number)
    await ankara.complete("Alt birimler işlemlerini tamamladı.", None)
    belediye = await Desk.signed_in(chromium, base, errors, "cankaya.bel")
    await belediye.open_request(number)
    await belediye.complete("Parktaki lambalar değiştirildi.", picture(tmp_path / "lamba.png", (200, 200, 0)))
    await belediye.shot("07-belediye-tamamladi")

    await migm.page.goto(f"{base}personel/talepler/{number}/sonuc")
    await migm.shot("08-migm-sonuc-ekrani")
    await migm.page.get_by_label("Sonuç notu (muhtara gösterilir)").fill("Parkın aydınlatması yenilendi.")
    await migm.page.get_by_role("checkbox", name="lamba.png").check()
    await migm.page.get_by_role("button", name="SÜRECİ TAMAMLA").click()
    assert "Süreç tamamlandı" in await migm.page.content()
    await migm.shot("09-migm-surec-tamamlandi")

    async with engine.connect() as conn:
        topics = [t for (t,) in await conn.execute(select(orm.outbox.c.topic))]
    assert "events.request.concluded" in topics
    assert errors == []  # no CSP violations or script errors
