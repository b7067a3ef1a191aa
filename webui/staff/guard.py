"""Who may open a staff page: a signed-in staff user whose session was not ended by a password, role or
unit change (``staff_auth.checked_actor``); everyone else goes to the staff log-in page.

The check reads the account and its unit in one query and leaves the person on the request
(``STAFF_ACTOR``), so the page does not read them again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import NoReturn

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from webui import flash, sessions
from webui.keys import ENGINE
from workflow.domain.units import Actor
from workflow.service_layer import inbox, staff_auth

StaffView = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
ReaderView = Callable[[web.Request, str, AsyncConnection], Awaitable[web.StreamResponse]]
View = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOGIN = "staff_login"
HOME = "staff_inbox"

# The signed-in staff user, as checked by ``staff_only`` on this request.
STAFF_ACTOR: web.RequestKey[Actor] = web.RequestKey("staff_actor")


async def _principal(request: web.Request) -> sessions.Principal:
    principal = sessions.current(request, "staff")
    if principal is None:
        target = request.path_qs if request.method == "GET" else request.app.router[HOME].url_for().path
        raise web.HTTPSeeOther(request.app.router[LOGIN].url_for().with_query(sonra=target))
    return principal


async def _refuse(request: web.Request) -> NoReturn:
    await sessions.sign_out(request, "revoked")
    await flash.add(
        request,
        "Hesabınızda değişiklik yapıldığı için oturumunuz kapatıldı. Lütfen yeniden giriş yapın.",
        "warning",
    )
    raise web.HTTPSeeOther(request.app.router[LOGIN].url_for())


def staff_only(view: StaffView) -> View:
    @wraps(view)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        principal = await _principal(request)
        actor = await staff_auth.checked_actor(request.app[ENGINE], principal.id, principal.signed_in_at)
        if actor is None:
            await _refuse(request)
        request[STAFF_ACTOR] = actor
        return await view(request, principal.id)

    return wrapper


def staff_reader(view: ReaderView) -> View:
    """``staff_only`` for pages that only read (the lists): the check and the page share one read-only
    connection (``inbox.reading``), so such a page checks out one pooled connection instead of two. The
    view must not open another connection or run a command while it holds this one."""

    @wraps(view)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        principal = await _principal(request)
        async with inbox.reading(request.app[ENGINE]) as conn:
            actor = await staff_auth.checked_actor(conn, principal.id, principal.signed_in_at)
            if actor is not None:
                request[STAFF_ACTOR] = actor
                return await view(request, principal.id, conn)
        await _refuse(request)  # after the connection is back: signing out writes

    return wrapper
