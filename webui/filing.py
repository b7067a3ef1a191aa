"""BAŞVURU: reading the streamed form, checking it, and filing it exactly once.

The form carries a one-time token (``form_token``). The first POST with it claims it in
``form_submissions``; a second one (double click, back + resend) finds the claim and is sent to the
first one's result instead of filing again. The service layer's idempotency key (the same hash) is the
second line of defence, should two submissions ever race past the claim.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aiohttp import BodyPartReader, MultipartReader, web
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from webui import attachments, csrf
from webui.attachments import Upload
from webui.crypto import sha256_hex
from webui.forms import Form, echo
from webui.tables import form_submissions
from workflow.domain.model import DESCRIPTION_MAX, DESCRIPTION_MIN, KIND_LABELS, RequestKind
from workflow.settings import SecuritySettings

TEXT_LIMIT = 64 * 1024  # bytes of any text field we read at all
WAIT_FOR_FIRST_S = 10.0


class BadForm(Exception):
    """Not a form our page sends (wrong order, unknown or repeated fields)."""


@dataclass
class Submission:
    form: Form
    token: str = ""
    uploads: list[Upload] = field(default_factory=list)


async def _text(part: BodyPartReader, budget: attachments.Budget) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        budget.take(len(chunk))
        if len(data) + len(chunk) > TEXT_LIMIT:
            raise BadForm("text field too long")
        data.extend(chunk)
    return data.decode("utf-8", errors="replace")


async def read(request: web.Request, temp_dir: Path, security: SecuritySettings) -> Submission:
    """Stream the multipart form; the CSRF token must be the first part (see csrf.py).

    A URL-encoded form (no file input, e.g. a script) is accepted too; its CSRF token was checked by the
    middleware already.
    """
    if request.content_type != "multipart/form-data":
        data = await request.post()
        values = {name: str(data.get(name, "")) for name in ("tur", "aciklama")}
        return Submission(Form(values=values), token=str(data.get("form_token", "")).strip()[:64])
    if (request.content_length or 0) > attachments.BODY_LIMIT:
        raise attachments.BodyTooLarge()
    budget = attachments.Budget()
    reader = await request.multipart()
    first = await reader.next()
    if not isinstance(first, BodyPartReader) or first.name != csrf.FIELD:
        raise csrf.CsrfRefused("missing")
    await csrf.check(request, await _text(first, budget))
    sub = Submission(Form())
    try:
        await _read_rest(reader, sub, temp_dir, security, budget)
    except BaseException:
        attachments.discard(sub.uploads)
        raise
    return sub


async def _read_rest(
    reader: MultipartReader,
    sub: Submission,
    temp_dir: Path,
    security: SecuritySettings,
    budget: attachments.Budget,
) -> None:
    max_bytes = security.upload_max_mb * 1024 * 1024
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadForm("nested multipart")
        if part.name == "ekler":
            if part.filename:  # an empty file input still sends a part, with no file name
                sub.uploads.append(await attachments.receive(part, temp_dir, max_bytes, budget))
            else:
                await part.release()
        elif part.name in ("form_token", "tur", "aciklama"):
            value = await _text(part, budget)
            if part.name == "form_token":
                sub.token = value.strip()[:64]
            else:
                sub.form.values[part.name] = value
        else:
            raise BadForm("unknown field")


def check(sub: Submission, security: SecuritySettings) -> None:
    """Field errors in plain Turkish, each repeating what was entered."""
    f = sub.form
    kind = f.values.get("tur", "")
    if kind not in {k.value for k in RequestKind}:
        f.errors["tur"] = "Başvuru türünü seçin: " + ", ".join(KIND_LABELS.values()) + "."
    text = f.values.get("aciklama", "").replace("\r\n", "\n").strip()
    if len(text) < DESCRIPTION_MIN:
        typed = f" Yazdığınız metin {len(text)} karakter: “{echo(text)}”." if text else ""
        f.errors["aciklama"] = f"Açıklama en az {DESCRIPTION_MIN} karakter olmalıdır.{typed}"
    elif len(text) > DESCRIPTION_MAX:
        f.errors["aciklama"] = (
            f"Açıklama en fazla {DESCRIPTION_MAX} karakter olabilir; yazdığınız metin "
            f"{len(text)} karakter. Lütfen kısaltın."
        )
    if not sub.token:
        f.general.append("Form eksik gönderildi. Lütfen sayfayı yenileyip yeniden deneyin.")
    _check_files(sub, security)


def _check_files(sub: Submission, security: SecuritySettings) -> None:
    problems = []
    if len(sub.uploads) > security.upload_max_files:
        problems.append(
            f"En fazla {security.upload_max_files} dosya ekleyebilirsiniz; {len(sub.uploads)} dosya seçtiniz."
        )
    for up in sub.uploads:
        if up.too_big:
            problems.append(
                f"“{echo(up.original_name)}” dosyası {up.size / 1048576:.1f} MB; bir dosya en fazla "
                f"{security.upload_max_mb} MB olabilir."
            )
        elif up.size == 0:
            problems.append(f"“{echo(up.original_name)}” dosyası boş.")
        elif up.media_type is None:
            problems.append(
                f"“{echo(up.original_name)}” dosyasının türü kabul edilmiyor. Yalnızca JPEG, PNG, WebP "
                "resimleri ve PDF belgeleri eklenebilir (dosyanın adı değil içeriği denetlenir)."
            )
    if problems:
        sub.form.errors["ekler"] = " ".join(problems)
    if sub.uploads and not sub.form.ok:
        sub.form.general.append(
            "Güvenliğiniz için seçtiğiniz dosyalar kaydedilmedi; düzelttikten sonra dosyaları yeniden seçin."
        )


def submission_key(muhtar_id: str, token: str) -> str:
    return sha256_hex(f"{muhtar_id}:{token}")


async def claim(engine: AsyncEngine, key: str, now: datetime) -> bool:
    """True when this submission is the first with its token."""
    try:
        async with engine.begin() as conn:
            await conn.execute(form_submissions.insert().values(key=key, created_at=now))
    except IntegrityError:
        return False
    return True


async def release(engine: AsyncEngine, key: str) -> None:
    """The form was refused (validation): the same token may be sent again, corrected."""
    async with engine.begin() as conn:
        await conn.execute(delete(form_submissions).where(form_submissions.c.key == key))


async def finish(engine: AsyncEngine, key: str, number: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(form_submissions).where(form_submissions.c.key == key).values(result=str(number))
        )


async def first_result(engine: AsyncEngine, key: str) -> int | None:
    """The number the first submission filed, waiting a little if it is still being filed."""
    deadline = asyncio.get_running_loop().time() + WAIT_FOR_FIRST_S
    while True:
        async with engine.connect() as conn:
            row = (
                await conn.execute(select(form_submissions.c.result).where(form_submissions.c.key == key))
            ).first()
        if row is not None and row.result is not None:
            return int(row.result)
        if row is None or asyncio.get_running_loop().time() > deadline:
            return None
        await asyncio.sleep(0.2)
