"""Staff log-in apart from HTTP: check the password, count failures, make the account wait, log it all.

After ``FREE_FAILURES`` wrong passwords in a row the account waits before the next try, longer each time
(``lock_delay``); while it waits the password is not even checked. Every attempt is one row of
``staff_login_log`` (account, time, source address, result — never what was typed). A session is valid
only if it began after the password's last change and after ``sessions_valid_from`` (moved forward when
an administrator changes the role, unit or password, or disables the account).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.adapters import orm
from workflow.adapters.repository import unit_from_row
from workflow.domain.units import Actor, StaffRole
from workflow.passwords import hash_password, needs_rehash, verify_password
from workflow.service_layer.inbox import Db, connection
from workflow.service_layer.staff_tables import staff_auth_state, staff_login_log

logger = logging.getLogger(__name__)

ISTANBUL: Final = ZoneInfo("Europe/Istanbul")

FREE_FAILURES: Final = 5
FIRST_WAIT: Final = timedelta(seconds=30)
LONGEST_WAIT: Final = timedelta(minutes=30)
USERNAME_MAX: Final = 64
PASSWORD_MAX: Final = 256  # Argon2 takes anything; a megabyte "password" is only a way to burn CPU

# Compared against when the name matches nobody, so an unknown name costs the same time as a known one.
_DUMMY_HASH: Final = hash_password("not-a-real-password-0")


class Result(StrEnum):
    OK = "ok"
    WRONG_PASSWORD = "wrong_password"
    UNKNOWN_USER = "unknown_user"
    DISABLED = "disabled"
    LOCKED = "locked"  # tried while waiting
    LOCKED_OUT = "locked_out"  # this failure started a wait
    LOGOUT = "logout"


GENERIC_FAILURE: Final = "Kullanıcı adı veya parola hatalı."


@dataclass(frozen=True)
class Outcome:
    result: Result
    user_id: str | None = None
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.result is Result.OK


def lock_delay(failures: int) -> timedelta:
    """No wait for the first four failures; 30 s after the fifth, doubling with each further one."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, 16)  # capped first: a huge count must not overflow
    wait: timedelta = FIRST_WAIT * (2**doublings)
    return min(wait, LONGEST_WAIT)


def aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


async def log_event(
    conn: AsyncConnection, user_id: str | None, result: Result, now: datetime, source_addr: str | None
) -> None:
    await conn.execute(
        insert(staff_login_log).values(at=now, user_id=user_id, source_addr=source_addr, result=result.value)
    )


async def _state(conn: AsyncConnection, user_id: str, now: datetime) -> Any:
    row = (await conn.execute(select(staff_auth_state).where(staff_auth_state.c.user_id == user_id))).first()
    if row is not None:
        return row
    try:
        async with conn.begin_nested():
            await conn.execute(insert(staff_auth_state).values(user_id=user_id, failures=0, updated_at=now))
    except IntegrityError:
        pass  # another attempt created it first
    return (await conn.execute(select(staff_auth_state).where(staff_auth_state.c.user_id == user_id))).one()


async def authenticate(
    engine: AsyncEngine, username: str, password: str, source_addr: str | None, now: datetime
) -> Outcome:
    name = username.strip().lower()[:USERNAME_MAX]
    async with engine.connect() as conn:
        user = (await conn.execute(select(orm.staff_users).where(orm.staff_users.c.username == name))).first()
    if user is None:
        await asyncio.to_thread(verify_password, _DUMMY_HASH, password[:PASSWORD_MAX])
        return await _record(engine, Outcome(Result.UNKNOWN_USER), now, source_addr)
    async with engine.begin() as conn:
        state = await _state(conn, user.id, now)
    locked_until = aware(state.locked_until)
    if locked_until is not None and locked_until > now:
        return await _record(engine, Outcome(Result.LOCKED, user.id, locked_until), now, source_addr)
    good = await asyncio.to_thread(verify_password, user.password_hash, password[:PASSWORD_MAX])
    if not good:
        return await _failed(engine, user.id, now, source_addr)
    if not user.active:
        return await _record(engine, Outcome(Result.DISABLED, user.id), now, source_addr)
    await _succeeded(engine, user, password, now, source_addr)
    return Outcome(Result.OK, user.id)


async def _record(engine: AsyncEngine, outcome: Outcome, now: datetime, source_addr: str | None) -> Outcome:
    async with engine.begin() as conn:
        await log_event(conn, outcome.user_id, outcome.result, now, source_addr)
    logger.info("staff log-in refused (%s) for account %s", outcome.result.value, outcome.user_id or "-")
    return outcome


