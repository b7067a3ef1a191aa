"""Who may open a staff page: a signed-in staff user whose session was not ended by a password, role or
unit change (``staff_auth.checked_actor``); everyone else goes to the staff log-in page.

The check reads the account and its unit in one query and leaves the person on the request
(``STAFF_ACTOR``), so the page does not read them again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

from webui import flash, sessions
from webui.keys import ENGINE
from workflow.domain.units import Actor
from workflow.service_layer import staff_auth

StaffView = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
View = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOGIN = "staff_login"
HOME = "staff_inbox"

# The signed-in staff user, as checked by ``staff_only`` on this request.
STAFF_ACTOR: web.RequestKey[Actor] = web.RequestKey("staff_actor")


def staff_only(view: StaffView) -> View:
    @wraps(view)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        principal = sessions.current(request, "staff")
        if principal is None:
            target = request.path_qs if request.method == "GET" else request.app.router[HOME].url_for().path
            raise web.HTTPSeeOther(request.app.router[LOGIN].url_for().with_query(sonra=target))
        actor = await staff_auth.checked_actor(request.app[ENGINE], principal.id, principal.signed_in_at)
        if actor is None:
            await sessions.sign_out(request, "revoked")
            await flash.add(
                request,
                "Hesabınızda değişiklik yapıldığı için oturumunuz kapatıldı. Lütfen yeniden giriş yapın.",
                "warning",
            )
            raise web.HTTPSeeOther(request.app.router[LOGIN].url_for())
        request[STAFF_ACTOR] = actor
        return await view(request, principal.id)

    return wrapper
