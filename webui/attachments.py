"""Attachments: streamed from a multipart form, checked on content, stored under their SHA-256.

The type is decided by the file's first bytes (magic numbers), never by its name or the browser's
Content-Type; images must also open with Pillow. Bytes go to a temporary file while they arrive and are
moved to ``<dir>/<sha[:2]>/<sha>`` only when the whole form was accepted — a refused form leaves nothing
behind. The directory is outside the web root: files are served only through a view that checks who
may see the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from aiohttp import BodyPartReader
from PIL import Image, UnidentifiedImageError
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from webui.tables import attachments

CHUNK: Final = 64 * 1024
# What one form may send at all (5 files of 10 MB and the text); beyond it reading stops with a 413.
BODY_LIMIT: Final = 64 * 1024 * 1024


class BodyTooLarge(Exception):
    pass


@dataclass
class Budget:
    """Bytes a request may still send; streamed reads take from it (a Content-Length can be absent)."""

    left: int = BODY_LIMIT

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise BodyTooLarge()


SNIFF: Final = 16

# (media type, file extension, test on the first bytes). The table is the whole policy.
KINDS: Final[tuple[tuple[str, str, Callable[[bytes], bool]], ...]] = (
    ("image/jpeg", "jpg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ("image/png", "png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/webp", "webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
    ("application/pdf", "pdf", lambda head: head.startswith(b"%PDF-")),
)
ACCEPT: Final = ",".join([".jpg", ".jpeg", ".png", ".webp", ".pdf", *(k[0] for k in KINDS)])


def sniff(head: bytes) -> str | None:
    for media_type, _ext, test in KINDS:
        if test(head):
            return media_type
    return None


def extension(media_type: str) -> str:
    return next((ext for mt, ext, _ in KINDS if mt == media_type), "bin")


@dataclass
class Upload:
    """One received file, still in its temporary place."""

    original_name: str
    temp_path: Path
    size: int
    sha256: str
    media_type: str | None  # None: not an accepted type
    too_big: bool


def clean_name(name: str | None) -> str:
    """A display name only (files are stored by hash): no path, no control characters, 255 at most."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    return base.strip()[:255] or "dosya"


async def receive(
    part: BodyPartReader, temp_dir: Path, max_bytes: int, budget: Budget | None = None
) -> Upload:
    """Stream one file part to a temporary file; past ``max_bytes`` the rest is read and dropped.

    ``budget`` is the whole request's (shared by its parts); without one, this part alone may use BODY_LIMIT.
    """
    budget = budget or Budget()
    fd, name = tempfile.mkstemp(dir=temp_dir, prefix="upload-")
    digest, size, head, too_big = hashlib.sha256(), 0, b"", False
    with os.fdopen(fd, "wb") as out:
        while chunk := await part.read_chunk(CHUNK):
            try:
                budget.take(len(chunk))
            except BodyTooLarge:
                os.unlink(name)
                raise
            size += len(chunk)
            if size > max_bytes:
                too_big = True
                continue  # keep reading so the browser gets our answer, not a reset connection
            if len(head) < SNIFF:
                head += chunk[: SNIFF - len(head)]
            digest.update(chunk)
            out.write(chunk)
    upload = Upload(clean_name(part.filename), Path(name), size, digest.hexdigest(), sniff(head), too_big)
    if upload.media_type and upload.media_type.startswith("image/") and not too_big:
        if not await asyncio.to_thread(_image_opens, upload.temp_path):
            upload.media_type = None
    return upload


def _image_opens(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False
    return True


def discard(uploads: list[Upload]) -> None:
    for upload in uploads:
        with contextlib.suppress(FileNotFoundError):
            upload.temp_path.unlink()


def stored_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256


def keep(root: Path, upload: Upload) -> None:
    """Move into the content-addressed store (same content twice is stored once)."""
    target = stored_path(root, upload.sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        upload.temp_path.unlink()
    else:
        os.replace(upload.temp_path, target)


async def record(
    conn: AsyncConnection, upload: Upload, *, by_kind: str, by_id: str, request_id: str | None, now: datetime
) -> str:
    attachment_id = uuid.uuid4().hex
    await conn.execute(
        attachments.insert().values(
            id=attachment_id,
            sha256=upload.sha256,
            size=upload.size,
            media_type=upload.media_type,
            original_name=upload.original_name,
            uploaded_by_kind=by_kind,
            uploaded_by_id=by_id,
            request_id=request_id,
            created_at=now,
        )
    )
    return attachment_id


async def link(conn: AsyncConnection, attachment_ids: list[str], request_id: str) -> None:
    if attachment_ids:
        await conn.execute(
            update(attachments).where(attachments.c.id.in_(attachment_ids)).values(request_id=request_id)
        )


@dataclass(frozen=True)
class Attachment:
    id: str
    sha256: str
    size: int
    media_type: str
    original_name: str
    uploaded_by_kind: str
    request_id: str | None


async def for_request(conn: AsyncConnection, request_id: str) -> list[Attachment]:
    rows = await conn.execute(
        select(attachments).where(attachments.c.request_id == request_id).order_by(attachments.c.created_at)
    )
    return [_attachment(row) for row in rows]


async def get(conn: AsyncConnection, attachment_id: str) -> Attachment | None:
    row = (await conn.execute(select(attachments).where(attachments.c.id == attachment_id))).first()
    return _attachment(row) if row is not None else None


def _attachment(row: Row[Any]) -> Attachment:
    return Attachment(
        row.id, row.sha256, row.size, row.media_type, row.original_name, row.uploaded_by_kind, row.request_id
    )