async def _failed(engine: AsyncEngine, user_id: str, now: datetime, source_addr: str | None) -> Outcome:
    async with engine.begin() as conn:
        failures = (
            await conn.execute(
                update(staff_auth_state)
                .where(staff_auth_state.c.user_id == user_id)
                .values(failures=staff_auth_state.c.failures + 1, updated_at=now)
                .returning(staff_auth_state.c.failures)
            )
        ).scalar_one()
        wait = lock_delay(int(failures))
        result, retry_at = Result.WRONG_PASSWORD, None
        if wait:
            retry_at = now + wait
            result = Result.LOCKED_OUT
            await conn.execute(
                update(staff_auth_state)
                .where(staff_auth_state.c.user_id == user_id)
                .values(locked_until=retry_at)
            )
            logger.warning(
                "staff account %s waits %d s after %d failed log-ins", user_id, wait.total_seconds(), failures
            )
        await log_event(conn, user_id, result, now, source_addr)
    return Outcome(result, user_id, retry_at)


async def _succeeded(
    engine: AsyncEngine, user: Any, password: str, now: datetime, source_addr: str | None
) -> None:
    new_hash = await asyncio.to_thread(hash_password, password) if needs_rehash(user.password_hash) else None
    async with engine.begin() as conn:
        await conn.execute(
            update(staff_auth_state)
            .where(staff_auth_state.c.user_id == user.id)
            .values(failures=0, locked_until=None, updated_at=now)
        )
        if new_hash is not None:
            await conn.execute(
                update(orm.staff_users).where(orm.staff_users.c.id == user.id).values(password_hash=new_hash)
            )
        await log_event(conn, user.id, Result.OK, now, source_addr)
    logger.info("staff account %s signed in", user.id)


def _valid(row: Any, signed_in_at: datetime) -> bool:
    if row is None or not row.user_active:
        return False
    changed = aware(row.password_changed_at)
    valid_from = aware(row.sessions_valid_from)
    return (changed is None or signed_in_at >= changed) and (valid_from is None or signed_in_at >= valid_from)


def _checked_query() -> Select[Any]:
    """The account's state and its unit, in one query; built once, the user a bound parameter."""
    s, st, u = orm.staff_users, staff_auth_state, orm.units
    return (
        select(
            s.c.active.label("user_active"),
            s.c.full_name,
            s.c.role,
            s.c.password_changed_at,
            st.c.sessions_valid_from,
            u,
        )
        .select_from(s.join(u, u.c.id == s.c.unit_id).outerjoin(st, st.c.user_id == s.c.id))
        .where(s.c.id == bindparam("user_id"))
    )


_CHECKED: Final = _checked_query()


async def session_valid(engine: AsyncEngine, user_id: str, signed_in_at: datetime) -> bool:
    """False once the account is disabled, its password changed, or an administrator ended its sessions."""
    return await checked_actor(engine, user_id, signed_in_at) is not None


async def checked_actor(db: Db, user_id: str, signed_in_at: datetime) -> Actor | None:
    """The signed-in staff user as the domain sees them (unit, role), or None when their session no longer
    counts (``session_valid``). One query, so a staff page pays one round trip for both; read from the
    database on every page, never cached: a password, role or unit change ends sessions in every process
    at once."""
    async with connection(db) as conn:
        row = (await conn.execute(_CHECKED, {"user_id": user_id})).first()
    if not _valid(row, signed_in_at):
        return None
    return Actor.staff(user_id, row.full_name, unit_from_row(row), StaffRole(row.role))


async def end_sessions(conn: AsyncConnection, user_id: str, now: datetime) -> None:
    """Every session of this account that began before ``now`` stops working (next request signs out)."""
    updated = await conn.execute(
        update(staff_auth_state)
        .where(staff_auth_state.c.user_id == user_id)
        .values(sessions_valid_from=now, updated_at=now)
    )
    if not updated.rowcount:
        await conn.execute(
            insert(staff_auth_state).values(
                user_id=user_id, failures=0, sessions_valid_from=now, updated_at=now
            )
        )


def refusal_text(outcome: Outcome) -> str:
    """What the person reads: the same text for an unknown name, a wrong password and a disabled account."""
    if outcome.retry_at is not None:
        local = outcome.retry_at.astimezone(ISTANBUL).strftime("%H:%M:%S")
        return (
            "Çok sayıda hatalı giriş denemesi yapıldığı için hesabınız geçici olarak beklemeye alındı. "
            f"Saat {local} sonrasında yeniden deneyebilirsiniz."
        )
    return GENERIC_FAILURE
