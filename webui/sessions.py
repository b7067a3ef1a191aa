"""Server-side records of signed-in browsers, and the middleware that enforces idle and absolute expiry.

The encrypted cookie (aiohttp-session) holds a random token; ``web_sessions`` holds its SHA-256 with the
subject and times. Log-out, expiry and "kill all sessions of this user" end the row, so a copied cookie
stops working too. ``last_seen_at`` is written at most once a minute (``TOUCH_EVERY``) to spare the
database on busy pages; idle expiry is therefore exact to within that minute.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from webui import csrf, flash
from webui.clock import aware
from webui.crypto import sha256_hex
from webui.keys import CLOCK, ENGINE, SESSION_CACHE, SETTINGS
from webui.middlewares import STATIC_PREFIX
from webui.session_cache import Entry
from webui.tables import web_sessions

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TOUCH_EVERY = timedelta(seconds=60)
_TOKEN_KEY = "sid"


@dataclass(frozen=True)
class Principal:
    """Who is signed in: ``kind`` is "muhtar" or "staff", ``id`` the muhtar's or staff user's id."""

    kind: str
    id: str
    signed_in_at: datetime


# Who is signed in on this request (None: nobody); set by session_middleware.
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")


async def start(
    conn: AsyncConnection, kind: str, subject_id: str, now: datetime, source_addr: str | None
) -> str:
    token = secrets.token_urlsafe(32)
    await conn.execute(
        web_sessions.insert().values(
            token_hash=sha256_hex(token),
            subject_kind=kind,
            subject_id=subject_id,
            created_at=now,
            last_seen_at=now,
            source_addr=source_addr,
        )
    )
    return token


async def end(conn: AsyncConnection, token: str, now: datetime, reason: str) -> None:
    await conn.execute(
        update(web_sessions)
        .where(web_sessions.c.token_hash == sha256_hex(token), web_sessions.c.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


async def end_all_for(conn: AsyncConnection, kind: str, subject_id: str, now: datetime, reason: str) -> int:
    """End every open session of one person (password or role changed, account disabled).

    After the commit, call ``app[SESSION_CACHE].forget_subject(kind, subject_id)`` so this process stops
    trusting them at once (other processes notice within session_cache.CHECK_EVERY).
    """
    result = await conn.execute(
        update(web_sessions)
        .where(
            web_sessions.c.subject_kind == kind,
            web_sessions.c.subject_id == subject_id,
            web_sessions.c.ended_at.is_(None),
        )
        .values(ended_at=now, end_reason=reason)
    )
    return int(result.rowcount or 0)


async def fresh_session(request: web.Request) -> Session:
    """Drop everything the cookie held; the empty session is saved (the old cookie is overwritten)."""
    session = await new_session(request)
    session.changed()
    return session


async def sign_in(request: web.Request, kind: str, subject_id: str) -> None:
    """A fresh cookie session (no pre-log-in state carries over: no fixation) and a new CSRF token."""
    now = request.app[CLOCK]()
    async with request.app[ENGINE].begin() as conn:
        token = await start(conn, kind, subject_id, now, request.remote)
    session = await fresh_session(request)
    session[_TOKEN_KEY] = token
    await csrf.rotate(request)
    request[PRINCIPAL] = Principal(kind, subject_id, now)


async def sign_out(request: web.Request, reason: str = "logout") -> None:
    session = await get_session(request)
    token = session.get(_TOKEN_KEY)
    if isinstance(token, str):
        request.app[SESSION_CACHE].forget(sha256_hex(token))
        async with request.app[ENGINE].begin() as conn:
            await end(conn, token, request.app[CLOCK](), reason)
    await fresh_session(request)
    await csrf.rotate(request)
    request[PRINCIPAL] = None


async def _remembered(request: web.Request, token_hash: str, now: datetime) -> Entry | None:
    """The session's row as last read (from the per-process cache when fresh), or None if it has ended."""
    cache = request.app[SESSION_CACHE]
    entry = cache.get(token_hash, now)
    if entry is not None:
        return entry
    async with request.app[ENGINE].connect() as conn:
        query = select(web_sessions).where(web_sessions.c.token_hash == token_hash)
        row = (await conn.execute(query)).first()
    if row is None or row.ended_at is not None:
        cache.forget(token_hash)
        return None
    entry = Entry(row.subject_kind, row.subject_id, aware(row.created_at), aware(row.last_seen_at), now)
    cache.put(token_hash, entry)
    return entry


async def _load(request: web.Request, token: str) -> Principal | str:
    """The principal, or why the session is over ("ended", "idle", "absolute")."""
    security = request.app[SETTINGS].security
    now = request.app[CLOCK]()
    token_hash = sha256_hex(token)
    entry = await _remembered(request, token_hash, now)
    if entry is None:
        return "ended"
    if now - entry.created_at > timedelta(hours=security.session_absolute_h):
        reason = "absolute"
    elif now - entry.last_seen_at > timedelta(minutes=security.session_idle_min):
        reason = "idle"
    else:
        if now - entry.last_seen_at >= TOUCH_EVERY:
            async with request.app[ENGINE].begin() as conn:
                await conn.execute(
                    update(web_sessions)
                    .where(web_sessions.c.token_hash == token_hash)
                    .values(last_seen_at=now)
                )
            entry.last_seen_at = now
        return Principal(entry.kind, entry.subject_id, entry.created_at)
    request.app[SESSION_CACHE].forget(token_hash)
    async with request.app[ENGINE].begin() as conn:
        await end(conn, token, now, reason)
    return reason


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sets request["principal"]; an expired session is ended and the person told so on the next page."""
    request[PRINCIPAL] = None
    if request.path.startswith(STATIC_PREFIX):
        return await handler(request)
    session = await get_session(request)
    token = session.get(_TOKEN_KEY)
    if isinstance(token, str):
        loaded = await _load(request, token)
        if isinstance(loaded, Principal):
            request[PRINCIPAL] = loaded
        else:
            await fresh_session(request)
            if loaded in ("idle", "absolute"):
                await flash.add(request, "Oturumunuzun süresi doldu. Lütfen yeniden giriş yapın.", "warning")
    return await handler(request)


def current(request: web.Request, kind: str) -> Principal | None:
    principal = request.get(PRINCIPAL)
    return principal if isinstance(principal, Principal) and principal.kind == kind else None
