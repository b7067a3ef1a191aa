"""What the web benchmarks' data generators share: the COPY column lists, one request's row and its FILED
movement, and a signed-in web session made the way log-in makes it (a ``web_sessions`` row and an encrypted
cookie), so every page a benchmark loads pays the real session, CSRF-token and access-log costs.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from cryptography.fernet import Fernet

from bench.common_web import KINDS, SECRET, WORDS
from webui.crypto import Keys, sha256_hex

MUHTARLIK_COLUMNS = [
    "id",
    "code",
    "kind",
    "name",
    "province_id",
    "district_id",
    "province_name",
    "district_name",
]
MUHTAR_COLUMNS = [
    "id",
    "tckn",
    "full_name",
    "phone_e164",
    "muhtarlik_id",
    "active",
    "created_at",
    "updated_at",
]
REQUEST_COLUMNS = [
    "id",
    "number",
    "muhtar_id",
    "kind",
    "description",
    "channel",
    "priority",
    "state",
    "migm_pending",
    "created_at",
    "updated_at",
    "concluded_at",
    "public_attachment_ids",
    "version",
]
MOVEMENT_COLUMNS = [
    "request_id",
    "seq",
    "at",
    "action",
    "actor_kind",
    "actor_id",
    "actor_name",
    "public",
    "note_public",
]


def request_record(
    rng: random.Random,
    rid: str,
    number: int,
    muhtar: str,
    created: datetime,
    state: str,
    *,
    migm_pending: bool,
    priority: str = "normal",
    max_words: int = 60,
) -> tuple[Any, ...]:
    """One ``requests`` row in REQUEST_COLUMNS order: a web request whose text is a few domain words."""
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, max_words)))
    concluded = created + timedelta(days=9) if state == "sonuclanan" else None
    return (
        rid,
        number,
        muhtar,
        rng.choice(KINDS),
        words.capitalize() + ".",
        "web",
        priority,
        state,
        migm_pending,
        created,
        created,
        concluded,
        "[]",
        0,
    )


def filed_movement(rid: str, muhtar: str, created: datetime) -> tuple[Any, ...]:
    """The request's first, public movement in MOVEMENT_COLUMNS order."""
    return (rid, 1, created, "filed", "muhtar", muhtar, "Muhtar", True, False)


def cookie_fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(Keys.from_secret(SECRET).cookie))


async def signed_in(conn: asyncpg.Connection, fernet: Fernet, subject_kind: str, subject_id: str) -> str:
    """A fresh session for the subject, as log-in leaves it; returns the cookie value."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO web_sessions (token_hash, subject_kind, subject_id, created_at, last_seen_at) "
        "VALUES ($1, $2, $3, $4, $4)",
        sha256_hex(token),
        subject_kind,
        subject_id,
        datetime.now(UTC),
    )
    data = {"created": int(time.time()), "session": {"sid": token, "csrf": secrets.token_urlsafe(32)}}
    return fernet.encrypt(json.dumps(data).encode()).decode()
