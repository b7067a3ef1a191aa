"""The app shell: public pages, error pages, security and cache headers, CSRF refusals."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.webui.conftest import Clock, csrf_of
from webui.app import init_app
from webui.render import static_url
from workflow.settings import Settings

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

HEADER = "T.C. İçişleri Bakanlığı"


@pytest.mark.parametrize(
    ("path", "must_contain"),
    [
        ("/", ("BAŞVURU", "TALEP SORGULAMA", "TALEP 1234", "TALEPLER", "YARDIM", "SIKAYET", "*4444#")),
        ("/kvkk-aydinlatma-metni", ("Aydınlatma Metni", "Veri sorumlusu", "11 inci maddesi")),
        ("/erisilebilirlik-beyani", ("Erişilebilirlik Beyanı", "WCAG 2.1 AA", "Bilinen kısıtlamalar")),
        ("/giris", ("T.C. Kimlik No", "Ad Soyad", "Doğrulama Kodu", "Onay Kodu Gönder")),
    ],
)
async def test_public_pages(client: TestClient, path: str, must_contain: tuple[str, ...]) -> None:
    response = await client.get(path)
    html = await response.text()
    assert response.status == 200
    assert HEADER in html and "Mahalli İdareler Genel Müdürlüğü" in html
    assert "/kvkk-aydinlatma-metni" in html and "/erisilebilirlik-beyani" in html
    for text in must_contain:
        assert text in html
    assert "<script>" not in html and "style=" not in html  # CSP forbids inline code


async def test_security_headers_on_pages_and_errors(client: TestClient) -> None:
    for path, status in (("/", 200), ("/yok-boyle-bir-sayfa", 404)):
        response = await client.get(path)
        assert response.status == status
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"


async def test_static_files_are_cached_by_version(client: TestClient) -> None:
    versioned = await client.get(static_url("css/site.css"))
    assert versioned.status == 200
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = await client.get("/static/js/site.js")
    assert plain.headers["Cache-Control"] == "public, max-age=3600"
    assert (await client.get("/static/../app.py")).status in (403, 404)


@pytest.mark.parametrize(
    ("method", "path", "status", "title"),
    [
        ("GET", "/yok", 404, "Sayfa bulunamadı"),
        ("GET", "/talepler/abc", 404, "Sayfa bulunamadı"),
        ("PUT", "/giris", 405, "İşlem desteklenmiyor"),
    ],
)
async def test_turkish_error_pages(
    client: TestClient, method: str, path: str, status: int, title: str
) -> None:
    response = await client.request(method, path)
    html = await response.text()
    assert response.status == status
    assert title in html and HEADER in html


async def test_unexpected_error_is_a_turkish_page_without_traceback(
    settings: Settings, engine: AsyncEngine, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = init_app(settings, engine=engine, clock=clock, attachments_dir=tmp_path)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret detail 12345678901")

    app.router.add_get("/_boom", boom)
    async with TestClient(TestServer(app)) as client:
        with caplog.at_level(logging.ERROR):
            response = await client.get("/_boom")
        html = await response.text()
    assert response.status == 500
    assert "Beklenmeyen bir hata oluştu" in html
    assert "Traceback" not in html and "secret detail" not in html and "RuntimeError" not in html
    assert "RuntimeError" in caplog.text and "12345678901" not in caplog.text


@pytest.mark.parametrize(
    ("token", "why"),
    [(None, "missing"), ("", "missing"), ("yanlis-belirtec", "wrong")],
)
async def test_form_without_valid_csrf_token_is_refused(
    client: TestClient, token: str | None, why: str
) -> None:
    await client.get("/giris")  # a session with a token exists
    data = {"tckn": "10000000146", "ad_soyad": "Ayşe Yılmaz", "dogrulama_kodu": "12345"}
    if token is not None:
        data["csrf_token"] = token
    response = await client.post("/giris", data=data)
    html = await response.text()
    assert response.status == 403
    assert "Güvenlik doğrulaması başarısız oldu" in html


async def test_csrf_token_from_an_expired_session_is_refused(client: TestClient) -> None:
    token = csrf_of(await (await client.get("/giris")).text())
    client.session.cookie_jar.clear()  # the session is gone (expired, browser closed)
    response = await client.post("/giris", data={"csrf_token": token, "tckn": "1"})
    assert response.status == 403


async def test_multipart_to_a_form_that_does_not_stream_is_refused(client: TestClient) -> None:
    token = csrf_of(await (await client.get("/giris")).text())
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("dosya", b"x", filename="x.txt")
    response = await client.post("/giris", data=form)
    assert response.status == 403


async def test_favicon(client: TestClient) -> None:
    response = await client.get("/favicon.ico")
    assert response.status == 200 and (await response.read())[:4] == b"\x00\x00\x01\x00"


async def test_captcha_image_and_audio(client: TestClient) -> None:
    assert (await client.get("/giris/dogrulama-kodu.png")).status == 404  # no captcha issued yet
    await client.get("/giris")
    image = await client.get("/giris/dogrulama-kodu.png")
    assert image.status == 200 and image.content_type == "image/png"
    assert (await image.read()).startswith(b"\x89PNG")
    audio = await client.get("/giris/dogrulama-kodu.wav")
    assert audio.status == 200 and audio.content_type == "audio/wav"
    assert (await audio.read())[:4] == b"RIFF"
