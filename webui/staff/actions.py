"""The request page's forms: each reads its fields, sends one command, and shows the outcome.

The command handlers decide (who may, in which state); a refusal comes back as the domain's Turkish
message on the same page with what was typed kept, and the right status (403 not allowed, 409 state or a
stale screen, 400 bad input). A request the user may not see answers 404, exactly like one that does
not exist.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from multidict import MultiDictProxy

from webui import attachments, csrf, flash
from webui.keys import ATTACHMENTS_DIR, BUS, CLOCK, ENGINE, SETTINGS
from webui.staff import files
from webui.staff.guard import staff_only
from webui.staff.request_views import Picker, number_of, show
from workflow.domain import commands as c
from workflow.domain.errors import (
    ConcurrencyConflict,
    DomainError,
    InvalidState,
    NotAllowed,
    NotFound,
    ValidationFailed,
)
from workflow.service_layer import staff_views

STATUS: Final[dict[type[DomainError], int]] = {
    NotAllowed: 403,
    InvalidState: 409,
    ConcurrencyConflict: 409,
    ValidationFailed: 400,
}
MAX_TARGETS: Final = 50
Form = MultiDictProxy[Any]


def status_of(exc: DomainError) -> int:
    return next((status for kind, status in STATUS.items() if isinstance(exc, kind)), 400)


def version(data: Any) -> int | None:
    raw = str(data.get("surum", ""))
    return int(raw) if raw.isdigit() and len(raw) <= 9 else None


def field(data: Any, name: str, limit: int = 8000) -> str:
    value = data.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def unit_ids(data: Form) -> list[int]:
    raw = [str(v) for v in data.getall("birim", [])]
    return list(dict.fromkeys(int(v) for v in raw if v.isdigit() and len(v) <= 9))[:MAX_TARGETS]


async def act(
    request: web.Request,
    user_id: str,
    command: c.Command,
    done: str,
    values: dict[str, Any],
    picker: Picker | None = None,
) -> web.Response:
    try:
        await request.app[BUS].handle(command)
    except NotFound:
        raise web.HTTPNotFound() from None
    except DomainError as exc:
        return await show(
            request, user_id, errors=[exc.message], values=values, picker=picker, status=status_of(exc)
        )
    await flash.add(request, done, "success")
    raise web.HTTPSeeOther(request.app.router["staff_request"].url_for(number=str(number_of(request))))


@staff_only
async def set_priority(request: web.Request, user_id: str) -> web.Response:
    data = await request.post()
    command = c.SetPriority(user_id, number_of(request), field(data, "oncelik", 20), version(data))
    return await act(request, user_id, command, "Öncelik kaydedildi.", dict(data))


@staff_only
async def route(request: web.Request, user_id: str) -> web.Response:
    """One form, two buttons: "Ara" searches units (keeping what was chosen), the other routes."""
    data = await request.post()
    ids = unit_ids(data)
    picker = Picker(notes={i: field(data, f"not_{i}") for i in ids}, search=field(data, "birim_ara", 60))
    province = field(data, "il", 3)
    picker.province = int(province) if province.isdigit() and 1 <= int(province) <= 81 else None
    picker.selected = await staff_views.units_by_id(request.app[ENGINE], ids)
    if data.get("islem") == "ara":
        picker.searched = True
        found = await staff_views.routing_targets(request.app[ENGINE], picker.search, picker.province)
        picker.results = [u for u in found if u.id not in ids]
        return await show(request, user_id, picker=picker, values=dict(data))
    targets = tuple(c.Target(i, picker.notes[i]) for i in ids)
    command = c.RouteRequest(user_id, number_of(request), targets, version(data))
    return await act(request, user_id, command, "Talep seçilen birimlere yönlendirildi.", dict(data), picker)


@staff_only
async def review_handback(request: web.Request, user_id: str) -> web.Response:
    data = await request.post()
    command = c.ReviewHandback(user_id, number_of(request), field(data, "gorev", 32), version(data))
    return await act(request, user_id, command, "İade değerlendirildi olarak işaretlendi.", dict(data))


@staff_only
async def take_on(request: web.Request, user_id: str) -> web.Response:
    data = await request.post()
    command = c.TakeOn(user_id, number_of(request), field(data, "gorev", 32), version(data))
    return await act(request, user_id, command, "Görev biriminizin üzerine alındı.", dict(data))


@staff_only
async def forward(request: web.Request, user_id: str) -> web.Response:
    data = await request.post()
    note = field(data, "not")
    targets = tuple(c.Target(i, note) for i in unit_ids(data))
    command = c.Forward(user_id, number_of(request), field(data, "gorev", 32), targets, version(data))
    return await act(request, user_id, command, "Talep seçilen alt birimlere iletildi.", dict(data))


@staff_only
async def hand_back(request: web.Request, user_id: str) -> web.Response:
    data = await request.post()
    command = c.HandBack(
        user_id, number_of(request), field(data, "gorev", 32), field(data, "gerekce"), version(data)
    )
    return await act(request, user_id, command, "Görev gerekçesiyle iade edildi.", dict(data))


@staff_only
async def add_note(request: web.Request, user_id: str) -> web.Response:
    data = await request.post()
    command = c.AddNote(user_id, number_of(request), field(data, "ic_not"))
    return await act(request, user_id, command, "İç not eklendi.", dict(data))


@staff_only
async def conclude(request: web.Request, user_id: str) -> web.Response:
    data = await request.post()
    public = tuple(str(v)[:32] for v in data.getall("ek", []))[:100]
    command = c.Conclude(user_id, number_of(request), field(data, "sonuc_notu"), public, version(data))
    return await act(
        request, user_id, command, "Süreç tamamlandı; muhtara bildirim gönderilecek.", dict(data)
    )


@csrf.multipart_form
@staff_only
async def complete(request: web.Request, user_id: str) -> web.Response:
    """İŞLEMİ TAMAMLA with a note and optional files; the files join the request only if it succeeds."""
    app = request.app
    if request.content_type == "multipart/form-data":
        form = await files.read_completion(request, app[ATTACHMENTS_DIR] / "tmp", app[SETTINGS].security)
    else:  # no files: a plain form (its CSRF token was checked by the middleware)
        data = await request.post()
        form = files.CompletionForm(values={name: field(data, name) for name in files.TEXT_FIELDS})
    if form.problems:
        return await show(request, user_id, errors=form.problems, values=form.values, status=400)
    try:
        ids = await files.store_unlinked(
            app[ENGINE], app[ATTACHMENTS_DIR], form.uploads, user_id, app[CLOCK]()
        )
    finally:
        attachments.discard(form.uploads)  # whatever was not moved into the store
    command = c.Complete(
        user_id,
        number_of(request),
        form.values.get("gorev", "")[:32],
        form.values.get("not", ""),
        tuple(ids),
        version(form.values),
    )
    try:
        await app[BUS].handle(command)
    except DomainError as exc:
        await files.forget(app[ENGINE], ids)
        if isinstance(exc, NotFound):
            raise web.HTTPNotFound() from None
        kept = ["Dosyalar kaydedilmedi; düzelttikten sonra dosyaları yeniden seçin."] if ids else []
        return await show(
            request, user_id, errors=[exc.message, *kept], values=form.values, status=status_of(exc)
        )
    await files.link_to_request(app[ENGINE], ids, number_of(request))
    await flash.add(request, "İşleminiz tamamlandı.", "success")
    raise web.HTTPSeeOther(app.router["staff_request"].url_for(number=str(number_of(request))))
