"""BAŞVURU, its receipt, TALEP SORGULAMA and a request's page, through HTTP. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.webui.conftest import FORM_TOKEN_RE, Muhtar, World, csrf_of, log_in
from webui.keys import ATTACHMENTS_DIR, BUS
from webui.tables import attachments
from workflow.adapters import orm
from workflow.domain import commands as c

TEXT = "Mahallemizdeki parkın aydınlatması yetersiz, akşamları çocuklar karanlıkta kalıyor."
MB = 1024 * 1024


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

File = tuple[str, bytes, str]


async def file_form(
    client: TestClient,
    kind: str = "istek",
    text: str = TEXT,
    files: list[File] | None = None,
    token: str | None = None,
):  # type: ignore[no-untyped-def]
    html = await (await client.get("/basvuru")).text()
    form = FormData()
    form.add_field("csrf_token", csrf_of(html))  # first, as the page has it
    match = FORM_TOKEN_RE.search(html)
    assert match
    form.add_field("form_token", token or match.group(1))
    form.add_field("tur", kind)
    form.add_field("aciklama", text)
    for name, data, content_type in files or []:
        form.add_field("ekler", data, filename=name, content_type=content_type)
    return await client.post("/basvuru", data=form)


def number_of(response) -> int:  # type: ignore[no-untyped-def]
    match = re.search(r"/basvuru/gonderildi/(\d+)", str(response.url))
    assert match, response.url
    return int(match.group(1))


async def count(engine: AsyncEngine, table) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def stored_files(client: TestClient) -> list[Path]:
    root = client.app[ATTACHMENTS_DIR]
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
async def signed_in(client: TestClient, engine: AsyncEngine, muhtar: Muhtar) -> TestClient:
    await log_in(client, engine, muhtar)
    return client


async def test_form_shows_the_muhtars_details(signed_in: TestClient, muhtar: Muhtar) -> None:
    html = await (await signed_in.get("/basvuru")).text()
    for text in (
        "Ayşe Yılmaz",
        "Kızılay",
        "Çankaya / Ankara",
        "0532 *** ** 67",
        "Şikâyet",
        "İstek",
        "İhbar",
        "Görüş ve Öneri",
        "Gönder",
    ):
        assert text in html
    assert muhtar.tckn not in html and "1234567" not in html


async def test_file_a_request_with_attachments(signed_in: TestClient, engine: AsyncEngine) -> None:
    response = await file_form(
        signed_in,
        "sikayet",
        files=[("park.png", png_bytes(), "image/png"), ("dilekce.pdf", PDF, "application/pdf")],
    )
    html = await response.text()
    number = number_of(response)
    assert response.status == 200 and "Talebiniz alındı" in html and str(number) in html
    assert "2 dosya talebinize eklendi." in html
    detail = await (await signed_in.get(f"/talepler/{number}")).text()
    assert TEXT in detail and "Şikâyet" in detail and "Bekleyen" in detail and "Talep oluşturuldu." in detail
    assert "park.png" in detail and "dilekce.pdf" in detail
    links = re.findall(rf"/talepler/{number}/ekler/[0-9a-f]{{32}}", detail)
    image = await signed_in.get(links[0])
    assert image.status == 200 and image.content_type == "image/png" and await image.read() == png_bytes()
    pdf = await signed_in.get(links[1])
    assert pdf.headers["Content-Disposition"].startswith("attachment")
    assert len(stored_files(signed_in)) == 2  # under their hashes, temporary copies gone
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.name) for p in stored_files(signed_in))


async def test_new_request_is_under_bekleyen_with_counts(signed_in: TestClient) -> None:
    first = number_of(await file_form(signed_in, "istek"))
    second = number_of(
        await file_form(signed_in, "ihbar", text="Köprünün korkuluğu kırık, tehlike oluşturuyor.")
    )
    html = await (await signed_in.get("/talepler")).text()
    assert "Bekleyen Taleplerim (2)" in html and "Yönlendirilen Taleplerim (0)" in html
    assert "Sonuçlanan Taleplerim (0)" in html
    assert html.index(f"Talep {second}") < html.index(f"Talep {first}")  # newest first
    assert "İhbar" in html and "Köprünün korkuluğu" in html
    empty = await (await signed_in.get("/talepler?durum=sonuclanan")).text()
    assert "Bu durumda talebiniz yok." in empty


async def test_lists_are_paged(signed_in: TestClient) -> None:
    numbers = [number_of(await file_form(signed_in, text=f"{TEXT} ({i})")) for i in range(21)]
    page1 = await (await signed_in.get("/talepler?durum=bekleyen")).text()
    assert (
        f"Talep {numbers[-1]}<" in page1 and f"Talep {numbers[0]}<" not in page1 and "Sonraki sayfa" in page1
    )
    page2 = await (await signed_in.get("/talepler?durum=bekleyen&sayfa=2")).text()
    assert f"Talep {numbers[0]}<" in page2 and "Önceki sayfa" in page2 and "Sonraki sayfa" not in page2
    assert (await signed_in.get("/talepler?sayfa=abc")).status == 200


async def test_double_submission_files_one_request(signed_in: TestClient, engine: AsyncEngine) -> None:
    html = await (await signed_in.get("/basvuru")).text()
    token = FORM_TOKEN_RE.search(html).group(1)  # type: ignore[union-attr]
    files = [("park.png", png_bytes(), "image/png")]
    first, second = await asyncio.gather(
        file_form(signed_in, token=token, files=files), file_form(signed_in, token=token, files=files)
    )
    assert number_of(first) == number_of(second)
    third = await file_form(signed_in, token=token, files=files)  # back + resend, later
    assert number_of(third) == number_of(first)
    assert await count(engine, orm.requests) == 1
    assert await count(engine, attachments) == 1
    assert len(stored_files(signed_in)) == 1


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("", TEXT, "Başvuru türünü seçin"),
        ("rica", TEXT, "Başvuru türünü seçin"),
        (
            "istek",
            "Çok kısa metin",
            "Açıklama en az 20 karakter olmalıdır. Yazdığınız metin 14 karakter: “Çok kısa metin”.",
        ),
        ("istek", "   ", "Açıklama en az 20 karakter olmalıdır."),
        ("istek", "a" * 4001, "Açıklama en fazla 4000 karakter olabilir; yazdığınız metin 4001 karakter."),
    ],
)
async def test_invalid_form_is_explained_and_files_nothing(
    signed_in: TestClient, engine: AsyncEngine, kind: str, text: str, message: str
) -> None:
    response = await file_form(signed_in, kind, text)
    html = await response.text()
    assert response.status == 400 and message in html
    if text.strip() and len(text) < 200:
        assert text in html  # what was typed is kept in the form
    assert await count(engine, orm.requests) == 0


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("buyuk.pdf", b"%PDF-" + b"0" * (10 * MB), "application/pdf")], "“buyuk.pdf” dosyası 10.0 MB"),
        (
            [("foto.jpg", b"MZ\x90\x00\x03" + b"\x00" * 200, "image/jpeg")],
            "“foto.jpg” dosyasının türü kabul edilmiyor",
        ),
        ([("sahte.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "image/png")], "“sahte.png” dosyasının türü"),
        ([("belge.txt", b"merhaba", "text/plain")], "“belge.txt” dosyasının türü kabul edilmiyor"),
        ([("bos.pdf", b"", "application/pdf")], "“bos.pdf” dosyası boş."),
        (
            [(f"{i}.pdf", PDF, "application/pdf") for i in range(6)],
            "En fazla 5 dosya ekleyebilirsiniz; 6 dosya seçtiniz.",
        ),
    ],
)
async def test_bad_uploads_are_refused_and_nothing_is_stored(
    signed_in: TestClient, engine: AsyncEngine, files: list[File], message: str
) -> None:
    response = await file_form(signed_in, files=files)
    html = await response.text()
    assert response.status == 400 and message in html
    assert "dosyaları yeniden seçin" in html
    assert await count(engine, orm.requests) == 0 and await count(engine, attachments) == 0
    assert stored_files(signed_in) == []


async def test_another_muhtars_request_does_not_exist(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, other_muhtar: Muhtar
) -> None:
    await log_in(client, engine, muhtar)
    response = await file_form(client, files=[("park.png", png_bytes(), "image/png")])
    number = number_of(response)
    detail = await (await client.get(f"/talepler/{number}")).text()
    link = re.search(rf"/talepler/{number}/ekler/[0-9a-f]{{32}}", detail).group(0)  # type: ignore[union-attr]
    client.session.cookie_jar.clear()
    await log_in(client, engine, other_muhtar)
    for path in (f"/talepler/{number}", f"/basvuru/gonderildi/{number}", link, "/talepler/999999"):
        response = await client.get(path)
        assert response.status == 404 and "Sayfa bulunamadı" in await response.text()
    listing = await (await client.get("/talepler")).text()
    assert f"Talep {number}" not in listing and "Bekleyen Taleplerim (0)" in listing


async def test_history_shows_units_never_internal_notes(signed_in: TestClient, world: World) -> None:
    number = number_of(await file_form(signed_in))
    bus = signed_in.app[BUS]
    migm = world.users["migm"]
    await bus.handle(c.AddNote(user_id=migm, number=number, note="GİZLİ İÇ NOT: muhtarı arayın"))
    await bus.handle(
        c.RouteRequest(
            user_id=migm,
            number=number,
            targets=(c.Target(world.units["VAL-06"], "Valiliğe yönlendirme notu"),),
        )
    )
    html = await (await signed_in.get(f"/talepler/{number}")).text()
    assert "Talep Ankara Valiliği birimine yönlendirildi." in html and "Yönlendirilen" in html
    assert "GİZLİ" not in html and "Valiliğe yönlendirme notu" not in html
    listing = await (await signed_in.get("/talepler?durum=yonlendirilen")).text()
    assert f"Talep {number}<" in listing and "Yönlendirilen Taleplerim (1)" in listing


async def test_concluded_request_shows_the_final_answer(signed_in: TestClient, world: World) -> None:
    number = number_of(await file_form(signed_in))
    answer = "Talebiniz Genel Müdürlüğümüzün görev alanı dışında olduğundan kapatılmıştır."
    await signed_in.app[BUS].handle(c.Conclude(user_id=world.users["migm"], number=number, final_note=answer))
    html = await (await signed_in.get(f"/talepler/{number}")).text()
    assert "Sonuç" in html and answer in html and "Talep sonuçlandırıldı." in html
    listing = await (await signed_in.get("/talepler?durum=sonuclanan")).text()
    assert f"Talep {number}<" in listing and "Sonuçlanan Taleplerim (1)" in listing


async def test_opening_a_request_is_written_to_the_access_log(
    signed_in: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    number = number_of(await file_form(signed_in))
    await signed_in.get(f"/talepler/{number}")
    async with engine.connect() as conn:
        rows = (await conn.execute(select(orm.data_access_log))).all()
    assert rows and all(r.viewer_kind == "muhtar" and r.viewer_id == muhtar.id for r in rows)


async def test_upload_without_csrf_first_is_refused(signed_in: TestClient, engine: AsyncEngine) -> None:
    form = FormData()
    form.add_field("tur", "istek")
    form.add_field("aciklama", TEXT)
    form.add_field("csrf_token", "yanlis")
    response = await signed_in.post("/basvuru", data=form)
    assert response.status == 403
    assert await count(engine, orm.requests) == 0


async def test_filing_without_a_session_goes_nowhere(client: TestClient, engine: AsyncEngine) -> None:
    form = FormData()
    form.add_field("csrf_token", csrf_of(await (await client.get("/giris")).text()))
    form.add_field("tur", "istek")
    form.add_field("aciklama", TEXT)
    response = await client.post("/basvuru", data=form)
    assert response.url.path == "/giris"
    assert await count(engine, orm.requests) == 0


async def test_a_form_our_page_does_not_send_is_a_bad_request(
    signed_in: TestClient, engine: AsyncEngine
) -> None:
    html = await (await signed_in.get("/basvuru")).text()
    form = FormData()
    form.add_field("csrf_token", csrf_of(html))
    form.add_field("tur", "istek")
    form.add_field("yonetici", "evet", content_type="text/plain")
    form.add_field("ekler", PDF, filename="a.pdf", content_type="application/pdf")
    response = await signed_in.post("/basvuru", data=form)
    assert response.status == 400 and "İstek anlaşılamadı" in await response.text()
    assert await count(engine, orm.requests) == 0 and stored_files(signed_in) == []


async def _chunked_form(csrf: str, file_bytes: int):  # type: ignore[no-untyped-def]
    """A multipart body sent chunked (no Content-Length), as a script could."""
    yield (
        f'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
        '--B\r\nContent-Disposition: form-data; name="ekler"; filename="dev.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-"
    ).encode()
    chunk = b"0" * MB
    for _ in range(file_bytes // MB):
        yield chunk
    yield b"\r\n--B--\r\n"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_overall_limit_is_refused(
    signed_in: TestClient, engine: AsyncEngine, chunked: bool
) -> None:
    csrf = csrf_of(await (await signed_in.get("/basvuru")).text())
    headers = {"Content-Type": "multipart/form-data; boundary=B"}
    if chunked:
        response = await signed_in.post("/basvuru", data=_chunked_form(csrf, 65 * MB), headers=headers)
    else:
        body = b"".join([part async for part in _chunked_form(csrf, 65 * MB)])
        response = await signed_in.post("/basvuru", data=body, headers=headers)
    assert response.status == 413 and "Gönderilen dosyalar çok büyük" in await response.text()
    assert await count(engine, orm.requests) == 0 and stored_files(signed_in) == []
