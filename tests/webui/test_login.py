"""Muhtar log-in: captcha, onay kodu by SMS, limits, no account enumeration, sessions. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.webui.conftest import (
    STRANGERS,
    Clock,
    Muhtar,
    ask_code,
    cookie_session,
    csrf_of,
    enter_code,
    last_code,
    log_in,
    sms_texts,
)
from webui.keys import CLOCK, KEYS, SESSION_CACHE
from webui.otp import Outcome, verify
from webui.sessions import end_all_for
from webui.tables import otp_challenges, web_sessions
from workflow.adapters.orm import muhtars
from workflow.registry.testdata import national_form

ANOTHER_VALID_TCKN = STRANGERS[0]


async def resend(client: TestClient):  # type: ignore[no-untyped-def]
    page = await client.get("/giris/onay")
    return await client.post("/giris/yeniden-gonder", data={"csrf_token": csrf_of(await page.text())})


async def test_log_in_with_the_code_from_the_sms(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    response = await ask_code(client, muhtar.tckn, "  ayşe   YILMAZ ")  # Turkish case rules, spaces folded
    html = await response.text()
    assert response.url.path == "/giris/onay"
    assert "0532 *** ** 67" in html and "Sisteme Giriş" in html and "Yeniden Gönder" in html
    texts = await sms_texts(engine, muhtar.phone)
    assert len(texts) == 1 and "onay kodunuz" in texts[0]
    response = await enter_code(client, await last_code(engine, muhtar.phone))
    assert response.url.path == "/basvuru"
    html = await response.text()
    assert muhtar.full_name in html and "Kızılay" in html and "Çıkış" in html


async def test_code_is_stored_hashed_and_never_logged(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await log_in(client, engine, muhtar)
    code = await last_code(engine, muhtar.phone)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(otp_challenges.c.code_hash))).scalars().all()
    assert stored and all(code not in value and len(value) == 64 for value in stored)
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("webui", "workflow", "inbound")
    )
    assert "signed in" in ours
    for secret in (code, muhtar.tckn, muhtar.phone, muhtar.full_name):
        assert secret not in ours


@pytest.mark.parametrize(
    ("tckn", "message"),
    [
        ("", "T.C. Kimlik No boş olamaz."),
        ("1234567890", "T.C. Kimlik No 11 haneli olmalıdır. Girdiğiniz: “1234567890”."),
        ("12345678901", "kontrol haneleri tutmuyor. Girdiğiniz: “12345678901”."),
        ("1234567890a", "yalnızca rakamlardan oluşmalı"),
        ("01234567890", "0 ile başlamamalıdır"),
    ],
)
async def test_malformed_tckn_is_explained_and_sends_nothing(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, tckn: str, message: str
) -> None:
    response = await ask_code(client, tckn, muhtar.full_name)
    assert response.status == 400
    assert message in await response.text()
    assert await sms_texts(engine, muhtar.phone) == []


async def test_missing_name_and_captcha_are_explained(client: TestClient, muhtar: Muhtar) -> None:
    response = await ask_code(client, muhtar.tckn, " ", captcha="")
    html = await response.text()
    assert response.status == 400
    assert "Adınızı ve soyadınızı" in html and "Resimdeki doğrulama kodunu yazın." in html


async def test_wrong_captcha_repeats_what_was_typed(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    await client.get("/giris")
    answer = cookie_session(client)["captcha"]["answer"]
    wrong = "00000" if answer != "00000" else "11111"
    response = await ask_code(client, muhtar.tckn, muhtar.full_name, captcha=wrong)
    assert response.status == 400
    assert f"girdiğiniz: “{wrong}”" in await response.text()
    assert await sms_texts(engine, muhtar.phone) == []


async def test_captcha_cannot_be_replayed_with_an_old_cookie(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    html = await (await client.get("/giris")).text()
    saved = {c.key: c.value for c in client.session.cookie_jar}
    answer = cookie_session(client)["captcha"]["answer"]
    data = {
        "csrf_token": csrf_of(html),
        "tckn": muhtar.tckn,
        "ad_soyad": muhtar.full_name,
        "dogrulama_kodu": answer,
    }
    assert (await client.post("/giris", data=data)).url.path == "/giris/onay"
    client.session.cookie_jar.update_cookies(saved)  # the same cookie, the same answer, a second time
    again = await client.post("/giris", data=data)
    assert again.status == 400 and "Doğrulama kodu resimdeki ile aynı değil" in await again.text()
    assert len(await sms_texts(engine, muhtar.phone)) == 1


async def test_no_account_enumeration(client: TestClient, engine: AsyncEngine, muhtar: Muhtar) -> None:
    """An unknown TCKN, or a known one with another name, looks exactly like a known one."""
    for tckn, name in ((ANOTHER_VALID_TCKN, "Ali Veli"), (muhtar.tckn, "Başka Biri")):
        client.session.cookie_jar.clear()
        response = await ask_code(client, tckn, name)
        html = await response.text()
        assert response.status == 200 and response.url.path == "/giris/onay"
        assert "6 haneli bir onay kodu gönderildi" in html and " *** ** " in html
    assert await sms_texts(engine, muhtar.phone) == []  # but nothing was sent to anyone
    # Any code is wrong for a challenge that matched nobody.
    response = await enter_code(client, "123456")
    assert "doğru değil" in await response.text()


async def test_decoy_mask_is_stable_for_the_same_tckn(client: TestClient) -> None:
    masks = []
    for _ in range(2):
        client.session.cookie_jar.clear()
        await ask_code(client, ANOTHER_VALID_TCKN, "Ali Veli")
        masks.append(cookie_session(client)["otp"]["mask"])
    assert masks[0] == masks[1]


async def test_wrong_code_tells_tries_left_then_kills_it(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    await ask_code(client, muhtar.tckn, muhtar.full_name)
    code = await last_code(engine, muhtar.phone)
    wrong = "000000" if code != "000000" else "111111"
    first = await enter_code(client, wrong)
    assert first.status == 400 and f"(“{wrong}”) doğru değil. Kalan deneme hakkınız: 2." in await first.text()
    second = await enter_code(client, wrong)
    assert "Kalan deneme hakkınız: 1." in await second.text()
    third = await enter_code(client, wrong)
    assert third.url.path == "/giris" and "üç kez yanlış girildiği için iptal edildi" in await third.text()
    # The right code no longer works: the challenge is dead, and the session forgot it.
    client.session.cookie_jar.clear()
    await ask_code(client, ANOTHER_VALID_TCKN, "Ali Veli")
    session = cookie_session(client)
    assert session["otp"]["id"]
    response = await enter_code(client, code)
    assert response.url.path == "/giris/onay"


async def test_malformed_code_is_not_counted(client: TestClient, engine: AsyncEngine, muhtar: Muhtar) -> None:
    await ask_code(client, muhtar.tckn, muhtar.full_name)
    for typed in ("12ab56", "123", "1234567"):
        response = await enter_code(client, typed)
        assert response.status == 400 and "Onay kodu 6 rakamdan oluşur" in await response.text()
    response = await enter_code(client, await last_code(engine, muhtar.phone))
    assert response.url.path == "/basvuru"


async def test_expired_code_is_refused(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, clock: Clock
) -> None:
    await ask_code(client, muhtar.tckn, muhtar.full_name)
    clock.advance(seconds=181)
    response = await enter_code(client, await last_code(engine, muhtar.phone))
    assert response.status == 400 and "süresi dolmuş" in await response.text()


async def test_code_is_single_use(client: TestClient, engine: AsyncEngine, muhtar: Muhtar) -> None:
    await log_in(client, engine, muhtar)
    code = await last_code(engine, muhtar.phone)
    challenge = cookie_session(client)  # after log-in the pre-log-in state is gone
    assert "otp" not in challenge and "captcha" not in challenge
    async with engine.connect() as conn:
        challenge_id = (await conn.execute(select(otp_challenges.c.id))).scalar_one()
    # The spent challenge, with its right code, a second time.
    async with engine.begin() as conn:
        verdict = await verify(conn, _otp_key(client), challenge_id, code, _now(client), 3)
    assert verdict.outcome is Outcome.EXPIRED


def _otp_key(client: TestClient) -> bytes:
    return client.app[KEYS].otp


def _now(client: TestClient) -> datetime:
    return client.app[CLOCK]()


async def test_parallel_guesses_cannot_exceed_the_try_limit(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    await ask_code(client, muhtar.tckn, muhtar.full_name)
    challenge_id = cookie_session(client)["otp"]["id"]
    code = await last_code(engine, muhtar.phone)
    guesses = [f"{n:06d}" for n in range(10) if f"{n:06d}" != code][:6]

    async def guess(value: str) -> Outcome:
        async with engine.begin() as conn:
            return (await verify(conn, _otp_key(client), challenge_id, value, _now(client), 3)).outcome

    outcomes = await asyncio.gather(*(guess(g) for g in guesses))
    assert sum(o in (Outcome.WRONG, Outcome.KILLED) for o in outcomes) == 3
    assert (await guess(code)) is Outcome.EXPIRED


async def test_resend_waits_for_the_cooldown(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, clock: Clock
) -> None:
    await ask_code(client, muhtar.tckn, muhtar.full_name)
    old_code = await last_code(engine, muhtar.phone)
    clock.advance(seconds=30)
    early = await resend(client)
    assert early.status == 429 and "31 saniye daha bekleyin" in await early.text()
    assert len(await sms_texts(engine, muhtar.phone)) == 1
    clock.advance(seconds=31)
    response = await resend(client)
    assert response.url.path == "/giris/onay" and "Yeni onay kodu 0532 *** ** 67" in await response.text()
    assert len(await sms_texts(engine, muhtar.phone)) == 2
    new_code = await last_code(engine, muhtar.phone)
    if new_code != old_code:  # the replaced code is dead
        assert "doğru değil" in await (await enter_code(client, old_code)).text()
    assert (await enter_code(client, new_code)).url.path == "/basvuru"


async def test_at_most_five_codes_an_hour_per_tckn(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, clock: Clock
) -> None:
    for _ in range(5):
        client.session.cookie_jar.clear()
        assert (await ask_code(client, muhtar.tckn, muhtar.full_name)).url.path == "/giris/onay"
        clock.advance(minutes=1)
    client.session.cookie_jar.clear()
    refused = await ask_code(client, muhtar.tckn, muhtar.full_name)
    assert refused.status == 429 and "çok fazla onay kodu istendi" in await refused.text()
    assert len(await sms_texts(engine, muhtar.phone)) == 5
    clock.advance(minutes=56)  # the first code leaves the one-hour window
    client.session.cookie_jar.clear()
    assert (await ask_code(client, muhtar.tckn, muhtar.full_name)).url.path == "/giris/onay"


async def test_resend_counts_against_the_limit(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, clock: Clock
) -> None:
    await ask_code(client, muhtar.tckn, muhtar.full_name)
    for _ in range(4):
        clock.advance(seconds=61)
        assert (await resend(client)).url.path == "/giris/onay"
    clock.advance(seconds=61)
    refused = await resend(client)
    assert refused.status == 429
    assert len(await sms_texts(engine, muhtar.phone)) == 5


async def test_at_most_five_codes_an_hour_per_address(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, other_muhtar: Muhtar
) -> None:
    """Different people, one address: the sixth request is refused even for a real muhtar."""
    for tckn in STRANGERS[:4]:
        client.session.cookie_jar.clear()
        assert (await ask_code(client, tckn, "Deneme Kişi")).url.path == "/giris/onay"
    client.session.cookie_jar.clear()
    assert (await ask_code(client, other_muhtar.tckn, other_muhtar.full_name)).url.path == "/giris/onay"
    client.session.cookie_jar.clear()
    refused = await ask_code(client, muhtar.tckn, muhtar.full_name)
    assert refused.status == 429
    assert await sms_texts(engine, muhtar.phone) == []


async def test_new_session_after_log_in_and_log_out_ends_it(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    await client.get("/giris")
    before = cookie_session(client)
    await log_in(client, engine, muhtar)
    after = cookie_session(client)
    assert after["sid"] and after["csrf"] != before["csrf"]
    signed_in = {c.key: c.value for c in client.session.cookie_jar}
    html = await (await client.get("/talepler")).text()
    response = await client.post("/cikis", data={"csrf_token": csrf_of(html)})
    assert response.url.path == "/" and "Oturumunuz kapatıldı." in await response.text()
    client.session.cookie_jar.update_cookies(signed_in)  # a copy of the old cookie is worthless now
    again = await client.get("/talepler")
    assert again.url.path == "/giris"
    async with engine.connect() as conn:
        row = (await conn.execute(select(web_sessions.c.end_reason))).one()
    assert row.end_reason == "logout"


@pytest.mark.parametrize(
    ("idle", "advance", "signed_in"),
    [
        ("active", {"minutes": 14}, True),
        ("idle", {"minutes": 16}, False),
    ],
)
async def test_idle_expiry(
    client: TestClient,
    engine: AsyncEngine,
    muhtar: Muhtar,
    clock: Clock,
    idle: str,
    advance: dict,
    signed_in: bool,
) -> None:
    await log_in(client, engine, muhtar)
    clock.advance(**advance)
    response = await client.get("/talepler")
    assert (response.url.path == "/talepler") is signed_in
    if not signed_in:
        assert "Oturumunuzun süresi doldu" in await response.text()


async def test_absolute_expiry_even_when_active(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, clock: Clock
) -> None:
    await log_in(client, engine, muhtar)
    for _ in range(8 * 6 + 1):  # a page every 10 minutes, just past 8 hours
        clock.advance(minutes=10)
        response = await client.get("/talepler")
    assert response.url.path == "/giris"
    async with engine.connect() as conn:
        assert (await conn.execute(select(web_sessions.c.end_reason))).scalar_one() == "absolute"


async def test_pages_for_muhtars_send_strangers_to_log_in(client: TestClient) -> None:
    for path in ("/basvuru", "/talepler", "/talepler/1", "/basvuru/gonderildi/1"):
        response = await client.get(path)
        assert response.url.path == "/giris" and response.url.query["sonra"] == path


async def test_after_log_in_the_person_returns_where_they_were_going(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    await client.get("/talepler?durum=sonuclanan")
    response = await ask_code(client, muhtar.tckn, muhtar.full_name)
    # ask_code re-opens /giris without "sonra": the stored target is replaced by the default
    assert response.url.path == "/giris/onay"
    page = await client.get("/giris?sonra=/talepler%3Fdurum%3Dsonuclanan")
    html = await page.text()
    await client.post(
        "/giris",
        data={
            "csrf_token": csrf_of(html),
            "tckn": muhtar.tckn,
            "ad_soyad": muhtar.full_name,
            "dogrulama_kodu": cookie_session(client)["captcha"]["answer"],
        },
    )
    response = await enter_code(client, await last_code(engine, muhtar.phone))
    assert response.url.path == "/talepler" and response.url.query["durum"] == "sonuclanan"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
async def test_no_open_redirect_after_log_in(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, target: str
) -> None:
    html = await (await client.get("/giris", params={"sonra": target})).text()
    await client.post(
        "/giris",
        data={
            "csrf_token": csrf_of(html),
            "tckn": muhtar.tckn,
            "ad_soyad": muhtar.full_name,
            "dogrulama_kodu": cookie_session(client)["captcha"]["answer"],
        },
    )
    response = await enter_code(client, await last_code(engine, muhtar.phone))
    assert response.url.host == "127.0.0.1" and response.url.path == "/basvuru"


async def test_inactive_muhtar_gets_no_code(client: TestClient, engine: AsyncEngine, muhtar: Muhtar) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(muhtars).where(muhtars.c.id == muhtar.id).values(active=False))
    response = await ask_code(client, muhtar.tckn, muhtar.full_name)
    assert response.url.path == "/giris/onay"
    assert await sms_texts(engine, muhtar.phone) == []


async def test_phone_in_national_form_is_masked(muhtar: Muhtar) -> None:
    assert national_form(muhtar.phone).startswith("0532")


async def test_sessions_table_counts(client: TestClient, engine: AsyncEngine, muhtar: Muhtar) -> None:
    await log_in(client, engine, muhtar)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(web_sessions))).scalar_one() == 1


async def test_a_session_ended_by_another_process_stops_working_within_seconds(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar, clock: Clock
) -> None:
    await log_in(client, engine, muhtar)
    assert (await client.get("/talepler")).url.path == "/talepler"
    async with engine.begin() as conn:  # e.g. an administrator in another web process
        assert await end_all_for(conn, "muhtar", muhtar.id, clock(), "admin") == 1
    clock.advance(seconds=6)  # past session_cache.CHECK_EVERY
    assert (await client.get("/talepler")).url.path == "/giris"


async def test_forget_subject_ends_trust_in_this_process_at_once(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    await log_in(client, engine, muhtar)
    async with engine.begin() as conn:
        await end_all_for(conn, "muhtar", muhtar.id, _now(client), "password_changed")
    client.app[SESSION_CACHE].forget_subject("muhtar", muhtar.id)
    assert (await client.get("/talepler")).url.path == "/giris"


async def test_signed_in_muhtar_skips_the_log_in_page(
    client: TestClient, engine: AsyncEngine, muhtar: Muhtar
) -> None:
    await log_in(client, engine, muhtar)
    assert (await client.get("/giris")).url.path == "/basvuru"
    assert (await client.get("/giris?sonra=/talepler")).url.path == "/talepler"
