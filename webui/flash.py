"""One-shot messages carried to the next page (after a redirect) in the session."""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import get_session

_KEY = "flash"


async def add(request: web.Request, message: str, kind: str = "info") -> None:
    session = await get_session(request)
    session[_KEY] = [*session.get(_KEY, []), [kind, message]]


async def pop_all(request: web.Request) -> list[tuple[str, str]]:
    session = await get_session(request)
    items = session.pop(_KEY, None) or []
    return [(str(kind), str(message)) for kind, message in items]
