"""What the muhtar's pages read and write, over the service layer (workflow.service_layer)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from webui import attachments, filing
from webui.attachments import Attachment, Upload
from webui.keys import ATTACHMENTS_DIR, BUS, CLOCK, ENGINE, UOW_FACTORY
from workflow.domain.commands import FileRequest
from workflow.domain.model import Request
from workflow.service_layer import views

logger = logging.getLogger(__name__)


async def file_request(request: web.Request, muhtar_id: str, sub: filing.Submission, key: str) -> int:
    """File through the service layer, then keep the files and link them to the new request."""
    app = request.app
    number: int = await app[BUS].handle(
        FileRequest(
            muhtar_id=muhtar_id,
            kind=sub.form.values["tur"],
            description=sub.form.values["aciklama"],
            channel="web",
            idempotency_key=key,
        )
    )
    await _keep_uploads(request, muhtar_id, number, sub.uploads)
    await filing.finish(app[ENGINE], key, number)
    return number


async def _keep_uploads(request: web.Request, muhtar_id: str, number: int, uploads: list[Upload]) -> None:
    if not uploads:
        return
    app = request.app
    async with app[UOW_FACTORY]() as uow:
        filed = await uow.requests.get_by_number(number)
    assert filed is not None and filed.muhtar_id == muhtar_id
    now = app[CLOCK]()
    async with app[ENGINE].begin() as conn:
        for upload in uploads:
            attachments.keep(app[ATTACHMENTS_DIR], upload)
            await attachments.record(
                conn, upload, by_kind="muhtar", by_id=muhtar_id, request_id=filed.id, now=now
            )
    logger.info("request %s: %d attachment(s) stored", number, len(uploads))


@dataclass(frozen=True)
class RequestPage:
    request: Request
    own_files: list[Attachment]
    public_files: list[Attachment]


async def request_page(request: web.Request, muhtar_id: str, number: int) -> RequestPage:
    """The muhtar's own request (NotFound otherwise); the opening is written to the access log."""
    app = request.app
    found = await views.request_for_muhtar(
        app[UOW_FACTORY](), muhtar_id, number, request.remote, app[CLOCK]()
    )
    async with app[ENGINE].connect() as conn:
        files = await attachments.for_request(conn, found.id)
    public = set(found.public_attachment_ids)
    return RequestPage(
        found,
        [a for a in files if a.uploaded_by_kind == "muhtar"],
        [a for a in files if a.id in public],
    )
