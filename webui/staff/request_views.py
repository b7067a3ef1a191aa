"""A request's staff page, its conclusion screen (SÜRECİ TAMAMLA) and its files.

Opening either page is written to the personal-data access log by the service layer. The pages offer
only the actions the domain allows this viewer now (workflow/service_layer/staff_views.py); the forms
carry the version the page showed, so a stale screen gets the "reload" message instead of a lost update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from webui.keys import ATTACHMENTS_DIR, CLOCK, ENGINE, UOW_FACTORY
from webui.staff import files
from webui.staff.guard import staff_only
from webui.staff.presenters import staff_page
from workflow.domain.errors import NotAllowed, NotFound
from workflow.domain.units import UnitRef
from workflow.service_layer import staff_views
from workflow.service_layer.staff_views import StaffRequestPage


@dataclass
class Picker:
    """MİGM's unit picker: the units already chosen (with their notes) and the latest search's results."""

    selected: list[UnitRef] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)
    results: list[UnitRef] = field(default_factory=list)
    search: str = ""
    province: int | None = None
    searched: bool = False


def number_of(request: web.Request) -> int:
    return int(request.match_info["number"])


async def load(request: web.Request, user_id: str) -> StaffRequestPage:
    app = request.app
    try:
        return await staff_views.request_page(
            app[UOW_FACTORY](),
            app[ENGINE],
            user_id,
            number_of(request),
            request.remote,
            app[CLOCK](),
            files.of_request,
        )
    except (NotFound, NotAllowed):
        raise web.HTTPNotFound() from None  # not there, or not for this viewer: the same answer


async def show(
    request: web.Request,
    user_id: str,
    *,
    template: str = "staff/request.html",
    errors: list[str] | None = None,
    values: dict[str, Any] | None = None,
    picker: Picker | None = None,
    status: int = 200,
) -> web.Response:
    page = await load(request, user_id)
    context = {
        "p": page,
        "r": page.request,
        "files": {f.id: f for f in page.files},
        "errors": errors or [],
        "values": values or {},
        "picker": picker or Picker(),
        "provinces": page.provinces,
    }
    return await staff_page(request, template, page.viewer, "inbox", context, status=status)


@staff_only
async def request_page(request: web.Request, user_id: str) -> web.Response:
    return await show(request, user_id)


@staff_only
async def conclude_page(request: web.Request, user_id: str) -> web.Response:
    page = await load(request, user_id)
    if not page.viewer.is_migm:
        raise web.HTTPNotFound()
    return await show(request, user_id, template="staff/conclude.html")


@staff_only
async def attachment(request: web.Request, user_id: str) -> web.StreamResponse:
    page = await load(request, user_id)
    wanted = request.match_info["attachment_id"]
    found = next((f for f in page.files if f.id == wanted), None)
    if found is None:
        raise web.HTTPNotFound()
    return files.serve(request.app[ATTACHMENTS_DIR], found)
