"""Muhtars' e-mail notification preferences and staff digest subscriptions (read and written here only).

A muhtar without a ``mail_preferences`` row gets ``DEFAULT_PREFERENCES``: request received and concluded
by e-mail, routing steps not (they would double every SMS-free step into an e-mail; opt in per muhtar).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from workflow.adapters.orm import staff_users
from workflow.mail.tables import mail_digest_subscriptions, mail_preferences
from workflow.messaging.outbox import Executor


@dataclass(frozen=True)
class MailPreferences:
    request_received: bool = True
    request_concluded: bool = True
    routing_steps: bool = False


DEFAULT_PREFERENCES = MailPreferences()


class UnknownStaffUser(LookupError):
    pass


async def get_preferences(db: Executor, muhtar_id: str) -> MailPreferences:
    row = (
        await db.execute(select(mail_preferences).where(mail_preferences.c.muhtar_id == muhtar_id))
    ).first()
    if row is None:
        return DEFAULT_PREFERENCES
    return MailPreferences(row.request_received, row.request_concluded, row.routing_steps)


async def set_preferences(
    db: Executor, muhtar_id: str, preferences: MailPreferences, now: datetime | None = None
) -> None:
    values = {
        "request_received": preferences.request_received,
        "request_concluded": preferences.request_concluded,
        "routing_steps": preferences.routing_steps,
        "updated_at": now or datetime.now(UTC),
    }
    result = await db.execute(
        update(mail_preferences).where(mail_preferences.c.muhtar_id == muhtar_id).values(**values)
    )
    if not cast("CursorResult[Any]", result).rowcount:
        await db.execute(mail_preferences.insert().values(muhtar_id=muhtar_id, **values))


async def set_digest(
    db: Executor, username: str, email: str | None, enabled: bool, now: datetime | None = None
) -> str:
    """Opt a staff user in (with the address to use) or out of the daily digest; return the user's id."""
    user_id = (await db.execute(select(staff_users.c.id).where(staff_users.c.username == username))).scalar()
    if user_id is None:
        raise UnknownStaffUser(username)
    now = now or datetime.now(UTC)
    existing = (
        await db.execute(
            select(mail_digest_subscriptions.c.email).where(
                mail_digest_subscriptions.c.staff_user_id == user_id
            )
        )
    ).first()
    if existing is None:
        if email is None:
            raise ValueError("an e-mail address is needed to subscribe")
        await db.execute(
            mail_digest_subscriptions.insert().values(
                staff_user_id=user_id, email=email, enabled=enabled, updated_at=now
            )
        )
    else:
        values: dict[str, object] = {"enabled": enabled, "updated_at": now}
        if email is not None:
            values["email"] = email
        await db.execute(
            update(mail_digest_subscriptions)
            .where(mail_digest_subscriptions.c.staff_user_id == user_id)
            .values(**values)
        )
    return str(user_id)
