"""Staff attachments: the completion form's files (streamed, checked on content, stored by hash through
webui/attachments.py) and which files of a request a staff page lists and serves.

A unit's files are recorded unlinked first; only when İŞLEMİ TAMAMLA succeeded are they linked to the
request (a refused completion leaves no file on the request). A request's files are those linked to it
plus those its assignments name, so a file is served exactly to the people who may see the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from aiohttp import BodyPartReader, web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from webui import attachments, csrf
from webui.attachments import Attachment, Upload
from webui.forms import echo
from webui.tables import attachments as attachments_table
from workflow.adapters.orm import requests
from workflow.domain.model import Request
from workflow.service_layer import inbox
from workflow.settings import SecuritySettings

TEXT_LIMIT: Final = 64 * 1024
FILE_FIELD: Final = "ek"
TEXT_FIELDS: Final = frozenset({"surum", "gorev", "not"})


class BadForm(web.HTTPBadRequest):
    """Not a form our page sends (unknown or nested parts, an oversized text field)."""


@dataclass
class CompletionForm:
    values: dict[str, str] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def _text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        data.extend(chunk)
        if len(data) > TEXT_LIMIT:
            raise BadForm()
    return data.decode("utf-8", errors="replace")


async def read_completion(request: web.Request, temp_dir: Path, security: SecuritySettings) -> CompletionForm:
    """Stream the İŞLEMİ TAMAMLA form; its CSRF token must come first (see webui/csrf.py)."""
    reader = await request.multipart()
    first = await reader.next()
    if not isinstance(first, BodyPartReader) or first.name != csrf.FIELD:
        raise csrf.CsrfRefused("missing")
    await csrf.check(request, await _text(first))
    form = CompletionForm()
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise BadForm()
            if part.name == FILE_FIELD:
                if part.filename:
                    form.uploads.append(
                        await attachments.receive(part, temp_dir, security.upload_max_mb << 20)
                    )
                else:
                    await part.release()  # an empty file input still sends a part
            elif part.name in TEXT_FIELDS:
                form.values[part.name] = await _text(part)
            else:
                raise BadForm()
    except BaseException:
        attachments.discard(form.uploads)
        raise
    _check(form, security)
    return form


def _check(form: CompletionForm, security: SecuritySettings) -> None:
    if len(form.uploads) > security.upload_max_files:
        form.problems.append(
            f"En fazla {security.upload_max_files} dosya ekleyebilirsiniz; {len(form.uploads)} dosya seçtiniz."
        )
    for up in form.uploads:
        name = echo(up.original_name)
        if up.too_big:
            form.problems.append(f"“{name}” dosyası {security.upload_max_mb} MB sınırını aşıyor.")
        elif up.size == 0:
            form.problems.append(f"“{name}” dosyası boş.")
        elif up.media_type is None:
            form.problems.append(
                f"“{name}” dosyasının türü kabul edilmiyor. Yalnızca JPEG, PNG, WebP resimleri ve PDF "
                "belgeleri eklenebilir (dosyanın adı değil içeriği denetlenir)."
            )
    if form.problems:
        attachments.discard(form.uploads)
        form.uploads.clear()
        form.problems.append("Dosyalar kaydedilmedi; düzelttikten sonra dosyaları yeniden seçin.")


async def store_unlinked(
    engine: AsyncEngine, root: Path, uploads: list[Upload], user_id: str, now: datetime
) -> list[str]:
    ids = []
    async with engine.begin() as conn:
        for upload in uploads:
            attachments.keep(root, upload)
            ids.append(
                await attachments.record(
                    conn, upload, by_kind="staff", by_id=user_id, request_id=None, now=now
                )
            )
    return ids


async def link_to_request(engine: AsyncEngine, ids: list[str], number: int) -> None:
    if not ids:
        return
    async with engine.begin() as conn:
        request_id = (
            await conn.execute(select(requests.c.id).where(requests.c.number == number))
        ).scalar_one()
        await attachments.link(conn, ids, request_id)


async def forget(engine: AsyncEngine, ids: list[str]) -> None:
    """Rows of a refused completion (the bytes stay in the content store: another row may share them)."""
    if ids:
        async with engine.begin() as conn:
            await conn.execute(
                delete(attachments_table).where(
                    attachments_table.c.id.in_(ids), attachments_table.c.request_id.is_(None)
                )
            )


async def of_request(db: AsyncEngine | AsyncConnection, request: Request) -> list[Attachment]:
    """The muhtar's files and every unit's: those linked to the request, plus any an assignment names that
    a crash kept from being linked (looked up one by one: normally there are none)."""
    async with inbox.connection(db) as conn:
        found = await attachments.for_request(conn, request.id)
        known = {a.id for a in found}
        for att_id in sorted({att for a in request.assignments for att in a.attachment_ids} - known):
            extra = await attachments.get(conn, att_id)
            if extra is not None and extra.request_id is None:
                found.append(extra)
    return found


def serve(root: Path, found: Attachment) -> web.FileResponse:
    disposition = "inline" if found.media_type != "application/pdf" else "attachment"
    name = f"ek-{found.id[:8]}.{attachments.extension(found.media_type)}"
    return web.FileResponse(
        attachments.stored_path(root, found.sha256),
        headers={
            "Content-Type": found.media_type,
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )
