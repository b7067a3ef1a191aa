"""A real browser (Debian's chromium driven by Playwright) through the muhtar's whole path: log in with the
code from the SMS log, file a request with an attachment, find it under Bekleyen. Screenshots of every page
go to test-artifacts/webui/.

Without /usr/bin/chromium the test is skipped on a developer's machine and FAILS in CI (CI=true).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.webui.conftest import Muhtar, last_code
from webui.app import COOKIE_NAME
from webui.keys import KEYS
from workflow.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "webui"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TEXT = "Okul yolundaki yaya geçidinin çizgileri silinmiş, sabahları çocuklar için tehlikeli."

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = (
        f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium, or `make chromium`)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def server(app: web.Application) -> AsyncIterator[TestServer]:
    async with TestServer(app, host="127.0.0.1") as srv:
        yield srv


@pytest.fixture
async def page(server: TestServer) -> AsyncIterator[object]:
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 412, "height": 915}, locale="tr-TR")  # a phone
        try:
            yield await context.new_page()
        finally:
            await browser.close()


async def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def captcha_answer(page, app: web.Application) -> str:  # type: ignore[no-untyped-def]
    """What a person reads off the image: the test, knowing the server secret, reads it from the cookie."""
    fernet = Fernet(base64.urlsafe_b64encode(app[KEYS].cookie))
    cookie = next(c for c in await page.context.cookies() if c["name"] == COOKIE_NAME)
    return str(json.loads(fernet.decrypt(cookie["value"].encode()))["session"]["captcha"]["answer"])


async def test_muhtar_files_a_request_in_a_real_browser(
    page, server: TestServer, app: web.Application, engine: AsyncEngine, muhtar: Muhtar, tmp_path: Path
) -> None:
    base = str(server.make_url("/"))
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    await page.goto(base)
    await shot(page, "01-ana-sayfa")
    await page.get_by_role("link", name=re.compile("BAŞVURU")).click()

    await page.wait_for_url(re.compile(r"/giris"))
    await page.get_by_label("T.C. Kimlik No").fill("12345678901")
    await page.get_by_label("Ad Soyad").focus()  # leaving the field checks the check digits at once
    assert "geçerli görünmüyor" in (await page.locator("#tckn-canli").text_content() or "")
    await page.get_by_label("T.C. Kimlik No").fill(muhtar.tckn)
    await page.get_by_label("Ad Soyad").fill("ayşe yılmaz")
    await page.get_by_label("Doğrulama Kodu").fill(await captcha_answer(page, app))
    await shot(page, "02-giris")
    await page.get_by_role("button", name="Onay Kodu Gönder").click()

    await page.wait_for_url(re.compile(r"/giris/onay"))
    assert "0532 *** ** 67" in await page.content()
    await shot(page, "03-onay-kodu")
    await page.get_by_label("Onay Kodu").fill(await last_code(engine, muhtar.phone))
    await page.get_by_role("button", name="Sisteme Giriş").click()

    await page.wait_for_url(re.compile(r"/basvuru$"))
    await page.get_by_label("İstek").check()
    await page.get_by_label("Açıklama").fill(TEXT)
    assert f"{len(TEXT)} / 4000 karakter" in await page.content()  # the live count (JavaScript) works
    photo = tmp_path / "yaya-gecidi.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (240, 240, 240)).save(buffer, format="PNG")
    photo.write_bytes(buffer.getvalue())
    await page.get_by_label("Ekler (isteğe bağlı)").set_input_files(str(photo))
    await shot(page, "04-basvuru-formu")
    await page.get_by_role("button", name="Gönder").click()

    await page.wait_for_url(re.compile(r"/basvuru/gonderildi/\d+"))
    number = page.url.rsplit("/", 1)[-1]
    assert "Talebiniz alındı" in await page.content()
    await shot(page, "05-talep-alindi")

    await page.get_by_role("link", name="Talep Sorgulama").click()
    await page.wait_for_url(re.compile(r"/talepler"))
    assert "Bekleyen Taleplerim (1)" in await page.content()
    await shot(page, "06-bekleyen-taleplerim")
    await page.get_by_role("link", name=f"Talep {number}").click()

    await page.wait_for_url(re.compile(rf"/talepler/{number}$"))
    content = await page.content()
    assert TEXT in content and "yaya-gecidi.png" in content and "Talep oluşturuldu." in content
    await shot(page, "07-talep-ayrintisi")

    await page.get_by_role("button", name="Çıkış").click()
    await page.wait_for_url(base)
    assert "Oturumunuz kapatıldı." in await page.content()
    assert errors == []  # no CSP violations or script errors
