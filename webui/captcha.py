"""Doğrulama kodu: a digits-only image captcha with a spoken (Turkish) alternative.

Digits only, so that the audio version can say every character; the recordings are in
``captcha_voice/`` (regenerate with its ``make_voices.sh``). The answer is kept in the encrypted cookie
and a ``captcha_challenges`` row makes each captcha good for one try, even if the cookie is replayed.
Drawing runs in a worker thread: Pillow and the wave mixing would otherwise hold up the event loop.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from webui.tables import captcha_challenges

LENGTH = 5
TTL = timedelta(minutes=15)
VOICE_DIR = Path(__file__).resolve().parent / "captcha_voice"


class CaptchaMaker:
    def __init__(self) -> None:
        self._image = ImageCaptcha(width=250, height=80)
        self._audio = AudioCaptcha(voicedir=str(VOICE_DIR))

    async def png(self, answer: str) -> bytes:
        return await asyncio.to_thread(lambda: self._image.generate(answer, format="png").getvalue())

    async def wav(self, answer: str) -> bytes:
        return await asyncio.to_thread(lambda: bytes(self._audio.generate(answer)))


def new_answer() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(LENGTH))


async def issue(conn: AsyncConnection, now: datetime) -> str:
    challenge_id = uuid.uuid4().hex
    await conn.execute(captcha_challenges.insert().values(id=challenge_id, created_at=now))
    return challenge_id


async def consume(conn: AsyncConnection, challenge_id: str, now: datetime) -> bool:
    """Mark the captcha used; False when it was used before, is too old, or was never issued."""
    result = await conn.execute(
        update(captcha_challenges)
        .where(
            captcha_challenges.c.id == challenge_id,
            captcha_challenges.c.used_at.is_(None),
            captcha_challenges.c.created_at >= now - TTL,
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


def matches(expected: str, typed: str) -> bool:
    cleaned = "".join(ch for ch in typed if not ch.isspace())
    return hmac.compare_digest(cleaned.encode(), expected.encode())
