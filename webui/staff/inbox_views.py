"""Gelen Kutusu, Görünümler (with search) and the per-user list settings."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from webui import flash
from webui.keys import CLOCK, ENGINE, SETTINGS
from webui.staff.guard import STAFF_ACTOR, staff_only, staff_reader
from webui.staff.presenters import staff_page
from workflow.domain.errors import NotAllowed
from workflow.domain.units import Actor
from workflow.service_layer import inbox, staff_preferences, staff_search, staff_views
from workflow.service_layer.inbox import ListQuery, Sort
from workflow.service_layer.staff_preferences import Preferences

PAGE_MAX: Final = 100_000


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and 0 < int(raw) <= PAGE_MAX else 1


def list_query(request: web.Request, prefs: Preferences) -> ListQuery:
    """Query-string values checked against what we offer; anything else falls back to the user's defaults."""
    sort = request.query.get("sira", "")
    return ListQuery(
        tab=request.query.get("sekme"),
        sort=Sort(sort) if sort in Sort._value2member_map_ else prefs.sort,
        page=_page_number(request.query.get("sayfa")),
        page_size=prefs.page_size,
        search=request.query.get("ara", "")[: staff_search.SEARCH_MAX],
    )


async def viewer(request: web.Request, user_id: str, db: inbox.Db | None = None) -> Actor:
    """The signed-in person (as ``staff_only`` read them on this request); an administrator outside MİGM
    has no inbox and is sent to the admin pages."""
    checked = request.get(STAFF_ACTOR)
    try:
        if checked is not None and checked.id == user_id:
            return inbox.inbox_viewer(checked)
        return await inbox.staff_viewer(db or request.app[ENGINE], user_id)
    except NotAllowed:
        raise web.HTTPSeeOther(request.app.router["staff_admin_users"].url_for()) from None


async def _list_page(request: web.Request, user_id: str, conn: AsyncConnection, which: str) -> web.Response:
    """Gelen Kutusu or Görünümler: the check, the person's settings, counts and rows over one connection."""
    app = request.app
    me = await viewer(request, user_id)
    prefs = await staff_preferences.preferences(conn, user_id)
    query = list_query(request, prefs)
    lister = inbox.inbox if which == "inbox" else inbox.views
    page = await lister(conn, me, query, app[CLOCK](), app[SETTINGS].workflow.due_soon_days)
    context = {"page": page, "cols": prefs.columns, "sort": query.sort.value, "search": query.search}
    return await staff_page(request, f"staff/{which}.html", me, which, context)


@staff_reader
async def inbox_page(request: web.Request, user_id: str, conn: AsyncConnection) -> web.Response:
    return await _list_page(request, user_id, conn, "inbox")


@staff_reader
async def views_page(request: web.Request, user_id: str, conn: AsyncConnection) -> web.Response:
    return await _list_page(request, user_id, conn, "views")


@staff_only
async def settings_page(request: web.Request, user_id: str) -> web.Response:
    me = await viewer(request, user_id)
    prefs = await staff_preferences.preferences(request.app[ENGINE], user_id)
    context = {"prefs": prefs, "page_sizes": staff_preferences.PAGE_SIZES}
    return await staff_page(request, "staff/settings.html", me, "settings", context)


@staff_only
async def save_settings(request: web.Request, user_id: str) -> web.Response:
    await viewer(request, user_id)
    data = await request.post()
    size = str(data.get("sayfa_boyutu", ""))
    prefs = staff_preferences.clean_preferences(
        [str(c) for c in data.getall("sutun", [])],
        str(data.get("sira", "")),
        int(size) if size.isdigit() and len(size) <= 4 else 0,
    )
    await staff_preferences.save_preferences(request.app[ENGINE], user_id, prefs, request.app[CLOCK]())
    await flash.add(request, "Ayarlarınız kaydedildi.", "success")
    raise web.HTTPSeeOther(request.app.router["staff_settings"].url_for())


async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther(request.app.router["staff_inbox"].url_for())


@staff_only
async def unit_search(request: web.Request, user_id: str) -> web.Response:
    """A short JSON list of Valilik/Belediye for MİGM's picker (?ara=…&il=…); the page works without it."""
    me = await viewer(request, user_id)
    if not me.is_migm:
        raise web.HTTPNotFound()
    province = request.query.get("il", "")
    found = await staff_views.routing_targets(
        request.app[ENGINE],
        request.query.get("ara", "")[:60],
        int(province) if province.isdigit() and 1 <= int(province) <= 81 else None,
    )
    return web.json_response([{"id": u.id, "ad": u.name, "tur": u.kind.value} for u in found])
