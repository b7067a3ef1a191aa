"""Pages filtered by kind, muhtar-facing state and channel (0012's keyed counts and copied columns) against the
hand-computed world of fixture.py, on SQLite and PostgreSQL. Every figure below is worked out from the
REQUESTS and ASSIGNMENTS tables of fixture.py (NOW = 30 June 2026 12:00 UTC), not by another query."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.reports.fixture import NOW, ReportWorld
from tests.reports.test_queries import ALL, counts, stats, tables
from workflow.reports import bottlenecks
from workflow.reports.durations import unit_work_per_unit
from workflow.reports.filters import parse_filters
from workflow.reports.queries import Section


def ages(b: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {r.values["unit"]: (r.values["b0"], r.values["b1"], r.values["b2"], r.values["b3"], r.values["overdue"],
                               r.values["total"]) for r in b["darbogaz-yas"].rows}


def handbacks(b: dict[str, Any]) -> dict[str, tuple[int, int, float]]:
    return {r.values["unit"]: (r.values["total"], r.values["back"], r.values["rate"]) for r in b["darbogaz-iade"].rows}


def on_time(b: dict[str, Any]) -> dict[str, tuple[int, int, int, float]]:
    return {r.values["unit"]: (r.values["on"], r.values["late_done"], r.values["late_open"], r.values["rate"])
            for r in b["darbogaz-zamaninda"].rows}


def provinces(v: dict[str, Any]) -> list[tuple[str, int]]:
    return [(r.values["province"], r.values["count"]) for r in v["hacim-il"].rows]


async def test_kind(engine: AsyncEngine, rw: ReportWorld):
    """Şikâyet: requests 1 (concluded), 3 (routed) and 6 (waiting), all from Çankaya, Ankara."""
    f = parse_filters({"tur": "sikayet"})
    v = await tables(engine, ALL, f, Section.VOLUMES)
    assert counts(v["hacim-durum"], "label") == {"Sonuçlanan": 1, "Yönlendirilen": 1, "Bekleyen": 1}
    assert counts(v["hacim-kanal"], "label") == {"Web": 2, "SMS": 1}
    assert provinces(v) == [("Ankara", 3)]
    assert counts(v["hacim-ilce"], "district") == {"Çankaya": 3}
    # 1: Valilik and Sağlık; 3: Valilik and the Belediye (handed back, still counted as routed there).
    assert counts(v["hacim-birim"], "unit") == {"Ankara Valiliği": 2, "Ankara İl Sağlık Müdürlüğü": 1,
                                                "Çankaya Belediyesi": 1}
    assert counts(v["hacim-donem"], "period") == {"2026-06-01": 3}

    d = await tables(engine, ALL, f, Section.DURATIONS)
    # Triage: 1 → 1 day (2 June), 3 → 2 days (12 June): median = 1st of 2, p90 = 2nd.
    assert stats(d["sure-yonlendirme"], "province") == {"Ankara": (2, 1, 2)}
    assert stats(d["sure-birim"], "unit") == {"Ankara Valiliği": (1, 5, 5), "Ankara İl Sağlık Müdürlüğü": (1, 3, 3)}
    assert stats(d["sure-birim-il"], "province") == {"Ankara": (2, 3, 5)}
    assert stats(d["sure-sonuclandirma"], "province") == {"Ankara": (1, 1, 1)}  # 7 June → 8 June
    assert stats(d["sure-toplam"], "province") == {"Ankara": (1, 7, 7)}

    b = await tables(engine, ALL, f, Section.BOTTLENECKS)
    assert ages(b) == {"Ankara Valiliği": (0, 0, 1, 0, 1, 1)}  # 3v: 18 days, due 20 June
    assert handbacks(b) == {"Ankara Valiliği": (2, 0, 0.0), "Ankara İl Sağlık Müdürlüğü": (1, 0, 0.0),
                            "Çankaya Belediyesi": (1, 1, 1.0)}
    # The Belediye only handed 3 back: nothing decided, no rate.
    assert on_time(b) == {"Ankara Valiliği": (1, 0, 1, 0.5), "Ankara İl Sağlık Müdürlüğü": (1, 0, 0, 1.0)}
    assert [r.values["unit"] for r in b["darbogaz-en-yavas"].rows] == ["Ankara Valiliği", "Ankara İl Sağlık Müdürlüğü"]


async def test_channel(engine: AsyncEngine, rw: ReportWorld):
    """SMS: requests 2 (İstek, concluded) and 6 (Şikâyet, waiting)."""
    f = parse_filters({"kanal": "sms"})
    v = await tables(engine, ALL, f, Section.VOLUMES)
    assert counts(v["hacim-tur"], "label") == {"İstek": 1, "Şikâyet": 1}
    assert counts(v["hacim-durum"], "label") == {"Sonuçlanan": 1, "Bekleyen": 1}
    assert provinces(v) == [("Ankara", 2)]
    assert counts(v["hacim-birim"], "unit") == {"Çankaya Belediyesi": 1}
    assert counts(v["hacim-donem"], "period") == {"2026-06-01": 2}

    d = await tables(engine, ALL, f, Section.DURATIONS)
    # 2: filed 1 June 21:30, routed 4 June 21:30 (3 days), 2b done in 1 day, concluded 7 June 21:30.
    assert stats(d["sure-yonlendirme"], "province") == {"Ankara": (1, 3, 3)}
    assert stats(d["sure-birim"], "unit") == {"Çankaya Belediyesi": (1, 1, 1)}
    assert stats(d["sure-birim-il"], "province") == {"Ankara": (1, 1, 1)}
    assert stats(d["sure-sonuclandirma"], "province") == {"Ankara": (1, 2, 2)}
    assert stats(d["sure-toplam"], "province") == {"Ankara": (1, 6, 6)}

    b = await tables(engine, ALL, f, Section.BOTTLENECKS)
    assert ages(b) == {}
    assert handbacks(b) == {"Çankaya Belediyesi": (1, 0, 0.0)}
    assert on_time(b) == {"Çankaya Belediyesi": (1, 0, 0, 1.0)}
    assert [r.values["unit"] for r in b["darbogaz-en-yavas"].rows] == ["Çankaya Belediyesi"]


async def test_state_over_a_range_with_month_ends(engine: AsyncEngine, rw: ReportWorld):
    """Yönlendirilen, 15 April – 25 June 2026 (May whole, the ends by day): requests 7 (1 May), 3 (10 June),
    4 (20 June)."""
    f = parse_filters({"durum": "yonlendirilen", "bas": "15.04.2026", "bit": "25.06.2026"})
    v = await tables(engine, ALL, f, Section.VOLUMES)
    assert counts(v["hacim-tur"], "label") == {"Şikâyet": 1, "İhbar": 1, "İstek": 1}
    assert provinces(v) == [("Ankara", 2), ("İzmir", 1)]
    assert counts(v["hacim-ilce"], "district") == {"Çankaya": 2, "Konak": 1}
    assert counts(v["hacim-birim"], "unit") == {"Çankaya Belediyesi": 2, "Ankara Valiliği": 1, "İzmir Valiliği": 1}
    assert counts(v["hacim-donem"], "period") == {"2026-05-01": 1, "2026-06-01": 2}

    d = await tables(engine, ALL, f, Section.DURATIONS)
    # Triage: 3 → 2 days, 7 → 9 days (10 May), 4 → 5 days (25 June). Nothing completed or concluded.
    assert stats(d["sure-yonlendirme"], "province") == {"Ankara": (2, 2, 9), "İzmir": (1, 5, 5)}
    assert d["sure-birim"].rows == d["sure-birim-il"].rows == d["sure-toplam"].rows == []

    b = await tables(engine, ALL, f, Section.BOTTLENECKS)
    # 3v 18 days (overdue), 4v 5 days (due 10 July), 7b 51 days (overdue).
    assert ages(b) == {"Ankara Valiliği": (0, 0, 1, 0, 1, 1), "İzmir Valiliği": (1, 0, 0, 0, 0, 1),
                       "Çankaya Belediyesi": (0, 0, 0, 1, 1, 1)}
    assert handbacks(b) == {"Ankara Valiliği": (1, 0, 0.0), "İzmir Valiliği": (1, 0, 0.0),
                            "Çankaya Belediyesi": (2, 1, 0.5)}
    assert on_time(b) == {"Ankara Valiliği": (0, 0, 1, 0.0), "Çankaya Belediyesi": (0, 0, 1, 0.0)}
    assert b["darbogaz-en-yavas"].rows == []


async def test_kind_and_channel_with_a_unit(engine: AsyncEngine, rw: ReportWorld):
    """İstek by web: request 7 only (routed to the Çankaya Belediyesi, 51 days open); with the Belediye as
    the unit filter the same; with the Valilik nothing."""
    f = parse_filters({"tur": "istek", "kanal": "web"})
    v = await tables(engine, ALL, f, Section.VOLUMES)
    assert counts(v["hacim-tur"], "label") == {"İstek": 1}
    assert counts(v["hacim-birim"], "unit") == {"Çankaya Belediyesi": 1}
    b = await tables(engine, ALL, f, Section.BOTTLENECKS)
    assert ages(b) == {"Çankaya Belediyesi": (0, 0, 0, 1, 1, 1)}
    bel = await tables(engine, ALL, f.with_(unit_id=rw.unit("BEL-ILCE-1231")), Section.BOTTLENECKS)
    assert ages(bel) == ages(b)
    val = await tables(engine, ALL, f.with_(unit_id=rw.unit("VAL-06")), Section.BOTTLENECKS)
    assert ages(val) == {} and handbacks(val) == {}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # the histogram path is PostgreSQL's
async def test_slowest_units_of_a_kind_from_the_keyed_histogram(engine: AsyncEngine, rw: ReportWorld):
    """The keyed histogram gives the same slowest units, with the same exact percentiles, as every
    completion of the kind's requests."""
    slowest: dict[str, list[tuple[str, int]]] = {}
    for name, f in (("sikayet", parse_filters({"tur": "sikayet"})), ("web", parse_filters({"kanal": "web"})),
                    ("sms concluded", parse_filters({"durum": "sonuclanan", "kanal": "sms"}))):
        async with engine.connect() as conn:
            assert bottlenecks.histogram_usable(conn, f)
            every = await unit_work_per_unit(conn, ALL, f)
            for limit in (1, 2, 10):
                candidates = await bottlenecks.slowest_candidates(conn, ALL, limit, f)
                expected = bottlenecks.slowest(every, limit)
                assert [r.values for r in bottlenecks.slowest(candidates, limit).rows] == [
                    r.values for r in expected.rows], (f, limit)
        slowest[name] = [(r.values["unit"], r.values["median"] // 86400) for r in expected.rows]
    # Şikâyet: 1v 5 days, 1s 3 days. Web: those and 5b 28 days. Concluded SMS: request 2's 2b, 1 day.
    assert slowest == {
        "sikayet": [("Ankara Valiliği", 5), ("Ankara İl Sağlık Müdürlüğü", 3)],
        "web": [("İzmir Büyükşehir Belediyesi", 28), ("Ankara Valiliği", 5), ("Ankara İl Sağlık Müdürlüğü", 3)],
        "sms concluded": [("Çankaya Belediyesi", 1)],
    }


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # the histogram path is PostgreSQL's
async def test_unit_work_of_a_unit_without_province_from_the_histograms(engine: AsyncEngine, rw: ReportWorld):
    """A completion by a unit without a province (MİGM itself; 0 in the histogram's keys) is found in the
    index as NULL: the histogram path gives the figures of the full computation, and hand-computed ones."""
    from datetime import timedelta

    from sqlalchemy import insert

    from tests.reports.fixture import t
    from tests.reports.test_counts import durations_from_base
    from workflow.adapters import orm

    async with engine.begin() as conn:
        await conn.execute(insert(orm.assignments).values(
            id="m" * 32, request_id=rw.requests[1], unit_id=rw.unit("MIGM"), parent_id=None, state="completed",
            routing_note="not", assigned_by_unit_id=rw.unit("MIGM"), assigned_at=t(6, 2), due_at=t(6, 16),
            completed_at=t(6, 2) + timedelta(days=2, hours=12), attachment_ids="[]", closed_at=None,
            handback_reviewed=False))
    for f in (parse_filters({}), parse_filters({"tur": "sikayet"}), parse_filters({"kanal": "sms"})):
        d = await tables(engine, ALL, f, Section.DURATIONS)
        assert {name: [r.values for r in table.rows] for name, table in d.items()} == {
            name: [values for values, _ in rows]
            for name, rows in (await durations_from_base(engine, ALL, f, NOW)).items()}, f
        if f.kind:  # request 1 is a şikâyet: MİGM's 2.5 days under "Merkez (MİGM)"
            assert stats(d["sure-birim-il"], "province") == {"Ankara": (2, 3, 5), "Merkez (MİGM)": (1, 2.5, 2.5)}
            assert stats(d["sure-birim"], "unit")["Mahalli İdareler Genel Müdürlüğü"] == (1, 2.5, 2.5)


async def test_a_valilik_list_over_a_date_range(engine: AsyncEngine, rw: ReportWorld):
    """The drill-down list of a scope over a date range (found first, then sorted): the Ankara Valiliği sees
    requests 1 and 3 (routed to it or its Sağlık Müdürlüğü); 1 June – 30 June holds both, newest first;
    with the şikâyet filter and from 2 June only 3; the Belediye's own list from 1 May: 7, 3 and 2."""
    from datetime import date

    from workflow.reports.listing import Drill, list_page
    from workflow.reports.scope import load_scope

    async def numbers(user: str, f: Any) -> list[int]:
        scope = await load_scope(engine, rw.user(user))
        async with engine.connect() as conn:
            page = await list_page(conn, scope, f, Drill(), NOW, 1)
        assert page.total == len(page.rows)
        return [row["number"] for row in page.rows]

    june = parse_filters({"bas": "2026-06-01", "bit": "2026-06-30"})
    assert await numbers("ankara", june) == [1003, 1001]
    assert await numbers("ankara", june.with_(start=date(2026, 6, 2), kind=parse_filters({"tur": "sikayet"}).kind)) == [
        1003]
    assert await numbers("cankaya.bel", parse_filters({"bas": "2026-05-01"})) == [1007, 1003, 1002]
