"""Report pages, drill-down and exports over HTTP, signed in as the world's staff users."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import openpyxl
import pytest

from tests.reports.fixture import ReportWorld
from tests.staff.conftest import Browser
from workflow.adapters.db import READ_ONLY_OPTION

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def signed_in(browsers: dict[str, Browser], username: str) -> Browser:
    b = browsers[username]
    response = await b.login(username)
    assert response.status == 200, b.last_html[:300]
    return b


def link_of(html: str, text_after: str) -> str:
    """The href of the drill-down link on the row whose header cell reads ``text_after``."""
    match = re.search(rf'<th scope="row">{re.escape(text_after)}</th>\s*<td class="num"><a href="([^"]+)"', html)
    assert match, f"no drill-down link for {text_after}"
    return match.group(1).replace("&amp;", "&")


@pytest.mark.parametrize("section", ["hacim", "sureler", "darbogazlar"])
async def test_every_section_renders_for_migm(browsers, rw: ReportWorld, section: str):
    b = await signed_in(browsers, "migm")
    response = await b.get(f"/personel/raporlar/{section}?bas=&bit=")
    assert response.status == 200
    assert "<svg" in b.last_html and "<table" in b.last_html and "Raporlar" in b.last_html


async def test_volume_page_numbers_and_drill_down(browsers, rw: ReportWorld):
    b = await signed_in(browsers, "migm")
    await b.get("/personel/raporlar/hacim?bas=&bit=")
    html = b.last_html
    assert "İle göre" in html and "Başvuru türüne göre" in html and "Talep sayısı" in html
    href = link_of(html, "İzmir")
    assert "il=35" in href
    await b.get(href)
    assert "2 talep bulundu." in b.last_html
    assert ">1004<" in b.last_html and ">1005<" in b.last_html and ">1001<" not in b.last_html


async def test_drill_down_of_an_age_bucket(browsers, rw: ReportWorld):
    b = await signed_in(browsers, "migm")
    unit = rw.unit("BEL-ILCE-1231")
    # Request 7 has waited at Çankaya Belediyesi since May: more than 30 days open, and overdue.
    await b.get(f"/personel/raporlar/talepler?birim={unit}&yas=30%2B")
    assert "1 talep bulundu." in b.last_html and ">1007<" in b.last_html
    await b.get(f"/personel/raporlar/talepler?birim={unit}&iade=1")
    assert "1 talep bulundu." in b.last_html and ">1003<" in b.last_html


async def test_valilik_sees_its_own_only(browsers, rw: ReportWorld):
    b = await signed_in(browsers, "ankara")
    await b.get("/personel/raporlar/hacim?bas=&bit=")
    assert "Ankara Valiliği" in b.last_html and "İzmir Valiliği" not in b.last_html
    # Asking for another province's requests in the list gives nothing, not İzmir's requests.
    await b.get("/personel/raporlar/talepler?il=35")
    assert "0 talep bulundu." in b.last_html
    await b.get("/personel/raporlar/talepler")
    assert "2 talep bulundu." in b.last_html


async def test_unsigned_visitor_goes_to_login(browsers, rw: ReportWorld):
    response = await browsers["x"].get("/personel/raporlar/hacim")
    assert response.url.path == "/personel/giris"
    response = await browsers["x"].get("/personel/raporlar/talepler.csv")
    assert response.url.path == "/personel/giris"


async def test_bad_filters_explained_in_turkish(browsers, rw: ReportWorld):
    b = await signed_in(browsers, "migm")
    response = await b.get("/personel/raporlar/hacim?bas=31.02.2026&il=abc&tur=x")
    assert response.status == 200
    assert "Başlangıç tarihi GG.AA.YYYY biçiminde olmalıdır." in b.last_html
    assert "Bilinmeyen başvuru türü." in b.last_html


async def test_table_csv_export(browsers, rw: ReportWorld):
    b = await signed_in(browsers, "migm")
    response = await b.session.get(b.url("/personel/raporlar/hacim/hacim-tur.csv?bas=&bit="))
    assert response.status == 200 and response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = (await response.read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Başvuru türü", "Talep sayısı"]
    assert {r[0]: r[1] for r in rows[1:]} == {"Şikâyet": "3", "İstek": "2", "İhbar": "1", "Görüş ve Öneri": "1"}


async def test_duration_xlsx_export(browsers, rw: ReportWorld):
    b = await signed_in(browsers, "migm")
    response = await b.session.get(b.url("/personel/raporlar/sureler/sure-toplam.xlsx?bas=&bit="))
    assert response.status == 200
    book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == ("İl", "Adet", "Ortanca (gün)", "%90 dilim (gün)")
    assert rows[1:] == [("Ankara", 2, 6.0, 7.0), ("İzmir", 1, 30.0, 30.0)]


async def test_list_exports_csv_and_xlsx(browsers, rw: ReportWorld):
    b = await signed_in(browsers, "cankaya.bel")
    response = await b.session.get(b.url("/personel/raporlar/talepler.csv"))
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Talep No", "Başvuru tarihi", "Başvuru türü", "Durum", "Kanal", "İl", "İlçe",
                       "Sonuçlanma tarihi"]
    # Request 2: filed 1 June 21:30 UTC = 2 June 00:30 in Istanbul; concluded 7 June 21:30 UTC.
    assert rows[1:] == [
        ["1007", "01.05.2026 12:00", "İstek", "Yönlendirilen", "Web", "Ankara", "Çankaya", ""],
        ["1003", "10.06.2026 12:00", "Şikâyet", "Yönlendirilen", "Web", "Ankara", "Çankaya", ""],
        ["1002", "02.06.2026 00:30", "İstek", "Sonuçlanan", "SMS", "Ankara", "Çankaya", "08.06.2026 00:30"],
    ]
    response = await b.session.get(b.url("/personel/raporlar/talepler.xlsx?tur=istek"))
    book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    sheet = list(book.active.iter_rows(values_only=True))
    assert sheet[0][0] == "Talep No" and len(sheet) == 3
    assert sheet[1][:5] == (1007, datetime(2026, 5, 1, 12, 0), "İstek", "Yönlendirilen", "Web")
    assert sheet[2][1] == datetime(2026, 6, 2, 0, 30) and sheet[2][7] == datetime(2026, 6, 8, 0, 30)


async def test_without_dates_the_page_shows_the_last_90_days(browsers, rw: ReportWorld):
    b = await signed_in(browsers, "migm")
    await b.get("/personel/raporlar/hacim")
    # The world's requests were filed in May and June 2026; the test clock runs at today's date.
    start = re.search(r'id="bas" name="bas" value="([0-9-]+)"', b.last_html)
    end = re.search(r'id="bit" name="bit" value="([0-9-]+)"', b.last_html)
    assert start and end
    span = datetime.fromisoformat(end.group(1)) - datetime.fromisoformat(start.group(1))
    assert span.days == 89
    assert start.group(1) > "2026-06-29"  # so none of the world's requests falls inside
    assert "Seçilen süzgeçlere uyan kayıt yok." in b.last_html


async def test_report_reads_use_the_read_only_engine(browsers, rw: ReportWorld, monkeypatch):
    """Report pages and exports read through ``read_only(engine)`` (on SQLite a deferred transaction, so a
    long export does not hold the write lock)."""
    from webui.reports import exports, forms, views

    seen: list[tuple[str, bool]] = []

    def spy(module: object, name: str) -> None:
        real = getattr(module, name)

        def wrapper(engine, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append((name, bool(engine.get_execution_options().get(READ_ONLY_OPTION))))
            return real(engine, *args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    for module, name in ((views, "section_tables"), (exports, "section_tables"), (exports, "list_batches"),
                         (forms, "choices")):
        spy(module, name)
    b = await signed_in(browsers, "migm")
    for path in ("/personel/raporlar/hacim?bas=&bit=", "/personel/raporlar/talepler?bas=&bit=",
                 "/personel/raporlar/talepler.csv?bas=&bit=", "/personel/raporlar/hacim/hacim-tur.csv?bas=&bit="):
        response = await b.session.get(b.url(path))
        assert response.status == 200, path
        await response.read()
    assert {name for name, _ in seen} == {"section_tables", "list_batches", "choices"}
    assert all(read_only for _, read_only in seen), seen
