"""Report figures against the hand-computed world of fixture.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.reports.fixture import NOW, ReportWorld
from workflow.reports.filters import Filters, Period, parse_filters
from workflow.reports.queries import Section, section_tables
from workflow.reports.scope import Scope, load_scope
from workflow.reports.tables import ReportTable

DAY = 86400


async def tables(engine: AsyncEngine, scope: Scope, f: Filters, section: Section) -> dict[str, ReportTable]:
    return {t.name: t for t in await section_tables(engine, scope, f, NOW, section)}


def counts(table: ReportTable, key: str) -> dict[Any, Any]:
    return {row.values[key]: row.values["count"] for row in table.rows}


def stats(table: ReportTable, key: str) -> dict[Any, tuple[int, float, float]]:
    return {
        row.values[key]: (row.values["n"], round(row.values["median"] / DAY, 3), round(row.values["p90"] / DAY, 3))
        for row in table.rows
    }


ALL = Scope(None)


async def test_volumes_for_migm(engine: AsyncEngine, rw: ReportWorld):
    v = await tables(engine, ALL, Filters(), Section.VOLUMES)
    assert counts(v["hacim-tur"], "label") == {"Şikâyet": 3, "İstek": 2, "İhbar": 1, "Görüş ve Öneri": 1}
    assert counts(v["hacim-durum"], "label") == {"Sonuçlanan": 3, "Yönlendirilen": 3, "Bekleyen": 1}
    assert counts(v["hacim-kanal"], "label") == {"Web": 4, "SMS": 2, "USSD": 1}
    assert [(r.values["province"], r.values["count"]) for r in v["hacim-il"].rows] == [("Ankara", 5), ("İzmir", 2)]
    assert counts(v["hacim-ilce"], "district") == {"Çankaya": 5, "Konak": 2}
    assert counts(v["hacim-birim"], "unit") == {
        "Çankaya Belediyesi": 3, "Ankara Valiliği": 2, "Ankara İl Sağlık Müdürlüğü": 1,
        "İzmir Valiliği": 1, "İzmir Büyükşehir Belediyesi": 1,
    }
    assert counts(v["hacim-donem"], "period") == {"2026-05-01": 2, "2026-06-01": 5}


PERIODS = (
    # Request 2 was filed at 21:30 UTC on 1 June: 2 June in Istanbul.
    (Period.DAY, {"2026-05-01": 2, "2026-06-01": 1, "2026-06-02": 1, "2026-06-10": 1, "2026-06-20": 1,
                  "2026-06-29": 1}),
    (Period.WEEK, {"2026-04-27": 2, "2026-06-01": 2, "2026-06-08": 1, "2026-06-15": 1, "2026-06-29": 1}),
    (Period.MONTH, {"2026-05-01": 2, "2026-06-01": 5}),
)


@pytest.mark.parametrize(("period", "expected"), PERIODS)
async def test_periods_follow_the_istanbul_calendar(engine: AsyncEngine, rw: ReportWorld, period, expected):
    v = await tables(engine, ALL, Filters(period=period), Section.VOLUMES)
    assert counts(v["hacim-donem"], "period") == expected


FILTERS = (
    # query string, expected request count per kind label
    ({"il": "35"}, {"İhbar": 1, "Görüş ve Öneri": 1}),
    ({"bas": "2026-06-02", "bit": "2026-06-02"}, {"İstek": 1}),  # request 2, by the Istanbul day
    ({"bas": "01.06.2026", "bit": "01.06.2026"}, {"Şikâyet": 1}),  # request 1 only
    ({"tur": "sikayet", "kanal": "sms"}, {"Şikâyet": 1}),
    ({"durum": "bekleyen"}, {"Şikâyet": 1}),
    ({"ilce": "1231"}, {"Şikâyet": 3, "İstek": 2}),
    ({"il": "99"}, {"Şikâyet": 3, "İstek": 2, "İhbar": 1, "Görüş ve Öneri": 1}),  # refused, so ignored
    ({"tur": "DROP TABLE"}, {"Şikâyet": 3, "İstek": 2, "İhbar": 1, "Görüş ve Öneri": 1}),
)


@pytest.mark.parametrize(("query", "expected"), FILTERS)
async def test_filters(engine: AsyncEngine, rw: ReportWorld, query, expected):
    v = await tables(engine, ALL, parse_filters(query), Section.VOLUMES)
    assert counts(v["hacim-tur"], "label") == expected


async def test_unit_filter(engine: AsyncEngine, rw: ReportWorld):
    f = Filters(unit_id=rw.unit("BEL-ILCE-1231"))
    v = await tables(engine, ALL, f, Section.VOLUMES)
    assert counts(v["hacim-tur"], "label") == {"Şikâyet": 1, "İstek": 2}


async def test_durations(engine: AsyncEngine, rw: ReportWorld):
    d = await tables(engine, ALL, Filters(), Section.DURATIONS)
    # Triage, Ankara: 1, 3, 2, 9 days → sorted 1 2 3 9: median = 2nd, p90 = 4th. İzmir: 5, 1.
    assert stats(d["sure-yonlendirme"], "province") == {"Ankara": (4, 2, 9), "İzmir": (2, 1, 5)}
    assert stats(d["sure-birim"], "unit") == {
        "Ankara Valiliği": (1, 5, 5), "Ankara İl Sağlık Müdürlüğü": (1, 3, 3),
        "Çankaya Belediyesi": (1, 1, 1), "İzmir Büyükşehir Belediyesi": (1, 28, 28),
    }
    # Units' province: Ankara 5, 3, 1 → median 3, p90 5; İzmir 28.
    assert stats(d["sure-birim-il"], "province") == {"Ankara": (3, 3, 5), "İzmir": (1, 28, 28)}
    # Last completion → conclusion: request 1 from the Valilik's 7 June completion (not the sub-unit's).
    assert stats(d["sure-sonuclandirma"], "province") == {"Ankara": (2, 1, 2), "İzmir": (1, 1, 1)}
    assert stats(d["sure-toplam"], "province") == {"Ankara": (2, 6, 7), "İzmir": (1, 30, 30)}


async def test_bottlenecks(engine: AsyncEngine, rw: ReportWorld):
    b = await tables(engine, ALL, Filters(), Section.BOTTLENECKS)
    ages = {r.values["unit"]: (r.values["b0"], r.values["b1"], r.values["b2"], r.values["b3"],
                               r.values["overdue"], r.values["total"]) for r in b["darbogaz-yas"].rows}
    assert ages == {
        "Ankara Valiliği": (0, 0, 1, 0, 1, 1),
        "İzmir Valiliği": (1, 0, 0, 0, 0, 1),
        "Çankaya Belediyesi": (0, 0, 0, 1, 1, 1),
    }
    slowest = [r.values["unit"] for r in b["darbogaz-en-yavas"].rows]
    assert slowest == ["İzmir Büyükşehir Belediyesi", "Ankara Valiliği", "Ankara İl Sağlık Müdürlüğü",
                       "Çankaya Belediyesi"]
    back = {r.values["unit"]: (r.values["total"], r.values["back"], round(r.values["rate"], 4))
            for r in b["darbogaz-iade"].rows}
    assert back["Çankaya Belediyesi"] == (3, 1, 0.3333)
    assert back["Ankara Valiliği"] == (2, 0, 0)
    on_time = {r.values["unit"]: (r.values["on"], r.values["late_done"], r.values["late_open"], r.values["rate"])
               for r in b["darbogaz-zamaninda"].rows}
    assert on_time == {
        "İzmir Büyükşehir Belediyesi": (0, 1, 0, 0.0),
        "Ankara Valiliği": (1, 0, 1, 0.5),  # the open overdue assignment counts as late
        "Çankaya Belediyesi": (1, 0, 1, 0.5),  # the hand-back is neither
        "Ankara İl Sağlık Müdürlüğü": (1, 0, 0, 1.0),
    }  # İzmir Valiliği: its only assignment is open and not yet due, so it has no rate


SCOPES = (
    # user, kinds they may count, units whose figures they see
    ("migm", {"Şikâyet": 3, "İstek": 2, "İhbar": 1, "Görüş ve Öneri": 1}, 5),
    ("admin", {"Şikâyet": 3, "İstek": 2, "İhbar": 1, "Görüş ve Öneri": 1}, 5),
    ("ankara", {"Şikâyet": 2}, 2),  # requests 1 and 3; its own and its sub-unit's figures
    ("saglik06", {"Şikâyet": 1}, 1),
    ("cankaya.kay", {}, 0),
    ("cankaya.bel", {"İstek": 2, "Şikâyet": 1}, 1),
    ("izmir", {"İhbar": 1}, 1),
    ("izmir.bb", {"Görüş ve Öneri": 1}, 1),
)


@pytest.mark.parametrize(("user", "kinds", "unit_rows"), SCOPES)
async def test_scope_per_role(engine: AsyncEngine, rw: ReportWorld, user, kinds, unit_rows):
    scope = await load_scope(engine, rw.user(user))
    v = await tables(engine, scope, Filters(), Section.VOLUMES)
    assert counts(v["hacim-tur"], "label") == kinds
    assert len(v["hacim-birim"].rows) == unit_rows
    # A unit filter cannot widen the scope: another unit's requests stay out.
    other = await tables(engine, scope, Filters(unit_id=rw.unit("BEL-BB-35")), Section.VOLUMES)
    expected_other = {"Görüş ve Öneri": 1} if user in {"migm", "admin", "izmir.bb"} else {}
    assert counts(other["hacim-tur"], "label") == expected_other


async def test_valilik_scope_in_durations_and_bottlenecks(engine: AsyncEngine, rw: ReportWorld):
    scope = await load_scope(engine, rw.user("ankara"))
    d = await tables(engine, scope, Filters(), Section.DURATIONS)
    assert set(stats(d["sure-birim"], "unit")) == {"Ankara Valiliği", "Ankara İl Sağlık Müdürlüğü"}
    assert stats(d["sure-yonlendirme"], "province") == {"Ankara": (2, 1, 2)}  # requests 1 (1 day), 3 (2)
    b = await tables(engine, scope, Filters(), Section.BOTTLENECKS)
    assert [r.values["unit"] for r in b["darbogaz-yas"].rows] == ["Ankara Valiliği"]
