"""Who may list, see and act on which request — for every role, through HTTP, exactly as the rules say.

Requests: A routed to Ankara Valiliği (forwarded to its Sağlık Müdürlüğü) and Çankaya Belediyesi; B routed
to İzmir Valiliği and İzmir Büyükşehir Belediyesi; C never routed. Users: MİGM, its administrator, two
Valilik, their sub-units, two Belediye, and an administrator of Ankara Valiliği (no request access).
Forms are replayed with ids taken from other units' pages (the attacker's own valid CSRF token).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import PASSWORD, World
from tests.staff.conftest import Browser, assignment_id, csrf_of, file, signed_in
from webui.tables import attachments
from workflow.bootstrap import Services
from workflow.domain import commands as c
from workflow.domain.units import StaffRole
from workflow.staff_accounts import NewStaffUser, create_staff_user

USERS = (
    "migm",
    "admin",
    "ankara",
    "saglik06",
    "cankaya.kay",
    "cankaya.bel",
    "izmir",
    "saglik35",
    "izmir.bb",
    "ankara.admin",
)
VISIBLE = {
    "migm": "ABC",
    "admin": "ABC",
    "ankara": "A",
    "saglik06": "A",
    "cankaya.kay": "",
    "cankaya.bel": "A",
    "izmir": "B",
    "saglik35": "",
    "izmir.bb": "B",
    "ankara.admin": "",
}
BELEDIYE_OWNER = {"A": "cankaya.bel", "B": "izmir.bb"}
MIGM = ("migm", "admin")


@pytest.fixture
async def scene(services: Services, world: World, engine: AsyncEngine, tmp_path: Path) -> dict[str, object]:
    u, units, bus = world.users, world.units, services.commands
    numbers = {key: await file(services, world) for key in "ABC"}
    a, b = numbers["A"], numbers["B"]
    await bus.handle(
        c.RouteRequest(u["migm"], a, (c.Target(units["VAL-06"]), c.Target(units["BEL-ILCE-1231"])))
    )
    await bus.handle(c.RouteRequest(u["migm"], b, (c.Target(units["VAL-35"]), c.Target(units["BEL-BB-35"]))))
    val = await assignment_id(services, a, units["VAL-06"])
    await bus.handle(c.Forward(u["ankara"], a, val, (c.Target(units["ILM-06-saglik"]),)))
    now = datetime.now(UTC)
    async with services.uow() as uow:
        request_a = await uow.requests.get_by_number(a)
    async with engine.begin() as conn:
        await create_staff_user(
            conn, NewStaffUser("ankara.admin", "Ankara Yöneticisi", "VAL-06", StaffRole.ADMIN, PASSWORD), now
        )
        content = b"%PDF-1.4 muhtarin belgesi"
        sha = hashlib.sha256(content).hexdigest()
        (tmp_path / "attachments" / sha[:2]).mkdir(parents=True)
        (tmp_path / "attachments" / sha[:2] / sha).write_bytes(content)
        file_id = uuid.uuid4().hex
        await conn.execute(
            attachments.insert().values(
                id=file_id,
                sha256=sha,
                size=len(content),
                media_type="application/pdf",
                original_name="belge.pdf",
                uploaded_by_kind="muhtar",
                uploaded_by_id=world.muhtars[0],
                request_id=request_a.id,
                created_at=now,
            )
        )
    belediye = {
        "A": await assignment_id(services, a, units["BEL-ILCE-1231"]),
        "B": await assignment_id(services, b, units["BEL-BB-35"]),
        "C": uuid.uuid4().hex,
    }
    return {"numbers": numbers, "belediye": belediye, "file": file_id}


def expected_handback(user: str, key: str) -> int:
    if key not in VISIBLE[user]:
        return 404
    if key == "C":
        return 409  # MİGM sees it, but there is no such assignment on it
    return (
        400 if BELEDIYE_OWNER[key] == user else 403
    )  # the owner reaches the check of the (too short) reason


def expected_priority(user: str, key: str) -> int:
    if key not in VISIBLE[user]:
        return 404
    return 303 if user in MIGM else 403


async def test_matrix(browsers: dict[str, Browser], scene: dict, world: World):
    numbers, belediye = scene["numbers"], scene["belediye"]
    wrong = []
    for user in USERS:
        b = await signed_in(browsers, user)
        await b.get("/personel/gorunumler")
        listed = {key for key, n in numbers.items() if f'href="/personel/talepler/{n}"' in b.last_html}
        if listed != set(VISIBLE[user]):
            wrong.append((user, "listed", sorted(listed)))
        token = csrf_of(b.last_html)
        for key, n in numbers.items():
            seen = (await b.get(f"/personel/talepler/{n}")).status
            if seen != (200 if key in VISIBLE[user] else 404):
                wrong.append((user, key, "page", seen))
            if key == "A":
                got = (await b.get(f"/personel/talepler/{n}/ekler/{scene['file']}")).status
                if got != (200 if "A" in VISIBLE[user] else 404):
                    wrong.append((user, key, "file", got))
            form = {"csrf_token": token, "gorev": belediye[key], "gerekce": "x"}
            got = (await b.post(f"/personel/talepler/{n}/iade", form, allow_redirects=False)).status
            if got != expected_handback(user, key):
                wrong.append((user, key, "hand back", got))
            form = {"csrf_token": token, "oncelik": "yuksek"}
            got = (await b.post(f"/personel/talepler/{n}/oncelik", form, allow_redirects=False)).status
            if got != expected_priority(user, key):
                wrong.append((user, key, "priority", got))
    assert wrong == []


async def test_guessed_and_missing_numbers_look_the_same(browsers: dict[str, Browser], scene: dict):
    izmir = await signed_in(browsers, "izmir")
    hidden = await izmir.get(f"/personel/talepler/{scene['numbers']['A']}")
    hidden_html = izmir.last_html
    missing = await izmir.get("/personel/talepler/999999")
    assert hidden.status == missing.status == 404 and hidden_html == izmir.last_html


async def test_another_users_csrf_token_does_not_work(browsers: dict[str, Browser], scene: dict):
    ankara = await signed_in(browsers, "ankara")
    await ankara.get("/personel/gelen-kutusu")
    stolen = csrf_of(ankara.last_html)
    izmir = await signed_in(browsers, "izmir")
    n = scene["numbers"]["B"]
    response = await izmir.post(
        f"/personel/talepler/{n}/not", {"csrf_token": stolen, "ic_not": "deneme notu"}
    )
    assert response.status == 403 and "Güvenlik doğrulaması" in izmir.last_html


ADMIN_PAGES = ("/personel/yonetim/kullanicilar", "/personel/yonetim/birimler")


async def test_admin_pages(browsers: dict[str, Browser], world: World, scene: dict):
    clerk = await signed_in(browsers, "ankara")
    for path in ADMIN_PAGES:
        assert (await clerk.get(path)).status == 404
    local = await signed_in(browsers, "ankara.admin")
    await local.get("/personel/gelen-kutusu")  # no inbox for an administrator outside MİGM
    assert "Kullanıcı Hesapları" in local.last_html
    assert "saglik06" in local.last_html and "izmir" not in local.last_html  # own unit and sub-units only
    assert (await local.get("/personel/yonetim/birimler")).status == 404
    assert (await local.get(f"/personel/yonetim/kullanicilar/{world.users['izmir']}")).status == 404
    await local.get("/personel/yonetim/kullanicilar")
    form = {"csrf_token": csrf_of(local.last_html), "islem": "kapat"}
    response = await local.post(f"/personel/yonetim/kullanicilar/{world.users['izmir']}", form)
    assert response.status == 404

    admin = await signed_in(browsers, "admin")
    await admin.get("/personel/yonetim/kullanicilar?birim_ara=Kaymakam")
    form = {
        "csrf_token": csrf_of(admin.last_html),
        "kullanici_adi": "yeni.memur",
        "ad_soyad": "Yeni Memur",
        "birim": str(world.units["KAY-1231"]),
        "rol": "clerk",
        "parola": "Guclu.Parola.9",
    }
    await admin.post("/personel/yonetim/kullanicilar", form)
    assert "“yeni.memur” hesabı oluşturuldu" in admin.last_html and "Guclu.Parola.9" not in admin.last_html
    form["parola"] = "zayif"
    form["kullanici_adi"] = "baska.memur"
    response = await admin.post("/personel/yonetim/kullanicilar", form)
    assert (
        response.status == 400 and "en az 10 karakter" in admin.last_html and "zayif" not in admin.last_html
    )
    newcomer = browsers["yeni.memur"]
    assert (await newcomer.login("yeni.memur", "Guclu.Parola.9")).url.path == "/personel/gelen-kutusu"
    assert "Çankaya Kaymakamlığı" in newcomer.last_html

    await admin.get("/personel/yonetim/birimler?ara=Çankaya Kay")
    form = {"csrf_token": csrf_of(admin.last_html), "islem": "ad", "ad": "Çankaya Kaymakamlığı (Merkez)"}
    await admin.post(f"/personel/yonetim/birimler/{world.units['KAY-1231']}", form)
    assert "Birim kaydı güncellendi" in admin.last_html
