"""The muhtar's pages: BAŞVURU form, its receipt, TALEP SORGULAMA lists, a request's page, its files."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

from webui import attachments, csrf, filing, muhtar_pages, sessions
from webui.forms import Form
from webui.keys import ATTACHMENTS_DIR, CLOCK, ENGINE, SETTINGS
from webui.presenters import KIND_CHOICES, TABS
from webui.render import render
from workflow.domain.errors import DomainError, NotFound
from workflow.identity import mask_phone
from workflow.service_layer import views

PAGE_SIZE = 20
View = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


def muhtar_only(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Signed-in muhtars only; anyone else goes to the log-in page and comes back here after."""

    @wraps(view)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        principal = sessions.current(request, "muhtar")
        if principal is None:
            raise web.HTTPSeeOther(request.app.router["login"].url_for().with_query(sonra=request.path_qs))
        return await view(request, principal.id)

    return wrapper


async def _form_page(request: web.Request, muhtar_id: str, form: Form, status: int = 200) -> web.Response:
    profile = await views.muhtar_profile(request.app[ENGINE], muhtar_id)
    if profile is None:
        raise web.HTTPForbidden()
    security = request.app[SETTINGS].security
    return await render(
        request,
        "request_form.html",
        {
            **form.context(),
            "profile": profile,
            "masked_phone": mask_phone(profile.phone_e164),
            "kinds": KIND_CHOICES,
            "form_token": secrets.token_urlsafe(24),
            "accept": attachments.ACCEPT,
            "max_files": security.upload_max_files,
            "max_mb": security.upload_max_mb,
        },
        status=status,
    )


@muhtar_only
async def new_form(request: web.Request, muhtar_id: str) -> web.Response:
    return await _form_page(request, muhtar_id, Form())


@csrf.multipart_form
@muhtar_only
async def file(request: web.Request, muhtar_id: str) -> web.StreamResponse:
    app = request.app
    try:
        sub = await filing.read(request, app[ATTACHMENTS_DIR] / "tmp", app[SETTINGS].security)
    except (filing.BadForm, ValueError):  # not a form our page sends (or a broken body)
        raise web.HTTPBadRequest() from None
    except attachments.BodyTooLarge:
        limit = attachments.BODY_LIMIT
        raise web.HTTPRequestEntityTooLarge(limit, request.content_length or limit + 1) from None
    filing.check(sub, app[SETTINGS].security)
    if not sub.form.ok:
        attachments.discard(sub.uploads)
        return await _form_page(request, muhtar_id, sub.form, status=400)
    return await _file_once(request, muhtar_id, sub)


async def _file_once(request: web.Request, muhtar_id: str, sub: filing.Submission) -> web.StreamResponse:
    engine, key = request.app[ENGINE], filing.submission_key(muhtar_id, sub.token)
    if not await filing.claim(engine, key, request.app[CLOCK]()):
        number = await filing.first_result(engine, key)
        if number is not None:  # a double submission: show what the first one filed
            attachments.discard(sub.uploads)
            raise web.HTTPSeeOther(request.app.router["request_filed"].url_for(number=str(number)))
    try:
        number = await muhtar_pages.file_request(request, muhtar_id, sub, key)
    except DomainError as exc:
        attachments.discard(sub.uploads)
        await filing.release(engine, key)
        sub.form.general.append(exc.message)
        return await _form_page(request, muhtar_id, sub.form, status=400)
    finally:
        attachments.discard(sub.uploads)  # kept ones were moved away already
    raise web.HTTPSeeOther(request.app.router["request_filed"].url_for(number=str(number)))


@muhtar_only
async def filed(request: web.Request, muhtar_id: str) -> web.Response:
    page = await _page_or_404(request, muhtar_id)
    return await render(request, "request_filed.html", {"r": page.request, "files": page.own_files})


@muhtar_only
async def listing(request: web.Request, muhtar_id: str) -> web.Response:
    tab = next((t for t in TABS if t[0] == request.query.get("durum")), TABS[0])
    page = _page_number(request.query.get("sayfa", "1"))
    engine = request.app[ENGINE]
    counts, items = await views.muhtar_request_page(
        engine, muhtar_id, (tab[1],), limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return await render(
        request,
        "request_list.html",
        {
            "tabs": TABS,
            "tab": tab,
            "counts": counts,
            "items": items[:PAGE_SIZE],
            "page": page,
            "has_next": len(items) > PAGE_SIZE,
        },
    )


def _page_number(raw: str) -> int:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 5 and int(raw) > 0 else 1


async def _page_or_404(request: web.Request, muhtar_id: str) -> muhtar_pages.RequestPage:
    try:
        return await muhtar_pages.request_page(request, muhtar_id, int(request.match_info["number"]))
    except NotFound:
        raise web.HTTPNotFound() from None


@muhtar_only
async def detail(request: web.Request, muhtar_id: str) -> web.Response:
    page = await _page_or_404(request, muhtar_id)
    return await render(request, "request_detail.html", {"page": page, "r": page.request})


@muhtar_only
async def attachment(request: web.Request, muhtar_id: str) -> web.StreamResponse:
    page = await _page_or_404(request, muhtar_id)
    found = next(
        (a for a in page.own_files + page.public_files if a.id == request.match_info["attachment_id"]), None
    )
    if found is None:
        raise web.HTTPNotFound()
    path = attachments.stored_path(request.app[ATTACHMENTS_DIR], found.sha256)
    disposition = "inline" if found.media_type != "application/pdf" else "attachment"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": found.media_type,
            "Content-Disposition": f'{disposition}; filename="ek-{found.id[:8]}.{attachments.extension(found.media_type)}"',
            "Cache-Control": "private, no-store",
        },
    )
