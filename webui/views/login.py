"""Muhtar log-in: TCKN + Ad Soyad + doğrulama kodu → onay kodu by SMS → Sisteme Giriş; and log-out."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web
from aiohttp_session import get_session

from webui import captcha, flash, login_service, otp, sessions
from webui.forms import Form, echo, safe_next, text_field
from webui.keys import CAPTCHA, CLOCK, ENGINE, KEYS, SETTINGS
from webui.render import render, tarih
from workflow.identity import InvalidTCKN, validate_tckn

logger = logging.getLogger(__name__)

AFTER_LOGIN = "/basvuru"


async def _new_captcha(request: web.Request) -> None:
    async with request.app[ENGINE].begin() as conn:
        captcha_id = await captcha.issue(conn, request.app[CLOCK]())
    session = await get_session(request)
    session["captcha"] = {"id": captcha_id, "answer": captcha.new_answer()}


async def _login_page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    await _new_captcha(request)
    session = await get_session(request)
    return await render(
        request, "login.html", {**form.context(), "captcha_id": session["captcha"]["id"]}, status=status
    )


async def form(request: web.Request) -> web.Response:
    if sessions.current(request, "muhtar") is not None:  # already signed in
        raise web.HTTPSeeOther(safe_next(request.query.get("sonra"), AFTER_LOGIN))
    session = await get_session(request)
    session["next"] = safe_next(request.query.get("sonra"), AFTER_LOGIN)
    return await _login_page(request, Form())


async def _check_login_form(request: web.Request) -> tuple[Form, str]:
    data = await request.post()
    f = Form(
        values={
            "tckn": text_field(data, "tckn", 40),
            "ad_soyad": text_field(data, "ad_soyad", 200),
            "dogrulama_kodu": text_field(data, "dogrulama_kodu", 20),
        }
    )
    tckn = ""
    try:
        tckn = validate_tckn(f.values["tckn"])
    except InvalidTCKN as exc:
        typed = f" Girdiğiniz: “{echo(f.values['tckn'])}”." if f.values["tckn"].strip() else ""
        f.errors["tckn"] = exc.message + typed
    if len(" ".join(f.values["ad_soyad"].split())) < 3:
        f.errors["ad_soyad"] = "Adınızı ve soyadınızı, muhtar kaydınızdaki gibi yazın."
    await _check_captcha(request, f)
    return f, tckn


async def _check_captcha(request: web.Request, f: Form) -> None:
    session = await get_session(request)
    held = session.pop("captcha", None)
    typed = f.values["dogrulama_kodu"]
    if not typed.strip():
        f.errors["dogrulama_kodu"] = "Resimdeki doğrulama kodunu yazın."
        return
    async with request.app[ENGINE].begin() as conn:
        fresh = isinstance(held, dict) and await captcha.consume(conn, held["id"], request.app[CLOCK]())
    if not fresh or not captcha.matches(held["answer"], typed):
        f.errors["dogrulama_kodu"] = (
            f"Doğrulama kodu resimdeki ile aynı değil (girdiğiniz: “{echo(typed)}”). "
            "Yeni resimdeki kodu yazın."
        )


async def send_code(request: web.Request) -> web.Response:
    f, tckn = await _check_login_form(request)
    if not f.ok:
        return await _login_page(request, f, status=400)
    app = request.app
    try:
        sent = await login_service.request_code(
            app[ENGINE],
            app[KEYS],
            app[SETTINGS].security,
            tckn=tckn,
            full_name=f.values["ad_soyad"],
            ip=request.remote or "-",
            now=app[CLOCK](),
        )
    except login_service.Limited as exc:
        f.general.append(_limited_text(exc))
        return await _login_page(request, f, status=429)
    session = await get_session(request)
    session["otp"] = {"id": sent.challenge_id, "mask": sent.masked_phone}
    raise web.HTTPSeeOther(request.app.router["otp"].url_for())


def _limited_text(exc: login_service.Limited) -> str:
    return (
        "Son bir saat içinde çok fazla onay kodu istendi. Güvenliğiniz için "
        f"{tarih(exc.retry_at)} saatinden sonra yeniden deneyebilirsiniz."
    )


async def _code_page(request: web.Request, f: Form, status: int = 200) -> web.Response:
    session = await get_session(request)
    held = session.get("otp")
    if not isinstance(held, dict):
        raise web.HTTPSeeOther(request.app.router["login"].url_for())
    async with request.app[ENGINE].connect() as conn:
        challenge = await otp.load(conn, held["id"])
    now, security = request.app[CLOCK](), request.app[SETTINGS].security
    expires_in = max(0, int((challenge.expires_at - now).total_seconds())) if challenge else 0
    resend_at = challenge.created_at + timedelta(seconds=security.otp_resend_s) if challenge else now
    return await render(
        request,
        "otp.html",
        {
            **f.context(),
            "masked_phone": held["mask"],
            "expires_in": expires_in,
            "resend_in": max(0, int((resend_at - now).total_seconds())),
            "ttl_min": security.otp_ttl_s // 60,
        },
        status=status,
    )


async def code_form(request: web.Request) -> web.Response:
    return await _code_page(request, Form())


async def verify_code(request: web.Request) -> web.Response:
    data = await request.post()
    f = Form(values={"onay_kodu": text_field(data, "onay_kodu", 20)})
    session = await get_session(request)
    held = session.get("otp")
    if not isinstance(held, dict):
        raise web.HTTPSeeOther(request.app.router["login"].url_for())
    typed = "".join(f.values["onay_kodu"].split())
    if not (typed.isascii() and typed.isdigit() and len(typed) == otp.CODE_LENGTH):
        f.errors["onay_kodu"] = f"Onay kodu 6 rakamdan oluşur (girdiğiniz: “{echo(typed)}”)."
        return await _code_page(request, f, status=400)
    app = request.app
    verdict = await login_service.verify(
        app[ENGINE], app[KEYS], app[SETTINGS].security, challenge_id=held["id"], code=typed, now=app[CLOCK]()
    )
    return await _after_verdict(request, f, verdict, typed)


async def _after_verdict(request: web.Request, f: Form, verdict: otp.Verdict, typed: str) -> web.Response:
    session = await get_session(request)
    if verdict.outcome is otp.Outcome.OK and verdict.muhtar_id is not None:
        target = safe_next(session.get("next"), AFTER_LOGIN)
        await sessions.sign_in(request, "muhtar", verdict.muhtar_id)
        logger.info("muhtar %s signed in", verdict.muhtar_id)
        raise web.HTTPSeeOther(target)
    if verdict.outcome is otp.Outcome.KILLED:
        session.pop("otp", None)
        await flash.add(
            request,
            "Onay kodu üç kez yanlış girildiği için iptal edildi. Lütfen bilgilerinizi "
            "yeniden girerek yeni bir kod isteyin.",
            "error",
        )
        raise web.HTTPSeeOther(request.app.router["login"].url_for())
    if verdict.outcome is otp.Outcome.WRONG:
        f.errors["onay_kodu"] = (
            f"Girdiğiniz onay kodu (“{typed}”) doğru değil. Kalan deneme hakkınız: {verdict.tries_left}."
        )
    else:
        f.errors["onay_kodu"] = (
            "Onay kodunun süresi dolmuş ya da kod artık geçerli değil. "
            "“Yeniden Gönder” düğmesiyle yeni bir kod isteyin."
        )
    return await _code_page(request, f, status=400)


async def resend_code(request: web.Request) -> web.Response:
    session = await get_session(request)
    held = session.get("otp")
    if not isinstance(held, dict):
        raise web.HTTPSeeOther(request.app.router["login"].url_for())
    app, f = request.app, Form()
    try:
        held["id"] = await login_service.resend(
            app[ENGINE],
            app[KEYS],
            app[SETTINGS].security,
            challenge_id=held["id"],
            ip=request.remote or "-",
            now=app[CLOCK](),
        )
    except login_service.ChallengeGone:
        session.pop("otp", None)
        await flash.add(request, "Bu giriş denemesi sona erdi. Lütfen bilgilerinizi yeniden girin.", "error")
        raise web.HTTPSeeOther(app.router["login"].url_for()) from None
    except login_service.TooSoon as exc:
        f.general.append(f"Yeni kod isteyebilmek için {exc.wait_s} saniye daha bekleyin.")
        return await _code_page(request, f, status=429)
    except login_service.Limited as exc:
        f.general.append(_limited_text(exc))
        return await _code_page(request, f, status=429)
    session["otp"] = held
    await flash.add(request, f"Yeni onay kodu {held['mask']} numaralı telefonunuza gönderildi.", "success")
    raise web.HTTPSeeOther(app.router["otp"].url_for())


async def captcha_image(request: web.Request) -> web.Response:
    held = (await get_session(request)).get("captcha")
    if not isinstance(held, dict):
        raise web.HTTPNotFound()
    return web.Response(body=await request.app[CAPTCHA].png(held["answer"]), content_type="image/png")


async def captcha_audio(request: web.Request) -> web.Response:
    held = (await get_session(request)).get("captcha")
    if not isinstance(held, dict):
        raise web.HTTPNotFound()
    return web.Response(body=await request.app[CAPTCHA].wav(held["answer"]), content_type="audio/wav")


async def logout(request: web.Request) -> web.Response:
    await sessions.sign_out(request)
    await flash.add(request, "Oturumunuz kapatıldı.", "success")
    raise web.HTTPSeeOther(request.app.router["home"].url_for())
