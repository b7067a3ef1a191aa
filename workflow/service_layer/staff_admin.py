"""Administrators: staff accounts (create, disable, reset password, change unit or role) and the unit
registry (rename, deactivate). Every change is one transaction with its ``admin_audit_log`` row.

Scope: an administrator of MİGM manages every account and the registry; an administrator of another unit
manages the accounts of that unit and its sub-units only. Passwords never reach the audit log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.adapters import orm
from workflow.adapters.repository import unit_from_row
from workflow.domain.errors import InvalidState, NotAllowed, NotFound, ValidationFailed
from workflow.domain.units import StaffRole, UnitRef
from workflow.passwords import WeakPassword, check_strength, hash_password
from workflow.service_layer.staff_auth import end_sessions
from workflow.service_layer.staff_tables import admin_audit_log
from workflow.staff_accounts import NewStaffUser, create_staff_user

logger = logging.getLogger(__name__)

LIST_LIMIT: Final = 50
ROLE_LABELS: Final = {StaffRole.CLERK: "Personel", StaffRole.ADMIN: "Yönetici"}
USERNAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
s, u = orm.staff_users, orm.units


@dataclass(frozen=True)
class Admin:
    id: str
    unit: UnitRef

    @property
    def manages_registry(self) -> bool:
        return self.unit.is_migm

    def manages(self, unit: UnitRef) -> bool:
        return self.unit.is_migm or unit.id == self.unit.id or unit.parent_id == self.unit.id


@dataclass(frozen=True)
class StaffAccount:
    id: str
    username: str
    full_name: str
    role: StaffRole
    active: bool
    unit: UnitRef


async def admin_for(engine: AsyncEngine, user_id: str) -> Admin:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(s.c.role, u)
                .join(u, u.c.id == s.c.unit_id)
                .where(s.c.id == user_id, s.c.active.is_(True))
            )
        ).first()
    if row is None or row.role != StaffRole.ADMIN.value:
        raise NotAllowed("Bu sayfa yalnızca yöneticilere açıktır.")
    return Admin(user_id, unit_from_row(row))


def _account(row: Any) -> StaffAccount:
    unit = UnitRef(row.unit_id, row.kind, row.name, row.parent_id, row.province_id, row.unit_active)
    return StaffAccount(row.id, row.username, row.full_name, StaffRole(row.role), row.active, unit)


def _account_query() -> Any:
    return select(
        s.c.id,
        s.c.username,
        s.c.full_name,
        s.c.role,
        s.c.active,
        s.c.unit_id,
        u.c.kind,
        u.c.name,
        u.c.parent_id,
        u.c.province_id,
        u.c.active.label("unit_active"),
    ).join(u, u.c.id == s.c.unit_id)


async def list_accounts(engine: AsyncEngine, admin: Admin, search: str = "") -> list[StaffAccount]:
    query = _account_query()
    if not admin.unit.is_migm:
        query = query.where(or_(u.c.id == admin.unit.id, u.c.parent_id == admin.unit.id))
    needle = " ".join(search.split())[:60]
    if needle:
        pattern = f"%{needle.replace('%', '').replace('_', '')}%"
        query = query.where(
            or_(s.c.username.ilike(pattern), s.c.full_name.ilike(pattern), u.c.name.ilike(pattern))
        )
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(u.c.name, s.c.username).limit(LIST_LIMIT))).all()
    return [_account(row) for row in rows]


async def account(engine: AsyncEngine, admin: Admin, user_id: str) -> StaffAccount:
    async with engine.connect() as conn:
        row = (await conn.execute(_account_query().where(s.c.id == user_id))).first()
    if row is None or not admin.manages(_account(row).unit):
        raise NotFound("Kullanıcı bulunamadı.")
    return _account(row)


async def _audit(
    conn: AsyncConnection,
    admin: Admin,
    action: str,
    kind: str,
    target: str,
    detail: dict[str, Any],
    now: datetime,
    addr: str | None,
) -> None:
    await conn.execute(
        insert(admin_audit_log).values(
            at=now,
            admin_id=admin.id,
            action=action,
            target_kind=kind,
            target_id=str(target),
            detail=json.dumps(detail, ensure_ascii=False),
            source_addr=addr,
        )
    )
    logger.info("admin %s: %s on %s %s", admin.id, action, kind, target)


async def _unit(conn: AsyncConnection, unit_id: int) -> UnitRef:
    row = (await conn.execute(select(u).where(u.c.id == unit_id))).first()
    if row is None:
        raise ValidationFailed("Seçilen birim bulunamadı.")
    return unit_from_row(row)


def _check_username(username: str) -> str:
    name = username.strip().lower()
    if not 3 <= len(name) <= 64 or not set(name) <= USERNAME_CHARS:
        raise ValidationFailed(
            "Kullanıcı adı 3–64 karakter olmalı; yalnızca küçük harf (Türkçe karakter olmadan), rakam, "
            f"nokta, tire ve alt çizgi içerebilir (girdiğiniz: “{username.strip()[:64]}”)."
        )
    return name


def _check_password(password: str) -> None:
    try:
        check_strength(password)
    except WeakPassword as exc:
        raise ValidationFailed(str(exc)) from None


async def create_account(
    engine: AsyncEngine, admin: Admin, user: NewStaffUser, unit_id: int, now: datetime, addr: str | None
) -> str:
    name = _check_username(user.username)
    if len(" ".join(user.full_name.split())) < 3:
        raise ValidationFailed("Ad soyad en az 3 karakter olmalıdır.")
    _check_password(user.password)
    async with engine.begin() as conn:
        unit = await _unit(conn, unit_id)
        if not admin.manages(unit) or not unit.active:
            raise NotAllowed("Bu birime kullanıcı ekleme yetkiniz yok.")
        if (await conn.execute(select(s.c.id).where(s.c.username == name))).first() is not None:
            raise InvalidState(f"“{name}” kullanıcı adı başka bir hesapta kullanılıyor.")
        code = (await conn.execute(select(u.c.code).where(u.c.id == unit_id))).scalar_one()
        new = NewStaffUser(name, " ".join(user.full_name.split()), code, user.role, user.password)
        user_id = await create_staff_user(conn, new, now)
        await _audit(
            conn,
            admin,
            "user_created",
            "user",
            user_id,
            {"username": name, "unit_id": unit_id, "role": user.role.value},
            now,
            addr,
        )
    return user_id


async def _change_user(
    engine: AsyncEngine,
    admin: Admin,
    user_id: str,
    values: dict[str, Any],
    action: str,
    detail: dict[str, Any],
    now: datetime,
    addr: str | None,
) -> None:
    target = await account(engine, admin, user_id)
    if target.id == admin.id and action in ("user_disabled", "unit_changed"):
        raise NotAllowed("Kendi hesabınızı kapatamaz, birimini ya da rolünü değiştiremezsiniz.")
    async with engine.begin() as conn:
        await conn.execute(update(s).where(s.c.id == user_id).values(updated_at=now, **values))
        await end_sessions(conn, user_id, now)
        await _audit(conn, admin, action, "user", user_id, detail, now, addr)


async def set_account_active(
    engine: AsyncEngine, admin: Admin, user_id: str, active: bool, now: datetime, addr: str | None
) -> None:
    action = "user_enabled" if active else "user_disabled"
    await _change_user(engine, admin, user_id, {"active": active}, action, {"active": active}, now, addr)


async def reset_password(
    engine: AsyncEngine, admin: Admin, user_id: str, password: str, now: datetime, addr: str | None
) -> None:
    _check_password(password)
    values = {"password_hash": hash_password(password), "password_changed_at": now}
    await _change_user(engine, admin, user_id, values, "password_reset", {}, now, addr)


async def change_unit(
    engine: AsyncEngine,
    admin: Admin,
    user_id: str,
    unit_id: int,
    role: StaffRole,
    now: datetime,
    addr: str | None,
) -> None:
    async with engine.connect() as conn:
        unit = await _unit(conn, unit_id)
    if not admin.manages(unit) or not unit.active:
        raise NotAllowed("Kullanıcıyı bu birime atama yetkiniz yok.")
    detail = {"unit_id": unit_id, "role": role.value}
    await _change_user(
        engine, admin, user_id, {"unit_id": unit_id, "role": role.value}, "unit_changed", detail, now, addr
    )


# ---------------------------------------------------------------------------------------- registry
async def find_units(
    engine: AsyncEngine,
    search: str,
    limit: int = LIST_LIMIT,
    include_inactive: bool = True,
    kinds: tuple[str, ...] = (),
) -> list[UnitRef]:
    """Units whose name contains the search (a short list for pickers; never the whole registry)."""
    needle = " ".join(search.split())[:60].replace("%", "").replace("_", "")
    query = select(u).order_by(u.c.name).limit(limit)
    if needle:
        query = query.where(u.c.name.ilike(f"%{needle}%"))
    if not include_inactive:
        query = query.where(u.c.active.is_(True))
    if kinds:
        query = query.where(u.c.kind.in_(kinds))
    async with engine.connect() as conn:
        return [unit_from_row(row) for row in (await conn.execute(query)).all()]


async def rename_unit(
    engine: AsyncEngine, admin: Admin, unit_id: int, name: str, now: datetime, addr: str | None
) -> None:
    if not admin.manages_registry:
        raise NotAllowed("Birim kayıtlarını yalnızca MİGM yöneticileri değiştirebilir.")
    clean = " ".join(name.split())
    if not 3 <= len(clean) <= 200:
        raise ValidationFailed(f"Birim adı 3–200 karakter olmalıdır (girdiğiniz: “{clean[:60]}”).")
    async with engine.begin() as conn:
        old = await _unit(conn, unit_id)
        await conn.execute(update(u).where(u.c.id == unit_id).values(name=clean))
        await _audit(
            conn, admin, "unit_renamed", "unit", str(unit_id), {"old": old.name, "new": clean}, now, addr
        )


async def set_unit_active(
    engine: AsyncEngine, admin: Admin, unit_id: int, active: bool, now: datetime, addr: str | None
) -> None:
    if not admin.manages_registry:
        raise NotAllowed("Birim kayıtlarını yalnızca MİGM yöneticileri değiştirebilir.")
    async with engine.begin() as conn:
        unit = await _unit(conn, unit_id)
        if unit.is_migm and not active:
            raise NotAllowed("MİGM birimi kapatılamaz.")
        await conn.execute(update(u).where(u.c.id == unit_id).values(active=active))
        action = "unit_activated" if active else "unit_deactivated"
        await _audit(conn, admin, action, "unit", str(unit_id), {"active": active}, now, addr)


async def audit_entries(engine: AsyncEngine, limit: int = 100) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(admin_audit_log).order_by(admin_audit_log.c.id.desc()).limit(limit))
        return list(rows.all())
