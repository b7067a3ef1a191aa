"""Report pages (Raporlar): volumes, durations and bottlenecks with charts, and the drill-down list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from webui.keys import CLOCK, ENGINE
from webui.reports import forms
from webui.reports.charts import bar_chart, line_chart
from webui.staff.guard import staff_only
from webui.staff.inbox_views import viewer
from webui.staff.presenters import staff_page
from workflow.adapters.db import read_only
from workflow.reports import listing
from workflow.reports.filters import ISTANBUL, Filters, parse_filters
from workflow.reports.queries import SECTION_TITLES, Section, section_tables
from workflow.reports.scope import Scope
from workflow.reports.tables import ColKind, ReportTable, cell_text

BAR_LIMIT: Final = 25
DEFAULT_DAYS: Final = 90
#: table name → (chart kind, value column, chart title)
CHARTS: Final = {
    "hacim-il": ("bar", "count", "İllere göre talep sayısı (çoktan aza)"),
    "hacim-birim": ("bar", "count", "Birimlere göre talep sayısı (ilk 25)"),
    "hacim-donem": ("line", "count", "Dönemlere göre talep sayısı"),
    "sure-birim-il": ("bar", "median", "İllere göre ortanca tamamlama süresi (gün)"),
    "darbogaz-en-yavas": ("bar", "median", "Ortanca tamamlama süresi en uzun birimler (gün)"),
    "darbogaz-yas": ("bar", "total", "Birimlerdeki açık görevler"),
}


def _label(table: ReportTable, row_values: dict[str, Any]) -> str:
    first = table.columns[0]
    return cell_text(first, row_values.get(first.key))


def chart_for(table: ReportTable) -> Any:
    spec = CHARTS.get(table.name)
    if spec is None or not table.rows:
        return None
    kind, key, title = spec
    scale = 86400 if key == "median" else 1
    points = [(_label(table, r.values), float(r.values.get(key) or 0) / scale) for r in table.rows]
    if kind == "line":
        return line_chart(title, points)
    ranked = sorted(points, key=lambda p: -p[1])[:BAR_LIMIT]
    return bar_chart(title, ranked)


def page_filters(request: web.Request) -> Filters:
    """The query's filters; with no date given at all, the last 90 days (a cleared form field still
    means "every date", as the parameter is then present and empty)."""
    f = parse_filters(request.query)
    if "bas" in request.query or "bit" in request.query:
        return f
    today = request.app[CLOCK]().astimezone(ISTANBUL).date()
    return f.with_(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today)


async def me_and_scope(request: web.Request, user_id: str) -> tuple[Any, Scope]:
    me = await viewer(request, user_id)  # an administrator outside MİGM is sent to the admin pages
    return me, Scope.for_actor(me)


async def index(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther(request.app.router["reports_section"].url_for(section=Section.VOLUMES.value))


@staff_only
async def section_page(request: web.Request, user_id: str) -> web.Response:
    me, scope = await me_and_scope(request, user_id)
    section = Section(request.match_info["section"])
    f = page_filters(request)
    engine = read_only(request.app[ENGINE])  # SQLite: a deferred read, no write lock
    tables = await section_tables(engine, scope, f, request.app[CLOCK](), section)
    context = {
        "section": section,
        "sections": [(s.value, SECTION_TITLES[s]) for s in Section],
        "tables": [(t, chart_for(t)) for t in tables],
        "f": f,
        "query": urlencode(f.query_params()),
        "choices": await forms.choices(engine, scope, f),
        "drill_url": forms.drill_url,
        "cell_text": cell_text,
        "count_kind": ColKind.COUNT,
    }
    return await staff_page(request, "reports/section.html", me, "reports", context)


@staff_only
async def list_page(request: web.Request, user_id: str) -> web.Response:
    me, scope = await me_and_scope(request, user_id)
    f = parse_filters(request.query)
    drill = listing.Drill.parse(request.query)
    raw_page = request.query.get("sayfa", "1")
    number = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(raw_page) < 7 else 1
    engine = read_only(request.app[ENGINE])
    async with engine.connect() as conn:
        page = await listing.list_page(conn, scope, f, drill, request.app[CLOCK](), number)
    params = {**f.query_params(), **drill.params()}
    params.pop("donem", None)
    context = {
        "page": page,
        "columns": listing.COLUMNS,
        "cell_text": cell_text,
        "f": f,
        "query": urlencode(params),
        "choices": await forms.choices(engine, scope, f),
        "drill": drill,
    }
    return await staff_page(request, "reports/list.html", me, "reports", context)
