"""Onay kodu: one-time codes sent by SMS to the muhtar's registered phone.

Six digits (a basic phone shows and types digits best; 10^6 codes, 3 tries each and 5 codes an hour
give an attacker about 1 chance in 67,000 per hour). Stored as HMAC-SHA256(server key, challenge id,
code), compared in constant time, single use, killed after ``otp_max_attempts`` wrong tries, valid
``otp_ttl_s`` seconds. The code itself exists only in the SMS row and the message to the gateway; it
is never logged.

No account enumeration: a TCKN/name pair that matches nobody gets a challenge too (``muhtar_id`` NULL,
no SMS), counts against the same limits and is answered with a plausible masked number derived from
the TCKN, so the pages look the same whether or not the person exists.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from webui.clock import aware
from webui.crypto import hmac_hex
from webui.tables import otp_challenges

CODE_LENGTH = 6
# Turkish mobile prefixes for decoy masks (what a real number could start with).
_DECOY_PREFIXES = (
    "501",
    "505",
    "506",
    "507",
    "530",
    "531",
    "532",
    "533",
    "534",
    "535",
    "536",
    "537",
    "538",
    "539",
    "541",
    "542",
    "543",
    "544",
    "545",
    "546",
    "549",
    "551",
    "552",
    "553",
    "554",
    "555",
    "559",
)


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(CODE_LENGTH))


def code_hash(key: bytes, challenge_id: str, code: str) -> str:
    return hmac_hex(key, "otp", challenge_id, code)


def decoy_mask(key: bytes, subject_key: str) -> str:
    """A stable masked number for a TCKN that matches nobody: the same TCKN always shows the same one."""
    digest = hmac_hex(key, "decoy-mask", subject_key)
    prefix = _DECOY_PREFIXES[int(digest[:8], 16) % len(_DECOY_PREFIXES)]
    return f"0{prefix} *** ** {int(digest[8:16], 16) % 100:02d}"


async def create(
    conn: AsyncConnection,
    key: bytes,
    *,
    muhtar_id: str | None,
    subject_key: str,
    code: str,
    now: datetime,
    ttl: timedelta,
) -> str:
    challenge_id = uuid.uuid4().hex
    await conn.execute(
        otp_challenges.insert().values(
            id=challenge_id,
            muhtar_id=muhtar_id,
            subject_key=subject_key,
            code_hash=code_hash(key, challenge_id, code),
            created_at=now,
            expires_at=now + ttl,
            attempts=0,
        )
    )
    return challenge_id


@dataclass(frozen=True)
class Challenge:
    id: str
    muhtar_id: str | None
    subject_key: str
    created_at: datetime
    expires_at: datetime
    attempts: int
    end_reason: str | None


async def load(conn: AsyncConnection, challenge_id: str) -> Challenge | None:
    row = (await conn.execute(select(otp_challenges).where(otp_challenges.c.id == challenge_id))).first()
    if row is None:
        return None
    return Challenge(
        row.id,
        row.muhtar_id,
        row.subject_key,
        aware(row.created_at),
        aware(row.expires_at),
        row.attempts,
        row.end_reason,
    )


async def end(conn: AsyncConnection, challenge_id: str, now: datetime, reason: str) -> bool:
    result = await conn.execute(
        update(otp_challenges)
        .where(otp_challenges.c.id == challenge_id, otp_challenges.c.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    return result.rowcount == 1


class Outcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # tries left
    KILLED = "killed"  # that was the last try
    EXPIRED = "expired"  # too old, already used, killed before, or unknown


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    muhtar_id: str | None = None
    tries_left: int = 0


async def verify(
    conn: AsyncConnection, key: bytes, challenge_id: str, code: str, now: datetime, max_attempts: int
) -> Verdict:
    """Count the try first (atomically: parallel guesses cannot exceed the limit), then compare."""
    counted = await conn.execute(
        update(otp_challenges)
        .where(
            otp_challenges.c.id == challenge_id,
            otp_challenges.c.ended_at.is_(None),
            otp_challenges.c.expires_at > now,
            otp_challenges.c.attempts < max_attempts,
        )
        .values(attempts=otp_challenges.c.attempts + 1)
    )
    if counted.rowcount != 1:
        return Verdict(Outcome.EXPIRED)
    row = (
        await conn.execute(
            select(otp_challenges.c.code_hash, otp_challenges.c.attempts, otp_challenges.c.muhtar_id).where(
                otp_challenges.c.id == challenge_id
            )
        )
    ).one()
    typed = code.strip()
    good = hmac.compare_digest(row.code_hash, code_hash(key, challenge_id, typed))
    if good and row.muhtar_id is not None and await end(conn, challenge_id, now, "used"):
        return Verdict(Outcome.OK, muhtar_id=row.muhtar_id)
    if row.attempts >= max_attempts:
        await end(conn, challenge_id, now, "too_many_tries")
        return Verdict(Outcome.KILLED)
    return Verdict(Outcome.WRONG, tries_left=max_attempts - row.attempts)
