"""Administration: staff accounts and the unit registry. Each change is checked and audited by
workflow/service_layer/staff_admin.py; a refusal is shown on the same page in Turkish."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from webui import flash
from webui.keys import CLOCK, ENGINE
from webui.staff.guard import staff_only
from webui.staff.presenters import staff_page
from workflow.adapters.repository import SqlDirectory
from workflow.domain.errors import DomainError, NotAllowed, NotFound
from workflow.domain.units import Actor, StaffRole
from workflow.service_layer import staff_admin
from workflow.service_layer.staff_admin import Admin
from workflow.staff_accounts import NewStaffUser


async def admin_me(request: web.Request, user_id: str) -> tuple[Admin, Actor]:
    try:
        admin = await staff_admin.admin_for(request.app[ENGINE], user_id)
    except NotAllowed:
        raise web.HTTPNotFound() from None  # not an administrator: these pages do not exist for them
    async with request.app[ENGINE].connect() as conn:
        me = await SqlDirectory(conn).staff_actor(user_id)
    assert me is not None
    return admin, me


def _role(value: Any) -> StaffRole:
    return StaffRole.ADMIN if value == StaffRole.ADMIN.value else StaffRole.CLERK


def _unit_id(value: Any) -> int:
    raw = str(value or "")
    return int(raw) if raw.isdigit() and len(raw) <= 9 else 0


async def _unit_choices(request: web.Request, admin: Admin, search: str) -> list[Any]:
    if admin.unit.is_migm:
        return (
            await staff_admin.find_units(request.app[ENGINE], search, include_inactive=False)
            if search
            else []
        )
    own = await staff_admin.find_units(request.app[ENGINE], "", limit=500, include_inactive=False)
    return [u for u in own if admin.manages(u)]


async def _users_page(
    request: web.Request,
    user_id: str,
    errors: list[str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    admin, me = await admin_me(request, user_id)
    search, unit_search = request.query.get("ara", "")[:60], request.query.get("birim_ara", "")[:60]
    context = {
        "accounts": await staff_admin.list_accounts(request.app[ENGINE], admin, search),
        "search": search,
        "unit_search": unit_search,
        "units": await _unit_choices(request, admin, unit_search),
        "errors": errors or [],
        "values": values or {},
        "roles": staff_admin.ROLE_LABELS,
    }
    return await staff_page(request, "staff/admin_users.html", me, "admin", context, status=status)


@staff_only
async def users(request: web.Request, user_id: str) -> web.Response:
    return await _users_page(request, user_id)


@staff_only
async def create_user(request: web.Request, user_id: str) -> web.Response:
    admin, _ = await admin_me(request, user_id)
    data = await request.post()
    new = NewStaffUser(
        str(data.get("kullanici_adi", ""))[:64],
        str(data.get("ad_soyad", ""))[:200],
        "",
        _role(data.get("rol")),
        str(data.get("parola", ""))[:256],
    )
    try:
        await staff_admin.create_account(
            request.app[ENGINE], admin, new, _unit_id(data.get("birim")), request.app[CLOCK](), request.remote
        )
    except DomainError as exc:
        values = {k: str(v) for k, v in data.items() if k not in ("parola", "csrf_token")}
        return await _users_page(request, user_id, [exc.message], values, status=400)
    await flash.add(request, f"“{new.username.strip().lower()}” hesabı oluşturuldu.", "success")
    raise web.HTTPSeeOther(request.app.router["staff_admin_users"].url_for())


async def _user_page(
    request: web.Request, user_id: str, errors: list[str] | None = None, status: int = 200
) -> web.Response:
    admin, me = await admin_me(request, user_id)
    try:
        target = await staff_admin.account(request.app[ENGINE], admin, request.match_info["user_id"])
    except NotFound:
        raise web.HTTPNotFound() from None
    unit_search = request.query.get("birim_ara", "")[:60]
    context = {
        "account": target,
        "errors": errors or [],
        "roles": staff_admin.ROLE_LABELS,
        "unit_search": unit_search,
        "units": await _unit_choices(request, admin, unit_search),
    }
    return await staff_page(request, "staff/admin_user.html", me, "admin", context, status=status)


@staff_only
async def user(request: web.Request, user_id: str) -> web.Response:
    return await _user_page(request, user_id)


@staff_only
async def change_user(request: web.Request, user_id: str) -> web.Response:
    admin, _ = await admin_me(request, user_id)
    data, target = await request.post(), request.match_info["user_id"]
    app, action = request.app, str(data.get("islem", ""))
    args = (app[ENGINE], admin, target)
    try:
        if action in ("kapat", "ac"):
            await staff_admin.set_account_active(*args, action == "ac", app[CLOCK](), request.remote)
        elif action == "parola":
            await staff_admin.reset_password(
                *args, str(data.get("parola", ""))[:256], app[CLOCK](), request.remote
            )
        elif action == "birim":
            await staff_admin.change_unit(
                *args, _unit_id(data.get("birim")), _role(data.get("rol")), app[CLOCK](), request.remote
            )
        else:
            raise web.HTTPBadRequest()
    except NotFound:
        raise web.HTTPNotFound() from None
    except DomainError as exc:
        return await _user_page(request, user_id, [exc.message], status=400)
    await flash.add(request, "Değişiklik kaydedildi; kullanıcının açık oturumları kapatıldı.", "success")
    raise web.HTTPSeeOther(app.router["staff_admin_user"].url_for(user_id=target))


async def _units_page(
    request: web.Request, user_id: str, errors: list[str] | None = None, status: int = 200
) -> web.Response:
    admin, me = await admin_me(request, user_id)
    if not admin.manages_registry:
        raise web.HTTPNotFound()
    search = request.query.get("ara", "")[:60]
    found = await staff_admin.find_units(request.app[ENGINE], search) if search else []
    context = {"units": found, "search": search, "errors": errors or []}
    return await staff_page(request, "staff/admin_units.html", me, "admin", context, status=status)


@staff_only
async def units(request: web.Request, user_id: str) -> web.Response:
    return await _units_page(request, user_id)


@staff_only
async def change_unit(request: web.Request, user_id: str) -> web.Response:
    admin, _ = await admin_me(request, user_id)
    data, unit_id, app = await request.post(), int(request.match_info["unit_id"]), request.app
    action = str(data.get("islem", ""))
    try:
        if action == "ad":
            await staff_admin.rename_unit(
                app[ENGINE], admin, unit_id, str(data.get("ad", ""))[:300], app[CLOCK](), request.remote
            )
        elif action in ("kapat", "ac"):
            await staff_admin.set_unit_active(
                app[ENGINE], admin, unit_id, action == "ac", app[CLOCK](), request.remote
            )
        else:
            raise web.HTTPBadRequest()
    except DomainError as exc:
        return await _units_page(
            request, user_id, [exc.message], status=403 if isinstance(exc, NotAllowed) else 400
        )
    await flash.add(request, "Birim kaydı güncellendi.", "success")
    raise web.HTTPSeeOther(
        app.router["staff_admin_units"].url_for().with_query(ara=str(data.get("ara", ""))[:60])
    )
