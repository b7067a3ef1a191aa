"""Web test fixtures: the app on a fresh migrated database (SQLite and PostgreSQL), a settable clock, and
helpers that act as a person would — reading the captcha from the cookie it travels in (the test knows
the server secret) and the onay kodu from the SMS log."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.people import add_kizilay_muhtars
from webui.app import COOKIE_NAME, init_app
from webui.keys import KEYS
from workflow.adapters import orm
from workflow.messaging.sms_store import sms_messages
from workflow.settings import Settings, WebSettings


class Clock:
    """A clock the test moves by hand (no sleeping, no timed assertions)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings() -> Settings:
    # Built from the dataclass defaults (what config/defaults.toml says too), so these tests do not depend
    # on the configuration files of the checkout.
    return Settings(web=WebSettings(secret_key="test-" + "k" * 40, base_url="http://127.0.0.1:8080"))


MUHTARS = (
    ("Ayşe Yılmaz", "10000000146", "+905321234567"),
    ("Mehmet Öztürk", "20000000282", "+905421112233"),
)
# Valid TCKNs that belong to nobody in the registry.
STRANGERS = ("30000000328", "40000000464", "50000000500", "60000000646", "70000000782")


@dataclass
class World:
    """Just enough registry for the muhtar pages: MİGM and a Valilik with one clerk, one muhtarlık, two muhtars.
    (Staff rows get a dummy password hash: nobody logs in as staff here, and Argon2 would slow every test.)"""

    units: dict[str, int]
    users: dict[str, str]
    muhtars: list[str]


async def build_world(engine: AsyncEngine) -> World:
    now = datetime(2026, 1, 1, tzinfo=UTC)  # before the test clock: staff sessions begin after it
    world = World({}, {}, [])
    async with engine.begin() as conn:
        for code, kind, name in (
            ("MIGM", "migm", "Mahalli İdareler Genel Müdürlüğü"),
            ("VAL-06", "valilik", "Ankara Valiliği"),
        ):
            result = await conn.execute(
                insert(orm.units).values(
                    code=code, kind=kind, name=name, province_id=6 if kind == "valilik" else None, active=True
                )
            )
            world.units[code] = result.inserted_primary_key[0]
        for username, unit in (("migm", "MIGM"), ("ankara", "VAL-06")):
            world.users[username] = uuid.uuid4().hex
            await conn.execute(
                insert(orm.staff_users).values(
                    id=world.users[username],
                    username=username,
                    password_hash="-",
                    full_name=f"{username} memuru",
                    unit_id=world.units[unit],
                    role="clerk",
                    active=True,
                    created_at=now,
                    updated_at=now,
                    password_changed_at=now,
                )
            )
        world.muhtars += await add_kizilay_muhtars(conn, MUHTARS, now)
    return world


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await build_world(engine)


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine, clock: Clock, tmp_path: Path) -> web.Application:
    return init_app(settings, engine=engine, clock=clock, attachments_dir=tmp_path / "attachments")


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(app)) as c:
        yield c


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')
CODE_RE = re.compile(r"\b(\d{6})\b")


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def cookie_session(client: TestClient) -> dict:
    """The decrypted session cookie, as the server sees it."""
    keys = client.app[KEYS]
    fernet = Fernet(base64.urlsafe_b64encode(keys.cookie))
    for cookie in client.session.cookie_jar:
        if cookie.key == COOKIE_NAME:
            return json.loads(fernet.decrypt(cookie.value.encode()))["session"]
    return {}


async def sms_texts(engine: AsyncEngine, phone: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(sms_messages.c.text)
            .where(sms_messages.c.phone_e164 == phone)
            .order_by(sms_messages.c.created_at)
        )
        return [r.text for r in rows]


async def last_code(engine: AsyncEngine, phone: str) -> str:
    texts = await sms_texts(engine, phone)
    assert texts, "no SMS was queued"
    match = CODE_RE.search(texts[-1])
    assert match
    return match.group(1)


@dataclass
class Muhtar:
    id: str
    full_name: str
    tckn: str
    phone: str


@pytest.fixture
def muhtar(world: World) -> Muhtar:
    full_name, tckn, phone = MUHTARS[0]
    return Muhtar(world.muhtars[0], full_name, tckn, phone)


@pytest.fixture
def other_muhtar(world: World) -> Muhtar:
    full_name, tckn, phone = MUHTARS[1]
    return Muhtar(world.muhtars[1], full_name, tckn, phone)


async def ask_code(client: TestClient, tckn: str, name: str, *, captcha: str | None = None):  # type: ignore[no-untyped-def]
    """Open the log-in page and send the form; returns the response (redirects followed)."""
    page = await client.get("/giris")
    html = await page.text()
    answer = captcha if captcha is not None else cookie_session(client)["captcha"]["answer"]
    return await client.post(
        "/giris", data={"csrf_token": csrf_of(html), "tckn": tckn, "ad_soyad": name, "dogrulama_kodu": answer}
    )


async def enter_code(client: TestClient, code: str):  # type: ignore[no-untyped-def]
    page = await client.get("/giris/onay")
    return await client.post(
        "/giris/onay", data={"csrf_token": csrf_of(await page.text()), "onay_kodu": code}
    )


async def log_in(client: TestClient, engine: AsyncEngine, m: Muhtar) -> None:
    response = await ask_code(client, m.tckn, m.full_name)
    assert response.status == 200 and response.url.path == "/giris/onay"
    response = await enter_code(client, await last_code(engine, m.phone))
    assert response.status == 200 and response.url.path == "/basvuru", await response.text()


async def sign_in_staff(client: TestClient, engine: AsyncEngine, user_id: str) -> None:
    """A staff session as staff log-in makes one (a web_sessions row and the encrypted cookie)."""
    from webui.keys import CLOCK
    from webui.sessions import start

    async with engine.begin() as conn:
        token = await start(conn, "staff", user_id, client.app[CLOCK](), "127.0.0.1")
    fernet = Fernet(base64.urlsafe_b64encode(client.app[KEYS].cookie))
    data = {"created": 0, "session": {"sid": token, "csrf": "staff-csrf-token"}}
    client.session.cookie_jar.update_cookies(
        {COOKIE_NAME: fernet.encrypt(json.dumps(data).encode()).decode()}
    )
