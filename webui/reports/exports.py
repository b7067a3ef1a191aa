"""CSV/XLSX downloads of every report table and of the drill-down request list, streamed to the browser.

The list is read with a server-side cursor (``stream`` + ``yield_per``) in batches; CSV batches go out as
they come, XLSX rows go into openpyxl's write-only sheet (a temporary file) and the finished file is sent in
chunks — so neither grows with the number of rows.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from webui.keys import CLOCK, ENGINE
from webui.reports.views import me_and_scope, page_filters
from webui.staff.guard import staff_only
from workflow.adapters.db import read_only
from workflow.reports import listing
from workflow.reports.export import CSV_TYPE, XLSX_TYPE, XlsxWriter, csv_header, csv_rows, file_chunks
from workflow.reports.filters import ISTANBUL, parse_filters
from workflow.reports.queries import Section, section_tables
from workflow.reports.tables import Col

log = logging.getLogger(__name__)
BATCH: Final = 2000
TYPES: Final = {"csv": CSV_TYPE, "xlsx": XLSX_TYPE}
Batches = AsyncIterator[list[dict[str, Any]]]


async def _one_batch(rows: list[dict[str, Any]]) -> Batches:
    yield rows


async def list_batches(engine: AsyncEngine, query: Any) -> Batches:
    async with engine.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=BATCH))
        async for part in result.partitions(BATCH):
            yield [listing.row_values(row) for row in part]


async def send(
    request: web.Request, fmt: str, name: str, title: str, columns: tuple[Col, ...], batches: Batches
) -> web.StreamResponse:
    stamp = request.app[CLOCK]().astimezone(ISTANBUL).strftime("%Y%m%d-%H%M")
    filename = f"{name}-{stamp}.{fmt}"
    response = web.StreamResponse(
        headers={
            "Content-Type": TYPES[fmt],
            "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        }
    )
    if fmt == "csv":
        await response.prepare(request)
        await response.write(csv_header(columns))
        async for batch in batches:
            await response.write(csv_rows(columns, batch))
        await response.write_eof()
        return response
    writer = XlsxWriter(title, columns)
    async for batch in batches:
        await asyncio.to_thread(writer.add, batch)
    with tempfile.TemporaryFile() as handle:
        await asyncio.to_thread(writer.save, handle)
        size = handle.tell()
        handle.seek(0)
        response.content_length = size
        await response.prepare(request)
        chunks = file_chunks(handle)
        while chunk := await asyncio.to_thread(next, chunks, b""):
            await response.write(chunk)
    await response.write_eof()
    return response


@staff_only
async def table_export(request: web.Request, user_id: str) -> web.StreamResponse:
    _, scope = await me_and_scope(request, user_id)
    section = Section(request.match_info["section"])
    f = page_filters(request)
    tables = await section_tables(read_only(request.app[ENGINE]), scope, f, request.app[CLOCK](), section)
    table = next((t for t in tables if t.name == request.match_info["table"]), None)
    if table is None:
        raise web.HTTPNotFound()
    log.info("report export: table=%s format=%s rows=%d", table.name, request.match_info["fmt"], len(table.rows))
    rows = [row.values for row in table.rows]
    return await send(request, request.match_info["fmt"], table.name, table.title, table.columns, _one_batch(rows))


@staff_only
async def list_export(request: web.Request, user_id: str) -> web.StreamResponse:
    _, scope = await me_and_scope(request, user_id)
    f = parse_filters(request.query)
    drill = listing.Drill.parse(request.query)
    now: datetime = request.app[CLOCK]()
    query = listing.list_query(scope, f, drill, now)
    log.info("report export: request list format=%s", request.match_info["fmt"])
    batches = list_batches(read_only(request.app[ENGINE]), query)  # SQLite: no write lock while it streams
    return await send(request, request.match_info["fmt"], "talepler", "Talepler", listing.COLUMNS, batches)
