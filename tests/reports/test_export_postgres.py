"""The streamed list export on PostgreSQL (a server-side cursor through asyncpg)."""

from __future__ import annotations

import csv
import io

import pytest

from tests.reports.fixture import ReportWorld
from tests.reports.test_pages import signed_in

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


async def test_list_csv_export_on_postgres(browsers, rw: ReportWorld):
    b = await signed_in(browsers, "migm")
    response = await b.session.get(b.url("/personel/raporlar/talepler.csv?il=35"))
    assert response.status == 200
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig")), delimiter=";"))
    assert [r[:3] for r in rows] == [["Talep No", "Başvuru tarihi", "Başvuru türü"],
                                     ["1005", "01.05.2026 12:00", "Görüş ve Öneri"],
                                     ["1004", "20.06.2026 12:00", "İhbar"]]
