"""Staff-side fixtures: the small world of tests/integration/world.py, a bootstrapped service layer, the web
app on the same database, and browsers that sign in as the world's staff users."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientResponse, ClientSession, CookieJar, FormData
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import PASSWORD, World, build_world
from webui.app import init_app
from workflow.bootstrap import Services, bootstrap
from workflow.domain import commands as c
from workflow.settings import Settings, load_settings

DESCRIPTION = "Mahallemizdeki parkın aydınlatması yetersiz, akşamları karanlık kalıyor."


class StepClock:
    """A clock the test moves by hand: every request gets a distinct, later time."""

    def __init__(self, start: datetime | None = None) -> None:
        # After the world's accounts were created (real time), so sessions are not older than passwords.
        self.now = start or datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def settings() -> Settings:
    return load_settings(env={})


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await build_world(engine)


@pytest.fixture
def services(engine: AsyncEngine, settings: Settings, clock: StepClock) -> Services:
    return bootstrap(settings, engine=engine, clock=clock)


async def file(services: Services, world: World, text: str = DESCRIPTION, muhtar: int = 0) -> int:
    number: int = await services.commands.handle(c.FileRequest(world.muhtars[muhtar], "sikayet", text))
    return number


async def assignment_id(services: Services, number: int, unit_id: int) -> str:
    async with services.uow() as uow:
        request = await uow.requests.get_by_number(number)
    assert request is not None
    open_one = request.open_assignment_for(unit_id)
    if open_one is not None:
        return open_one.id
    return [x for x in request.assignments if x.unit.id == unit_id][-1].id


# ----------------------------------------------------------------------------------------- HTTP


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION_RE = re.compile(r'name="surum" value="(\d+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    return load_settings(env={}, var_dir=tmp_path / "var")


@pytest.fixture
async def server(
    web_settings: Settings, engine: AsyncEngine, clock: StepClock, tmp_path: Path, world: World
) -> AsyncIterator[TestServer]:
    app = init_app(web_settings, engine=engine, clock=clock, attachments_dir=tmp_path / "attachments")
    async with TestServer(app) as srv:
        yield srv


class Browser:
    """One person's browser: its own cookies, reading the CSRF token from the page like a form does."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.session = ClientSession(cookie_jar=CookieJar(unsafe=True))
        self.last_html = ""

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def get(self, path: str, **kw) -> ClientResponse:  # type: ignore[no-untyped-def]
        response = await self.session.get(self.url(path), **kw)
        body = await response.read()
        if response.content_type.startswith("text/") or response.content_type == "application/json":
            self.last_html = body.decode()
        return response

    async def post(self, path: str, data, **kw) -> ClientResponse:  # type: ignore[no-untyped-def]
        response = await self.session.post(self.url(path), data=data, **kw)
        self.last_html = await response.text()
        return response

    async def token(self, page: str = "/personel/giris") -> str:
        if 'name="csrf_token"' not in self.last_html:
            await self.get(page)
        return csrf_of(self.last_html)

    async def login(self, username: str, password: str = PASSWORD) -> ClientResponse:
        await self.get("/personel/giris")
        return await self.post(
            "/personel/giris",
            {"csrf_token": csrf_of(self.last_html), "kullanici_adi": username, "parola": password},
        )

    async def submit(self, page: str, action: str, fields: dict | list) -> ClientResponse:  # type: ignore[type-arg]
        """Open ``page``, then send a form to ``action`` with the page's CSRF token and version."""
        if page:
            await self.get(page)
        html = self.last_html
        data = [("csrf_token", csrf_of(html))]
        version = VERSION_RE.search(html)
        if version:
            data.append(("surum", version.group(1)))
        data.extend(fields.items() if isinstance(fields, dict) else fields)
        return await self.post(action, data)

    async def upload(
        self, page: str, action: str, fields: dict, files: list[tuple[str, bytes]]
    ) -> ClientResponse:  # type: ignore[type-arg]
        await self.get(page)
        form = FormData(default_to_multipart=True)
        form.add_field("csrf_token", csrf_of(self.last_html))
        version = VERSION_RE.search(self.last_html)
        if version:
            form.add_field("surum", version.group(1))
        for name, value in fields.items():
            form.add_field(name, value)
        for filename, content in files:
            form.add_field("ek", content, filename=filename, content_type="application/octet-stream")
        return await self.post(action, form)

    async def close(self) -> None:
        await self.session.close()


class Browsers(dict[str, Browser]):
    """browsers["ankara"] is that user's own browser, opened on first use (``signed_in`` signs it in)."""

    def __init__(self, server: TestServer) -> None:
        super().__init__()
        self.server = server
        self.opened: list[Browser] = []

    def __missing__(self, username: str) -> Browser:
        browser = self[username] = Browser(self.server)
        self.opened.append(browser)
        return browser

    async def close(self) -> None:
        for browser in self.opened:
            await browser.close()


@pytest.fixture
async def browsers(server: TestServer) -> AsyncIterator[Browsers]:
    opened = Browsers(server)
    yield opened
    await opened.close()


async def signed_in(browsers: dict[str, Browser], username: str) -> Browser:
    b = browsers[username]
    if "/personel/giris" in b.last_html or not b.last_html:
        response = await b.login(username)
        assert response.status == 200 and "/personel/" in str(response.url), b.last_html[:500]
    return b
