"""The report pages in a real browser (Debian's chromium driven by Playwright), over the hand-computed world of
fixture.py: MİGM and the Ankara Valiliği sign in, open the three report pages, find charts drawn and tables
holding the fixture's numbers, drill down from one number to the requests behind it, and save screenshots to
test-artifacts/reports/. Without /usr/bin/chromium the test skips locally and FAILS in CI (as the other
browser tests do).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.browser import StaffWindow, launched_chromium
from tests.reports.fixture import ReportWorld
from workflow.paths import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "reports"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

#: Every date: the world's requests were filed in May and June 2026, before the pages' default 90 days.
ALL_DATES = "?bas=&bit="


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched_chromium() as browser:
        yield browser


class Reader(StaffWindow):
    """One staff user in their own browser context, reading report tables as a person sees them."""

    artifacts = ARTIFACTS

    async def open(self, section: str) -> None:
        response = await self.page.goto(f"{self.base}personel/raporlar/{section}{ALL_DATES}")
        assert response is not None and response.status == 200

    def section(self, table: str) -> Any:
        return self.page.locator(f'section[aria-labelledby="t-{table}"]')

    async def rows(self, table: str) -> list[list[str]]:
        """The visible rows of a report table: the row header then every cell, as rendered text."""
        out = []
        for tr in await self.section(table).locator("table.report-table tbody tr").all():
            cells = await tr.locator("th, td").all_inner_texts()
            out.append([c.strip() for c in cells])
        return out

    async def chart_drawn(self, table: str) -> bool:
        """The table's chart is an SVG the browser laid out with a real size and at least one mark."""
        svg = self.section(table).locator("figure.report-chart svg")
        if await svg.count() != 1:
            return False
        box = await svg.bounding_box()
        marks = await svg.locator("rect, polyline, path, circle").count()
        return box is not None and box["width"] > 100 and box["height"] > 10 and marks > 0


async def test_report_pages_in_a_real_browser(chromium: Any, server: TestServer, rw: ReportWorld) -> None:
    base, errors = str(server.make_url("/")), []

    migm = await Reader.signed_in(chromium, base, errors, "migm")
    await migm.open("hacim")
    assert await migm.page.get_by_role("heading", name="Raporlar", level=1).is_visible()
    # fixture.py: requests 1, 2, 3, 6, 7 from Ankara, 4 and 5 from İzmir; 3 şikâyet, 2 istek, 1 ihbar, 1 görüş.
    assert await migm.rows("hacim-il") == [["Ankara", "5"], ["İzmir", "2"]]
    assert sorted(await migm.rows("hacim-tur")) == [
        ["Görüş ve Öneri", "1"], ["İhbar", "1"], ["İstek", "2"], ["Şikâyet", "3"]]
    assert await migm.rows("hacim-donem") == [["01.05.2026", "2"], ["01.06.2026", "5"]]
    for table in ("hacim-il", "hacim-birim", "hacim-donem"):
        assert await migm.chart_drawn(table), table
    await migm.shot("01-migm-talep-sayilari")

    # Drill down: İzmir's 2 → the list of exactly requests 1004 and 1005.
    await migm.section("hacim-il").get_by_role("row", name=re.compile("^İzmir")).get_by_role("link").click()
    await migm.page.wait_for_url(re.compile(r"/personel/raporlar/talepler\?.*il=35"))
    assert "2 talep bulundu." in await migm.page.content()
    numbers = sorted(await migm.page.locator("table tbody tr th[scope=row]").all_inner_texts())
    assert [n.strip() for n in numbers] == ["1004", "1005"]
    await migm.shot("02-migm-izmir-talepleri")

    await migm.open("sureler")
    # Filing → conclusion: Ankara requests 1 (7 days) and 2 (6 days): median 6, p90 7; İzmir 5: 30 days.
    assert await migm.rows("sure-toplam") == [["Ankara", "2", "6,0", "7,0"], ["İzmir", "1", "30,0", "30,0"]]
    assert await migm.rows("sure-yonlendirme") == [["Ankara", "4", "2,0", "9,0"], ["İzmir", "2", "1,0", "5,0"]]
    assert await migm.chart_drawn("sure-birim-il")
    await migm.shot("03-migm-sureler")

    await migm.open("darbogazlar")
    # The server's clock runs at today's date (after the world's accounts were made), long past every due
    # date of fixture.py (the latest is 10 July 2026): each of the three open assignments (3v, 4v, 7b) is in
    # the "more than 30 days" bucket and overdue.
    ages = {row[0]: row[1:] for row in await migm.rows("darbogaz-yas")}
    assert ages == {"Ankara Valiliği": ["0", "0", "0", "1", "1", "1"],
                    "İzmir Valiliği": ["0", "0", "0", "1", "1", "1"],
                    "Çankaya Belediyesi": ["0", "0", "0", "1", "1", "1"]}
    assert await migm.chart_drawn("darbogaz-yas") and await migm.chart_drawn("darbogaz-en-yavas")
    await migm.shot("04-migm-darbogazlar")

    ankara = await Reader.signed_in(chromium, base, errors, "ankara")
    await ankara.open("hacim")
    # The Valilik counts requests 1 and 3 (both şikâyet, routed to it) and sees only its own units.
    assert await ankara.rows("hacim-tur") == [["Şikâyet", "2"]]
    units = {row[0] for row in await ankara.rows("hacim-birim")}
    assert units == {"Ankara Valiliği", "Ankara İl Sağlık Müdürlüğü"}
    assert "İzmir" not in await ankara.section("hacim-il").inner_text()
    await ankara.shot("05-valilik-talep-sayilari")

    assert errors == []  # no CSP violations or script errors
