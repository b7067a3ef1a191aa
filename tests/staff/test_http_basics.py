"""Staff log-in, session ending, inbox and settings pages over HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import World
from tests.staff.conftest import Browser, StepClock, csrf_of, file, signed_in
from workflow.bootstrap import Services
from workflow.domain import commands as c
from workflow.service_layer.staff_tables import staff_login_log

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_login_lands_on_the_units_inbox(browsers: dict[str, Browser], world: World):
    b = browsers["ankara"]
    response = await b.login("ankara")
    assert response.status == 200 and response.url.path == "/personel/gelen-kutusu"
    assert "Gelen Kutusu" in b.last_html and "Ankara Valiliği" in b.last_html
    assert "Yeni (0)" in b.last_html


async def test_unsigned_visitor_is_sent_to_login_and_back(browsers: dict[str, Browser]):
    b = browsers["x"]
    response = await b.get("/personel/gorunumler?sira=eski")
    assert response.url.path == "/personel/giris"
    await b.post(
        "/personel/giris",
        {"csrf_token": await b.token(), "kullanici_adi": "izmir", "parola": "Test.Parola.1"},
    )
    assert b.last_html.count("Görünümler") >= 1 and "Biriminizin görebildiği" in b.last_html


async def test_offsite_next_is_ignored(browsers: dict[str, Browser]):
    b = browsers["x"]
    await b.get("/personel/giris?sonra=//evil.example/")
    response = await b.post(
        "/personel/giris",
        {"csrf_token": await b.token(), "kullanici_adi": "izmir", "parola": "Test.Parola.1"},
    )
    assert response.url.path == "/personel/gelen-kutusu"


BAD_LOGINS = (
    # (username, password, status, text on the page)
    ("ankara", "yanlis.parola.1", 400, "Kullanıcı adı veya parola hatalı."),
    ("kimse.yok", "Test.Parola.1", 400, "Kullanıcı adı veya parola hatalı."),
    ("", "Test.Parola.1", 400, "Kullanıcı adınızı ve parolanızı yazın."),
    ("ankara", "", 400, "Kullanıcı adınızı ve parolanızı yazın."),
    ("ankara" * 50, "x" * 5000, 400, "Kullanıcı adı veya parola hatalı."),
)


@pytest.mark.parametrize(("username", "password", "status", "text"), BAD_LOGINS)
async def test_bad_logins(browsers: dict[str, Browser], username: str, password: str, status: int, text: str):
    b = browsers["x"]
    response = await b.login(username, password)
    assert response.status == status and text in b.last_html
    assert password not in b.last_html or not password  # the password is never echoed


async def test_fifth_failure_makes_the_account_wait(
    browsers: dict[str, Browser], engine: AsyncEngine, world: World, clock: StepClock
):
    b = browsers["x"]
    for i in range(4):
        assert (await b.login("izmir", f"yanlis.{i}.parola")).status == 400
    response = await b.login("izmir", "yanlis.5.parola")
    assert response.status == 429 and "geçici olarak beklemeye" in b.last_html
    assert (await b.login("izmir")).status == 429  # even the right password waits
    clock.advance(minutes=1)
    assert (await b.login("izmir")).url.path == "/personel/gelen-kutusu"
    async with engine.connect() as conn:
        results = [
            r.result for r in await conn.execute(select(staff_login_log).order_by(staff_login_log.c.id))
        ]
    assert results == ["wrong_password"] * 4 + ["locked_out", "locked", "ok"]


async def test_login_without_csrf_is_refused(browsers: dict[str, Browser]):
    b = browsers["x"]
    response = await b.post("/personel/giris", {"kullanici_adi": "izmir", "parola": "Test.Parola.1"})
    assert response.status == 403 and "Güvenlik doğrulaması" in b.last_html


async def test_login_gives_a_new_session_and_logout_ends_it(browsers: dict[str, Browser]):
    b = browsers["x"]
    await b.get("/personel/giris")
    before = {c.key: c.value for c in b.session.cookie_jar}
    await b.login("izmir")
    after = {c.key: c.value for c in b.session.cookie_jar}
    assert before != after
    copied = dict(after)
    await b.post("/personel/cikis", {"csrf_token": await b.token("/personel/gelen-kutusu")})
    assert "Oturumunuz kapatıldı" in b.last_html
    # The copied cookie of the ended session opens nothing.
    b.session.cookie_jar.update_cookies(copied)
    response = await b.get("/personel/gelen-kutusu")
    assert response.url.path == "/personel/giris"


async def test_password_reset_ends_open_sessions(browsers: dict[str, Browser], world: World):
    user = await signed_in(browsers, "izmir")
    admin = await signed_in(browsers, "admin")
    await admin.submit(
        f"/personel/yonetim/kullanicilar/{world.users['izmir']}",
        f"/personel/yonetim/kullanicilar/{world.users['izmir']}",
        {"islem": "parola", "parola": "Yepyeni.Parola.7"},
    )
    assert "açık oturumları kapatıldı" in admin.last_html
    response = await user.get("/personel/gelen-kutusu")
    assert response.url.path == "/personel/giris" and "oturumunuz kapatıldı" in user.last_html
    assert (await user.login("izmir", "Yepyeni.Parola.7")).url.path == "/personel/gelen-kutusu"


async def test_idle_session_expires(browsers: dict[str, Browser], clock: StepClock):
    b = await signed_in(browsers, "izmir")
    clock.advance(minutes=16)
    response = await b.get("/personel/gelen-kutusu")
    assert response.url.path == "/personel/giris" and "süresi doldu" in b.last_html


async def test_inbox_tabs_counts_and_settings(browsers: dict[str, Browser], services: Services, world: World):
    n = await file(services, world)
    await services.commands.handle(c.RouteRequest(world.users["migm"], n, (c.Target(world.units["VAL-35"]),)))
    b = await signed_in(browsers, "izmir")
    await b.get("/personel/gelen-kutusu")
    assert "Yeni (1)" in b.last_html and f">{n}</a>" in b.last_html and "Kızılay" in b.last_html
    await b.submit(
        "/personel/ayarlar",
        "/personel/ayarlar",
        [("sutun", "kind"), ("sutun", "bogus"), ("sira", "oncelik"), ("sayfa_boyutu", "50")],
    )
    assert "Ayarlarınız kaydedildi" in b.last_html
    await b.get("/personel/gelen-kutusu")
    assert "Şikâyet" in b.last_html and "Kızılay" not in b.last_html  # only the chosen columns
    assert 'value="oncelik" selected' in b.last_html


async def test_search_page(browsers: dict[str, Browser], services: Services, world: World):
    n = await file(services, world, "Köprünün korkulukları kırıldı, çocuklar için tehlikeli.")
    b = await signed_in(browsers, "migm")
    await b.get("/personel/gorunumler?ara=korkuluk")
    assert f">{n}</a>" in b.last_html and "1 talep bulundu" in b.last_html
    await b.get("/personel/gorunumler?ara=%3Cscript%3E")
    assert "<script>" not in b.last_html and "0 talep bulundu" in b.last_html


async def test_unit_search_endpoint_is_migm_only(browsers: dict[str, Browser]):
    migm = await signed_in(browsers, "migm")
    response = await migm.get("/personel/birimler?ara=İzmir")
    assert response.status == 200
    names = [u["ad"] for u in await response.json()]
    assert names == ["İzmir Valiliği", "İzmir Büyükşehir Belediyesi"]
    other = await signed_in(browsers, "ankara")
    assert (await other.get("/personel/birimler?ara=İzmir")).status == 404


async def test_list_cells_are_escaped(browsers: dict[str, Browser], services: Services, world: World):
    """The list's cells are built in Python (webui/staff/presenters.row_cells): text is still escaped."""
    n = await file(services, world, 'Kırık <script>alert(1)</script> & korkuluk "tehlikeli" yazısı.')
    b = await signed_in(browsers, "migm")
    await b.get("/personel/gelen-kutusu")
    assert f">{n}</a>" in b.last_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; korkuluk" in b.last_html
    assert "<script>alert" not in b.last_html


async def test_server_timing_on_pages_not_on_form_posts(browsers: dict[str, Browser]):
    b = browsers["visitor"]  # never signed in
    page = await b.get("/personel/giris")
    assert page.headers["Server-Timing"].startswith("app;dur=")
    posted = await b.post("/personel/giris", {"csrf_token": csrf_of(b.last_html), "kullanici_adi": "x"})
    assert posted.status == 400 and "Server-Timing" not in posted.headers  # log-in timing stays unmeasured
