"""The muhtar's log-in, apart from HTTP: ask for a code, ask again, check it.

Each step is one transaction: the limit check, the challenge row, the limit events and (for a real
muhtar) the SMS row with its outbox message commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import jinja2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from webui import otp, ratelimit
from webui.crypto import Keys, hmac_hex
from workflow.adapters.orm import muhtars
from workflow.identity import mask_phone, turkish_fold
from workflow.messaging.sms_store import queue_sms
from workflow.paths import TEMPLATES_DIR
from workflow.settings import SecuritySettings

HOUR = timedelta(hours=1)


class Limited(Exception):
    """Too many codes asked for this TCKN or from this address in the last hour."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__("rate limited")
        self.retry_at = retry_at


class TooSoon(Exception):
    def __init__(self, wait_s: int) -> None:
        super().__init__("resend too soon")
        self.wait_s = wait_s


class ChallengeGone(Exception):
    """The challenge to resend for is unknown, used or killed: the person starts again."""


@dataclass(frozen=True)
class Sent:
    challenge_id: str
    masked_phone: str


@lru_cache(maxsize=1)
def _sms_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "sms"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def otp_text(code: str, ttl_s: int) -> str:
    text = _sms_env().get_template("otp.txt").render(code=code, minutes=max(1, ttl_s // 60))
    return " ".join(text.split())


def subject_key(keys: Keys, tckn: str) -> str:
    return hmac_hex(keys.subject, "tckn", tckn)


async def _find_muhtar(conn: AsyncConnection, tckn: str, full_name: str) -> tuple[str, str] | None:
    """(id, phone) when the TCKN belongs to an active muhtar whose name matches (Turkish case, spaces)."""
    row = (
        await conn.execute(
            select(muhtars.c.id, muhtars.c.full_name, muhtars.c.phone_e164).where(
                muhtars.c.tckn == tckn, muhtars.c.active.is_(True)
            )
        )
    ).first()
    if row is None or turkish_fold(row.full_name) != turkish_fold(full_name):
        return None
    return row.id, row.phone_e164


async def _phone_of(conn: AsyncConnection, muhtar_id: str) -> str | None:
    query = select(muhtars.c.phone_e164).where(muhtars.c.id == muhtar_id, muhtars.c.active.is_(True))
    phone: str | None = (await conn.execute(query)).scalar_one_or_none()
    return phone


async def _check_limits(
    conn: AsyncConnection, buckets: tuple[str, ...], now: datetime, per_hour: int
) -> None:
    for bucket in buckets:
        if await ratelimit.count(conn, bucket, now, HOUR) >= per_hour:
            first = await ratelimit.oldest(conn, bucket, now, HOUR)
            raise Limited((first or now) + HOUR)


async def _issue(
    conn: AsyncConnection,
    keys: Keys,
    security: SecuritySettings,
    *,
    muhtar_id: str | None,
    phone: str | None,
    subject: str,
    ip: str,
    now: datetime,
) -> str:
    buckets = (f"otp:tckn:{subject}", f"otp:ip:{ip}")
    await _check_limits(conn, buckets, now, security.otp_per_hour)
    code = otp.new_code()
    challenge_id = await otp.create(
        conn,
        keys.otp,
        muhtar_id=muhtar_id,
        subject_key=subject,
        code=code,
        now=now,
        ttl=timedelta(seconds=security.otp_ttl_s),
    )
    for bucket in buckets:
        await ratelimit.hit(conn, bucket, now)
    if muhtar_id is not None and phone is not None:
        await queue_sms(conn, phone, otp_text(code, security.otp_ttl_s), "otp", now=now)
    return challenge_id


async def request_code(
    engine: AsyncEngine,
    keys: Keys,
    security: SecuritySettings,
    *,
    tckn: str,
    full_name: str,
    ip: str,
    now: datetime,
) -> Sent:
    """Send a code if the pair matches a muhtar; behave identically (minus the SMS) if it does not."""
    subject = subject_key(keys, tckn)
    async with engine.begin() as conn:
        found = await _find_muhtar(conn, tckn, full_name)
        muhtar_id, phone = found if found else (None, None)
        challenge_id = await _issue(
            conn, keys, security, muhtar_id=muhtar_id, phone=phone, subject=subject, ip=ip, now=now
        )
    mask = mask_phone(phone) if phone else otp.decoy_mask(keys.subject, subject)
    return Sent(challenge_id, mask)


async def resend(
    engine: AsyncEngine,
    keys: Keys,
    security: SecuritySettings,
    *,
    challenge_id: str,
    ip: str,
    now: datetime,
) -> str:
    """A new code replacing the old one, once the cooldown has passed; returns the new challenge id."""
    async with engine.begin() as conn:
        old = await otp.load(conn, challenge_id)
        # A used code means a session exists; a killed one (too many wrong tries) sends the person back
        # to the captcha. An expired or still-open one may be replaced.
        if old is None or old.end_reason in ("used", "too_many_tries", "replaced"):
            raise ChallengeGone()
        wait = (old.created_at + timedelta(seconds=security.otp_resend_s) - now).total_seconds()
        if wait > 0:
            raise TooSoon(int(wait) + 1)
        phone = await _phone_of(conn, old.muhtar_id) if old.muhtar_id else None
        new_id = await _issue(
            conn,
            keys,
            security,
            muhtar_id=old.muhtar_id if phone else None,
            phone=phone,
            subject=old.subject_key,
            ip=ip,
            now=now,
        )
        await otp.end(conn, old.id, now, "replaced")
    return new_id


async def verify(
    engine: AsyncEngine,
    keys: Keys,
    security: SecuritySettings,
    *,
    challenge_id: str,
    code: str,
    now: datetime,
) -> otp.Verdict:
    async with engine.begin() as conn:
        return await otp.verify(conn, keys.otp, challenge_id, code, now, security.otp_max_attempts)
