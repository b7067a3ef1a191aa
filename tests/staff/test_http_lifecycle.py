"""The whole staff life cycle through HTTP, and each action's refusals (state, stale screen, bad input,
disguised files, CSRF), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import World
from tests.staff.conftest import Browser, assignment_id, file, signed_in
from webui.tables import attachments
from workflow.adapters import orm
from workflow.bootstrap import Services
from workflow.domain import commands as c

GOREV_RE = re.compile(r'name="gorev" value="([0-9a-f]{32})"')
FILE_RE = re.compile(r'/ekler/([0-9a-f]{32})">([^<]+)</a>')


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def page(n: int, suffix: str = "") -> str:
    return f"/personel/talepler/{n}{suffix}"


async def load(services: Services, n: int):  # type: ignore[no-untyped-def]
    async with services.uow() as uow:
        return await uow.requests.get_by_number(n)


async def test_life_cycle(
    browsers: dict[str, Browser], services: Services, world: World, engine: AsyncEngine
):
    n = await file(services, world)
    units = world.units
    migm = await signed_in(browsers, "migm")
    await migm.get(page(n))
    assert "SEÇİLEN BİRİMLERE YÖNLENDİR" in migm.last_html and "100******46" in migm.last_html
    assert "10000000146" not in migm.last_html  # TCKN masked
    # Search the picker without JavaScript, keep the choice, search again, then route with a note each.
    await migm.submit(page(n), page(n, "/yonlendir"), {"islem": "ara", "birim_ara": "Ankara"})
    assert "Ankara Valiliği" in migm.last_html and "İzmir Valiliği" not in migm.last_html
    await migm.submit(
        "",
        page(n, "/yonlendir"),
        [
            ("islem", "ara"),
            ("birim", str(units["VAL-06"])),
            (f"not_{units['VAL-06']}", "Valilik incelesin."),
            ("birim_ara", "Çankaya Bel"),
        ],
    )
    assert "Seçilen birimler" in migm.last_html and "Valilik incelesin." in migm.last_html
    assert "Çankaya Belediyesi" in migm.last_html
    await migm.submit(
        "",
        page(n, "/yonlendir"),
        [
            ("islem", "yonlendir"),
            ("birim", str(units["VAL-06"])),
            (f"not_{units['VAL-06']}", "Valilik incelesin."),
            ("birim", str(units["BEL-ILCE-1231"])),
            (f"not_{units['BEL-ILCE-1231']}", "Belediye baksın."),
        ],
    )
    assert "seçilen birimlere yönlendirildi" in migm.last_html

    ankara = await signed_in(browsers, "ankara")
    await ankara.get(page(n))
    assert "Üzerine Al" in ankara.last_html and "Belediye baksın." in ankara.last_html  # other units' notes
    await ankara.submit(
        page(n),
        page(n, "/ilet"),
        {
            "gorev": GOREV_RE.search(ankara.last_html).group(1),
            "birim": str(units["ILM-06-saglik"]),
            "not": "Sağlık ve kaymakamlık baksın.",
        },
    )
    await ankara.submit(
        "",
        page(n, "/ilet"),
        {
            "gorev": GOREV_RE.search(ankara.last_html).group(1),
            "birim": str(units["KAY-1231"]),
            "not": "Ek olarak.",
        },
    )
    assert "Çankaya Kaymakamlığı — Yeni" in ankara.last_html
    assert re.search(r'<button type="submit" class="primary" disabled[^>]*>İŞLEMİ TAMAMLA', ankara.last_html)

    for user, name, content in (("saglik06", "rapor.png", png()), ("cankaya.kay", "tutanak.pdf", PDF)):
        b = await signed_in(browsers, user)
        await b.get(page(n))
        gorev = GOREV_RE.search(b.last_html).group(1)
        response = await b.upload(
            page(n), page(n, "/tamamla"), {"gorev": gorev, "not": f"{user} işi bitirdi."}, [(name, content)]
        )
        assert response.status == 200 and "İşleminiz tamamlandı" in b.last_html, b.last_html[-3000:]

    await ankara.get(page(n))
    gorev = GOREV_RE.search(ankara.last_html).group(1)
    await ankara.upload(page(n), page(n, "/tamamla"), {"gorev": gorev, "not": "Alt birimler tamamladı."}, [])
    assert "İşleminiz tamamlandı" in ankara.last_html
    bel = await signed_in(browsers, "cankaya.bel")
    await bel.get(page(n))
    await bel.upload(
        page(n),
        page(n, "/tamamla"),
        {"gorev": GOREV_RE.search(bel.last_html).group(1), "not": "Lambalar değişti."},
        [],
    )
    assert "İşleminiz tamamlandı" in bel.last_html

    await migm.get(page(n, "/sonuc"))
    assert "rapor.png" in migm.last_html and "tutanak.pdf" in migm.last_html
    assert "Çankaya Kaymakamlığı" in migm.last_html and "Lambalar değişti." in migm.last_html
    assert re.search(r'<button type="submit" class="primary">SÜRECİ TAMAMLA', migm.last_html)
    files = dict((name, fid) for fid, name in FILE_RE.findall(migm.last_html))
    await migm.submit(
        page(n, "/sonuc"),
        page(n, "/sonuclandir"),
        {"sonuc_notu": "Parkın aydınlatması yenilendi.", "ek": files["rapor.png"]},
    )
    assert "Süreç tamamlandı" in migm.last_html

    request = await load(services, n)
    assert request.is_concluded and request.public_attachment_ids == [files["rapor.png"]]
    async with engine.connect() as conn:
        topics = [t for (t,) in await conn.execute(select(orm.outbox.c.topic))]
        linked = (
            await conn.execute(
                select(func.count()).select_from(attachments).where(attachments.c.request_id == request.id)
            )
        ).scalar_one()
        views = (
            await conn.execute(
                select(func.count())
                .select_from(orm.data_access_log)
                .where(orm.data_access_log.c.request_id == request.id)
            )
        ).scalar_one()
    assert "events.request.concluded" in topics and linked == 2 and views >= 10

    # Files: served to those who may see the request, to nobody else.
    response = await ankara.get(page(n, f"/ekler/{files['rapor.png']}"))
    assert response.status == 200 and response.headers["Content-Type"] == "image/png"
    outsider = await signed_in(browsers, "izmir")
    assert (await outsider.get(page(n, f"/ekler/{files['rapor.png']}"))).status == 404


async def test_stale_screen_gets_the_reload_message(
    browsers: dict[str, Browser], services: Services, world: World
):
    n = await file(services, world)
    await services.commands.handle(c.RouteRequest(world.users["migm"], n, (c.Target(world.units["VAL-06"]),)))
    ankara = await signed_in(browsers, "ankara")
    await ankara.get(page(n))
    await services.commands.handle(c.SetPriority(world.users["migm"], n, "acil"))  # someone else acts
    response = await ankara.submit(
        "", page(n, "/uzerine-al"), {"gorev": GOREV_RE.search(ankara.last_html).group(1)}
    )
    assert response.status == 409 and "sayfayı yenileyip" in ankara.last_html


async def test_refusals_keep_what_was_typed(browsers: dict[str, Browser], services: Services, world: World):
    n = await file(services, world)
    await services.commands.handle(c.RouteRequest(world.users["migm"], n, (c.Target(world.units["VAL-06"]),)))
    ankara = await signed_in(browsers, "ankara")
    await ankara.get(page(n))
    gorev = GOREV_RE.search(ankara.last_html).group(1)
    # A Valilik must take it on or forward first.
    response = await ankara.upload(
        page(n), page(n, "/tamamla"), {"gorev": gorev, "not": "Tamamdır efendim."}, []
    )
    assert response.status == 409 and "üzerinize almalı" in ankara.last_html
    await ankara.submit(page(n), page(n, "/uzerine-al"), {"gorev": gorev})
    response = await ankara.upload(page(n), page(n, "/tamamla"), {"gorev": gorev, "not": "ok"}, [])
    assert (
        response.status == 400
        and "en az 5 karakter" in ankara.last_html
        and ">ok</textarea>" in ankara.last_html
    )
    response = await ankara.submit(page(n), page(n, "/iade"), {"gorev": gorev, "gerekce": "yok"})
    assert (
        response.status == 400
        and "İade gerekçesi" in ankara.last_html
        and ">yok</textarea>" in ankara.last_html
    )
    response = await ankara.submit(
        page(n), page(n, "/ilet"), {"gorev": gorev, "birim": str(world.units["ILM-35-saglik"])}
    )
    assert response.status == 403 and "alt birimi değil" in ankara.last_html
    response = await ankara.submit(page(n), page(n, "/not"), {"ic_not": "x"})
    assert response.status == 400
    response = await ankara.submit(page(n), page(n, "/not"), {"ic_not": "Belediye ile görüşüldü."})
    assert "İç not eklendi" in ankara.last_html and "iç kayıt, muhtar görmez" in ankara.last_html


async def test_disguised_and_oversized_files_are_refused(
    browsers: dict[str, Browser], services: Services, world: World, engine: AsyncEngine
):
    n = await file(services, world)
    await services.commands.handle(
        c.RouteRequest(world.users["migm"], n, (c.Target(world.units["BEL-ILCE-1231"]),))
    )
    bel = await signed_in(browsers, "cankaya.bel")
    await bel.get(page(n))
    gorev = GOREV_RE.search(bel.last_html).group(1)
    fields = {"gorev": gorev, "not": "Yerinde bakıldı."}
    response = await bel.upload(
        page(n), page(n, "/tamamla"), fields, [("foto.png", b"MZ\x90\x00 not an image")]
    )
    assert response.status == 400 and "türü kabul edilmiyor" in bel.last_html
    too_many = [(f"r{i}.pdf", PDF) for i in range(6)]
    response = await bel.upload(page(n), page(n, "/tamamla"), fields, too_many)
    assert response.status == 400 and "En fazla 5 dosya" in bel.last_html
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(attachments))).scalar_one() == 0
    assert not (await load(services, n)).assignments[0].completion_note


async def test_forms_without_csrf_are_refused(browsers: dict[str, Browser], services: Services, world: World):
    n = await file(services, world)
    migm = await signed_in(browsers, "migm")
    for action in ("/oncelik", "/yonlendir", "/not", "/sonuclandir", "/uzerine-al"):
        response = await migm.post(page(n, action), {"oncelik": "acil", "ic_not": "deneme notu"})
        assert response.status == 403 and "Güvenlik doğrulaması" in migm.last_html
    response = await migm.post(page(n, "/tamamla"), {"not": "x"})
    assert response.status == 403
    assert (await load(services, n)).priority.value == "normal"


async def test_direct_closure_without_routing(browsers: dict[str, Browser], services: Services, world: World):
    n = await file(services, world)
    migm = await signed_in(browsers, "migm")
    await migm.get(page(n, "/sonuc"))
    assert "Kapatma gerekçesi" in migm.last_html
    await migm.submit("", page(n, "/sonuclandir"), {"sonuc_notu": "Mükerrer başvuru; 1000 numaralı talepte."})
    assert "Süreç tamamlandı" in migm.last_html and (await load(services, n)).is_concluded
    response = await migm.submit(
        page(n, "/sonuc"), page(n, "/sonuclandir"), {"sonuc_notu": "Bir daha kapat."}
    )
    assert response.status == 409 and "Sonuçlanmış bir talepte" in migm.last_html


async def test_review_of_a_hand_back(browsers: dict[str, Browser], services: Services, world: World):
    n = await file(services, world)
    units = world.units
    await services.commands.handle(
        c.RouteRequest(world.users["migm"], n, (c.Target(units["VAL-06"]), c.Target(units["BEL-ILCE-1231"])))
    )
    bel_id = await assignment_id(services, n, units["BEL-ILCE-1231"])
    await services.commands.handle(c.HandBack(world.users["cankaya.bel"], n, bel_id, "Görev alanımız değil."))
    migm = await signed_in(browsers, "migm")
    await migm.get("/personel/gelen-kutusu?sekme=iade")
    assert f">{n}</a>" in migm.last_html and "İade Edilenler (1)" in migm.last_html
    await migm.get(page(n))
    assert "Görev alanımız değil." in migm.last_html
    await migm.submit("", page(n, "/iade-degerlendir"), {"gorev": bel_id})
    assert "değerlendirildi olarak işaretlendi" in migm.last_html
    await migm.get("/personel/gelen-kutusu?sekme=iade")
    assert "İade Edilenler (0)" in migm.last_html
