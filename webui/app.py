"""The web application factory: ``init_app(settings)`` builds everything the muhtar and staff pages need.

Shared resources (database engine, service-layer bus, captcha maker) live under typed ``web.AppKey``s and
are opened and closed in ``cleanup_ctx``; whatever the caller passes in (``engine=``, ``bus=``) stays the
caller's to close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.simulator import Simulator
from inbound.ussd_http import USSD_SERVICES, ussd_handler
from webui import csrf, housekeeping, sessions
from webui.attachments import BODY_LIMIT
from webui.captcha import CaptchaMaker
from webui.clock import utc_now
from webui.crypto import Keys
from webui.keys import (
    ATTACHMENTS_DIR,
    BUS,
    CAPTCHA,
    CLOCK,
    ENGINE,
    KEYS,
    SESSION_CACHE,
    SETTINGS,
    SIMULATOR,
    UOW_FACTORY,
    Clock,
)
from webui.middlewares import error_middleware, on_prepare_headers, timing_middleware
from webui.render import setup_jinja
from webui.routes import setup_routes
from webui.session_cache import SessionCache
from workflow.adapters.db import create_engine
from workflow.bootstrap import Services, bootstrap
from workflow.paths import VAR_DIR
from workflow.service_layer.messagebus import MessageBus
from workflow.settings import Settings

COOKIE_NAME = "mbs_oturum"


def init_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    bus: MessageBus | None = None,
    clock: Clock | None = None,
    attachments_dir: Path | None = None,
    simulator: Simulator | None = None,
) -> web.Application:
    keys = Keys.from_secret(settings.web.secret_key)
    storage = EncryptedCookieStorage(
        keys.cookie,
        cookie_name=COOKIE_NAME,
        httponly=True,
        samesite="Lax",
        secure=settings.web.base_url.startswith("https://"),
    )
    # Order matters: the timer is outermost (Server-Timing); the error middleware comes next so that anything
    # below it, including the session and CSRF checks, ends in a Turkish page; the cookie session must exist before our server-side
    # session check reads it; CSRF is checked last, right before the view.
    app = web.Application(
        middlewares=[
            timing_middleware,
            error_middleware,
            aiohttp_session.session_middleware(storage),
            sessions.session_middleware,
            csrf.csrf_middleware,
        ],
        client_max_size=BODY_LIMIT,  # URL-encoded forms; streamed uploads count in attachments.Budget
    )
    app[SETTINGS] = settings
    app[KEYS] = keys
    app[CLOCK] = clock or utc_now
    app[ATTACHMENTS_DIR] = attachments_dir or VAR_DIR / "attachments"
    app[CAPTCHA] = CaptchaMaker()
    app[SESSION_CACHE] = SessionCache()
    if simulator is not None:
        app[SIMULATOR] = simulator
    setup_jinja(app, auto_reload=settings.embedded)
    setup_routes(app)
    app.router.add_post("/ussd", ussd_handler, name="ussd")
    app.on_response_prepare.append(on_prepare_headers)
    app.cleanup_ctx.append(_engine_ctx(engine))
    app.cleanup_ctx.append(_bus_ctx(bus))
    app.cleanup_ctx.append(_storage_ctx)
    app.cleanup_ctx.append(_housekeeping_ctx)
    return app


def _engine_ctx(given: AsyncEngine | None):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if given is not None:
            app[ENGINE] = given
            yield
            return
        database = app[SETTINGS].database
        engine = create_engine(database.url, echo=database.echo, pool_size=database.pool_size)
        app[ENGINE] = engine
        yield
        await engine.dispose()

    return ctx


def _bus_ctx(given: MessageBus | None):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        bus = given or bootstrap(app[SETTINGS], engine=app[ENGINE], clock=app[CLOCK]).commands
        app[BUS] = bus
        app[UOW_FACTORY] = bus.uow_factory
        # The USSD menu answers from the same service layer, in the operator gateway's HTTP request.
        app[USSD_SERVICES] = Services(app[SETTINGS], app[ENGINE], bus.uow_factory, bus, app[CLOCK])
        yield

    return ctx


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    """The attachment store and its upload area exist before the first upload arrives."""
    await asyncio.to_thread((app[ATTACHMENTS_DIR] / "tmp").mkdir, parents=True, exist_ok=True)
    yield


async def _housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    """Deletes spent captcha/OTP/limit rows in the background; see webui/housekeeping.py."""
    task = asyncio.create_task(housekeeping.run_forever(app[ENGINE], app[CLOCK]))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
