"""CSRF protection: one random token per session, required in every unsafe request.

URL-encoded forms are checked here before the view runs. A multipart form (file upload) is streamed by its
view, so the middleware cannot read it first: only views marked with ``@multipart_form`` accept one, and
they must call ``check`` on the ``csrf_token`` part, which templates put first in the form (browsers send
fields in document order).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

FIELD = "csrf_token"
_SESSION_KEY = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CsrfRefused(web.HTTPForbidden):
    """Missing, expired or wrong token; rendered as the Turkish 403 page with its own explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason="CSRF token " + reason)
        self.why = reason


async def token(request: web.Request) -> str:
    session = await get_session(request)
    value = session.get(_SESSION_KEY)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = value
    return value


async def rotate(request: web.Request) -> None:
    """A new token at log-in and log-out, so a token seen before cannot be used after."""
    session = await get_session(request)
    session[_SESSION_KEY] = secrets.token_urlsafe(32)


async def check(request: web.Request, sent: Any) -> None:
    session = await get_session(request)
    expected = session.get(_SESSION_KEY)
    if not isinstance(sent, str) or not sent:
        raise CsrfRefused("missing")
    if not isinstance(expected, str):
        raise CsrfRefused("expired")  # no session (or a new one): the form outlived it
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused("wrong")


def multipart_form(view: Handler) -> Handler:
    """Mark a view that reads a multipart form itself and checks the token in its first part."""
    view.csrf_multipart = True  # type: ignore[attr-defined]
    return view


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS or request.match_info.http_exception is not None:
        return await handler(request)  # safe, or no such route/method: let it answer 404/405
    if getattr(request.match_info.handler, "csrf_exempt", False):
        return await handler(request)  # machine-to-machine endpoints with their own check (POST /ussd)
    if request.content_type == "multipart/form-data":
        # The route's own view, not `handler` (which may be another middleware's wrapper).
        if not getattr(request.match_info.handler, "csrf_multipart", False):
            raise CsrfRefused("missing")
        return await handler(request)
    form = await request.post()
    await check(request, form.get(FIELD))
    return await handler(request)
