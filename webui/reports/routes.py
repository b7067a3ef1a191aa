"""Report URLs (under /personel/raporlar); ``setup_report_routes`` is called once by webui/routes.py."""

from __future__ import annotations

from aiohttp import web

from webui.reports import exports, views

SECTION = "{section:hacim|sureler|darbogazlar}"
FMT = "{fmt:csv|xlsx}"


def setup_report_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/personel/raporlar", views.index, name="reports")
    r.add_get("/personel/raporlar/talepler", views.list_page, name="reports_list")
    r.add_get("/personel/raporlar/talepler." + FMT, exports.list_export, name="reports_list_export")
    r.add_get(f"/personel/raporlar/{SECTION}", views.section_page, name="reports_section")
    r.add_get(
        f"/personel/raporlar/{SECTION}/{{table:[a-z-]{{1,40}}}}.{FMT}",
        exports.table_export,
        name="reports_table_export",
    )
