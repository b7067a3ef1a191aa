"""Staff log-in (Kullanıcı Adı + Parola, "Oturum Aç") and log-out.

The password check, waits and the log of attempts are the service layer's (staff_auth); this module only
reads the form, starts a fresh session (new id, new CSRF token) and sends the person to their inbox.
Failures from one address are also limited, so guessing many names from one place is slowed too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from aiohttp import web
from aiohttp_session import get_session

from webui import flash, ratelimit, sessions
from webui.forms import Form, safe_next, text_field
from webui.keys import CLOCK, ENGINE
from webui.render import render
from webui.staff.guard import HOME
from workflow.service_layer import staff_auth

ADDRESS_FAILURES: Final = 30
ADDRESS_WINDOW: Final = timedelta(minutes=15)
NEXT_KEY: Final = "staff_next"
PREFIX: Final = "/personel/"


async def _page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    return await render(request, "staff/login.html", form.context(), status=status)


async def form(request: web.Request) -> web.Response:
    session = await get_session(request)
    session[NEXT_KEY] = request.query.get("sonra", "")
    return await _page(request, Form())


async def _address_limited(request: web.Request, bucket: str) -> bool:
    async with request.app[ENGINE].connect() as conn:
        failures = await ratelimit.count(conn, bucket, request.app[CLOCK](), ADDRESS_WINDOW)
    return failures >= ADDRESS_FAILURES


async def log_in(request: web.Request) -> web.Response:
    data = await request.post()
    f = Form(values={"kullanici_adi": text_field(data, "kullanici_adi", 100)})
    password = text_field(data, "parola", staff_auth.PASSWORD_MAX)
    if not f.values["kullanici_adi"].strip() or not password:
        f.general.append("Kullanıcı adınızı ve parolanızı yazın.")
        return await _page(request, f, status=400)
    bucket, now = f"staff-login:ip:{request.remote or '-'}", request.app[CLOCK]()
    if await _address_limited(request, bucket):
        f.general.append(
            "Bu adresten çok sayıda hatalı giriş denemesi yapıldı. Lütfen 15 dakika sonra deneyin."
        )
        return await _page(request, f, status=429)
    outcome = await staff_auth.authenticate(
        request.app[ENGINE], f.values["kullanici_adi"], password, request.remote, now
    )
    if not outcome.ok or outcome.user_id is None:
        async with request.app[ENGINE].begin() as conn:
            await ratelimit.hit(conn, bucket, now)
        f.general.append(staff_auth.refusal_text(outcome))
        return await _page(request, f, status=429 if outcome.retry_at else 400)
    return await _signed_in(request, outcome.user_id)


async def _signed_in(request: web.Request, user_id: str) -> web.Response:
    session = await get_session(request)
    wanted = session.get(NEXT_KEY)
    target = safe_next(
        wanted if isinstance(wanted, str) and wanted.startswith(PREFIX) else None,
        request.app.router[HOME].url_for().path,
    )
    await sessions.sign_in(request, "staff", user_id)  # a fresh session: nothing from before carries over
    raise web.HTTPSeeOther(target)


async def log_out(request: web.Request) -> web.Response:
    principal = sessions.current(request, "staff")
    if principal is not None:
        async with request.app[ENGINE].begin() as conn:
            await staff_auth.log_event(
                conn, principal.id, staff_auth.Result.LOGOUT, request.app[CLOCK](), request.remote
            )
    await sessions.sign_out(request)
    await flash.add(request, "Oturumunuz kapatıldı.", "success")
    raise web.HTTPSeeOther(request.app.router["staff_login"].url_for())
