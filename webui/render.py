"""Jinja2 environment for templates/web/ and the one ``render`` helper every view uses.

``render`` adds what every page needs (CSRF token for the log-out form, the signed-in person, flash
messages, settings) so views pass only their own data.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from webui import csrf, flash, presenters, sessions
from webui.keys import SETTINGS
from workflow.paths import TEMPLATES_DIR

WEB_TEMPLATES = TEMPLATES_DIR / "web"
STATIC_DIR = Path(__file__).resolve().parent / "static"
ISTANBUL = ZoneInfo("Europe/Istanbul")


def tarih(value: datetime | None, with_time: bool = True) -> str:
    """UTC inside, Europe/Istanbul on screens: 25.11.2026 14:05."""
    if value is None:
        return ""
    local = value.astimezone(ISTANBUL)
    return local.strftime("%d.%m.%Y %H:%M" if with_time else "%d.%m.%Y")


def boyut(size: int) -> str:
    """File sizes the Turkish way: "850 bayt", "12 KB", "3,4 MB"."""
    if size < 1024:
        return f"{size} bayt"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / 1048576:.1f} MB".replace(".", ",")


@lru_cache(maxsize=256)
def _static_version(path: str) -> str:
    try:
        return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]
    except OSError:
        return "0"


def static_url(path: str) -> str:
    """A content-versioned URL, so static files can be cached for a year (see middlewares.py)."""
    return f"/static/{path}?v={_static_version(path)}"


def setup_jinja(app: web.Application, *, auto_reload: bool = True) -> jinja2.Environment:
    """``auto_reload`` re-reads changed templates (a stat per render): for the embedded default only."""
    env = aiohttp_jinja2.setup(
        app,
        auto_reload=auto_reload,
        loader=jinja2.FileSystemLoader(str(WEB_TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tarih"] = tarih
    env.filters["boyut"] = boyut
    env.globals.update(
        static_url=static_url,
        kind_label=presenters.kind_label,
        state_label=presenters.state_label,
        movement_text=presenters.movement_text,
    )
    return env


async def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    page: dict[str, Any] = {
        "request": request,
        "settings": request.app[SETTINGS],
        "csrf_token": await csrf.token(request),
        "principal": request.get(sessions.PRINCIPAL),
        "flashes": await flash.pop_all(request),
    }
    page.update(context or {})
    return aiohttp_jinja2.render_template(template, request, page, status=status)
