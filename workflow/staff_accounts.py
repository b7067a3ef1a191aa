"""Creating staff accounts (CLI and demo data); the staff admin screens of the web issue build on this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters import orm
from workflow.domain.units import StaffRole
from workflow.passwords import check_strength, hash_password


class AccountError(ValueError):
    """A clear English line for the operator."""


@dataclass(frozen=True)
class NewStaffUser:
    username: str
    full_name: str
    unit_code: str
    role: StaffRole
    password: str


async def create_staff_user(conn: AsyncConnection, user: NewStaffUser, now: datetime) -> str:
    username = user.username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise AccountError("username may hold letters, digits, '.', '-' and '_' only")
    try:
        check_strength(user.password)
    except ValueError as exc:
        raise AccountError(
            "password too weak: at least 10 characters, not only letters or only digits"
        ) from exc
    unit_id = (await conn.execute(select(orm.units.c.id).where(orm.units.c.code == user.unit_code))).scalar()
    if unit_id is None:
        raise AccountError(
            f"unknown unit code {user.unit_code!r} (load the registry first: muhtar registry load)"
        )
    taken = (
        await conn.execute(select(orm.staff_users.c.id).where(orm.staff_users.c.username == username))
    ).scalar()
    if taken is not None:
        raise AccountError(f"username {username!r} is taken")
    user_id = uuid4().hex
    await conn.execute(
        insert(orm.staff_users).values(
            id=user_id,
            username=username,
            password_hash=hash_password(user.password),
            full_name=user.full_name.strip(),
            unit_id=unit_id,
            role=user.role.value,
            active=True,
            created_at=now,
            updated_at=now,
            password_changed_at=now,
        )
    )
    return user_id
