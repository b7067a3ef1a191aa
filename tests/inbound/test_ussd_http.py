"""USSD sessions walked through POST /ussd on a minimal aiohttp app, over the real database."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbound.replies import screen_fits
from inbound.ussd_http import SECRET_HEADER, add_ussd_routes, caller_allowed
from tests.inbound.conftest import (
    DESCRIPTION,
    OTHER_MUHTAR_PHONE,
    OWNER_PHONE,
    RATE_LIMIT,
    UNREGISTERED_PHONE,
    Cast,
    Clock,
    file_on_web,
)
from workflow.adapters import orm
from workflow.bootstrap import Services
from workflow.settings import UssdSettings

_sessions = itertools.count(1)


async def client_for(services: Services) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    add_ussd_routes(app, services)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    c = await client_for(services)
    yield c
    await c.close()


class Session:
    """One USSD session as the gateway drives it: every step sends all answers so far."""

    def __init__(self, client: TestClient[web.Request, web.Application], phone: str) -> None:
        self.client, self.phone, self.id = client, phone, f"ATUid_{next(_sessions)}"
        self.answers: list[str] = []

    async def post(self, text: str) -> tuple[int, str]:
        data = {"sessionId": self.id, "serviceCode": "*4444#", "phoneNumber": self.phone, "text": text}
        response = await self.client.post("/ussd", data=data)
        body = await response.text()
        assert response.content_type == "text/plain"
        return response.status, body

    async def step(self, answer: str | None = None) -> str:
        if answer is not None:
            self.answers.append(answer)
        status, body = await self.post("*".join(self.answers))
        assert status == 200
        assert body.startswith(("CON ", "END "))
        assert screen_fits(body[4:]), body
        return body


async def test_owner_walks_to_a_request_state(
    client: TestClient[web.Request, web.Application], services: Services, cast: Cast
) -> None:
    number = await file_on_web(services, cast.owner)
    s = Session(client, OWNER_PHONE)
    main = await s.step()
    assert main.startswith("CON ") and "1 Talep sorgula" in main and "4 Yard" in main
    assert (await s.step("1")).startswith("CON Talep numaras")
    assert await s.step(str(number)) == f"END Talep {number}: Bekleyen\nSon hareket: 25.11.2026"


async def test_stranger_and_unregistered(
    client: TestClient[web.Request, web.Application], services: Services, cast: Cast
) -> None:
    number = await file_on_web(services, cast.owner)
    owner = Session(client, OWNER_PHONE)
    await owner.step("1")
    for_missing = await owner.step(str(number + 500))
    stranger = Session(client, OTHER_MUHTAR_PHONE)
    await stranger.step("1")
    for_stranger = await stranger.step(str(number))
    assert for_missing == f"END Talep {number + 500} bulunamadı."
    assert for_stranger == f"END Talep {number} bulunamadı."
    unregistered = await Session(client, UNREGISTERED_PHONE).step()
    assert unregistered.startswith("END Bu hizmet yalnızca kayıtlı muhtar")


async def test_invalid_choices_repeat_the_screen_with_an_error(
    client: TestClient[web.Request, web.Application], cast: Cast
) -> None:
    s = Session(client, OWNER_PHONE)
    await s.step()
    bad = await s.step("7")
    assert bad.startswith("CON Ge") and "1 Talep sorgula" in bad
    assert (await s.step("3")).startswith("CON Talep t")
    bad_kind = await s.step("x")
    assert bad_kind.startswith("CON Ge") and "4 Gör" in bad_kind
    assert "en az 20 karakter" in await s.step("1")
    short = await s.step("kısa")
    assert short.startswith("CON A")
    assert "çok kısa" in short or "cok kisa" in short


async def test_filing_by_ussd_files_once_per_session(
    client: TestClient[web.Request, web.Application], cast: Cast, engine: AsyncEngine
) -> None:
    s = Session(client, OWNER_PHONE)
    for answer in ("3", "2"):
        await s.step(answer)
    done = await s.step(DESCRIPTION)
    assert done.startswith("END İstek talebiniz alındı.") or done.startswith("END Istek talebiniz alindi.")
    status, again = await s.post("*".join(s.answers))  # the gateway retries the last step
    assert (status, again) == (200, done)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(orm.requests))).all()
    assert [(r.kind, r.channel, r.muhtar_id, r.description) for r in rows] == [
        ("istek", "ussd", cast.owner, DESCRIPTION)
    ]
    assert done.endswith(f"Talep no: {rows[0].number}")


async def test_open_requests_and_help(
    client: TestClient[web.Request, web.Application], services: Services, cast: Cast, clock: Clock
) -> None:
    first = await file_on_web(services, cast.owner)
    clock.advance(minutes=1)
    second = await file_on_web(services, cast.owner)
    listing = await Session(client, OWNER_PHONE).step("2")
    assert listing.startswith("END A") and listing.index(str(second)) < listing.index(str(first))
    assert (await Session(client, OWNER_PHONE).step("4")).startswith("END SMS ile")


async def test_session_expires_after_silence(
    client: TestClient[web.Request, web.Application], cast: Cast, clock: Clock, services: Services
) -> None:
    ttl = services.settings.ussd.session_ttl_s
    s = Session(client, OWNER_PHONE)
    await s.step()
    clock.advance(seconds=ttl - 1)
    assert (await s.step("1")).startswith("CON ")
    clock.advance(seconds=ttl + 1)
    expired = await s.step("1234")
    assert expired.startswith("END Oturum süresi doldu") or expired.startswith("END Oturum suresi doldu")
    assert "*4444#" in expired
    clock.advance(seconds=1)
    assert (await s.step()).startswith("END Oturum")  # stays expired


async def test_session_id_reused_by_another_phone_is_not_continued(
    client: TestClient[web.Request, web.Application], cast: Cast
) -> None:
    s = Session(client, OWNER_PHONE)
    await s.step()
    s.phone = OTHER_MUHTAR_PHONE
    assert (await s.step("2")).startswith("END Oturum")


async def test_rate_limit_counts_actions_not_screens(
    client: TestClient[web.Request, web.Application], cast: Cast
) -> None:
    for _ in range(RATE_LIMIT):
        s = Session(client, OWNER_PHONE)
        await s.step()
        assert (await s.step("4")).startswith("END SMS ile")
    limited = await Session(client, OWNER_PHONE).step("4")
    assert "dakika sonra" in limited
    assert (await Session(client, OWNER_PHONE).step()).startswith("CON ")  # menus still shown


async def test_malformed_requests_get_400(
    client: TestClient[web.Request, web.Application], cast: Cast
) -> None:
    for data in (
        {},
        {"sessionId": "x"},
        {"phoneNumber": OWNER_PHONE},
        {"sessionId": "x" * 500, "phoneNumber": OWNER_PHONE},
    ):
        response = await client.post("/ussd", data=data)
        assert response.status == 400
        assert (await response.text()).startswith("END ")
    response = await client.post("/ussd", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 400
    response = await client.post("/ussd", json=["a", "list"])
    assert response.status == 400


async def test_json_body_is_accepted(client: TestClient[web.Request, web.Application], cast: Cast) -> None:
    response = await client.post(
        "/ussd", json={"sessionId": "j1", "serviceCode": "*4444#", "phoneNumber": OWNER_PHONE, "text": ""}
    )
    assert response.status == 200 and (await response.text()).startswith("CON ")


async def test_foreign_caller_is_refused_politely(
    client: TestClient[web.Request, web.Application], cast: Cast
) -> None:
    assert (await Session(client, "+4915112345678").step()).startswith("END Bu hizmet")


async def test_source_address_not_allowed_is_rejected(services: Services, cast: Cast) -> None:
    settings = replace(services.settings, ussd=UssdSettings(allow_from=("10.0.0.0/8",)))
    client = await client_for(replace(services, settings=settings))
    try:
        status, body = await Session(client, OWNER_PHONE).post("")
    finally:
        await client.close()
    assert (status, body) == (403, "Forbidden")


async def test_shared_secret_is_required_when_set(services: Services, cast: Cast) -> None:
    settings = replace(services.settings, ussd=UssdSettings(secret="s3cret-value", allow_from=()))
    client = await client_for(replace(services, settings=settings))
    data = {"sessionId": "sec1", "serviceCode": "*4444#", "phoneNumber": OWNER_PHONE, "text": ""}
    try:
        without = await client.post("/ussd", data=data)
        wrong = await client.post("/ussd", data=data, headers={SECRET_HEADER: "nope"})
        right = await client.post("/ussd", data=data, headers={SECRET_HEADER: "s3cret-value"})
        assert (without.status, wrong.status, right.status) == (403, 403, 200)
    finally:
        await client.close()


CALLERS = [
    # allow_from, secret, remote, sent secret, allowed
    ((), "", "127.0.0.1", None, False),  # nothing configured: refuse everyone
    (("127.0.0.1",), "", "127.0.0.1", None, True),
    (("127.0.0.1",), "", "127.0.0.2", None, False),
    (("10.0.0.0/8",), "", "10.20.30.40", None, True),
    (("10.0.0.0/8",), "", "::ffff:10.1.1.1", None, True),
    (("::1",), "", "::1", None, True),
    (("10.0.0.0/8",), "", None, None, False),
    (("10.0.0.0/8",), "", "not an address", None, False),
    ((), "k", "8.8.8.8", "k", True),
    ((), "k", "8.8.8.8", "K", False),
    ((), "k", "8.8.8.8", None, False),
    (("10.0.0.0/8",), "k", "10.0.0.1", "k", True),
    (("10.0.0.0/8",), "k", "10.0.0.1", "x", False),
    (("10.0.0.0/8",), "k", "11.0.0.1", "k", False),
]


@pytest.mark.parametrize(("allow_from", "secret", "remote", "sent", "allowed"), CALLERS)
def test_caller_allowed(
    allow_from: tuple[str, ...], secret: str, remote: str | None, sent: str | None, allowed: bool
) -> None:
    assert caller_allowed(UssdSettings(secret=secret, allow_from=allow_from), remote, sent) is allowed
