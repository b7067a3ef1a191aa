"""The trigger-kept counts of 0011_report_counts follow requests through the real service layer.

At every step of a scenario that files, routes, forwards, hands back, re-routes, completes and concludes
requests (fake clock, across a month boundary), the volume and bottleneck tables read from the counts must
equal the same tables computed from the base tables, for several scopes and date ranges (whole months,
month ends, open ends); the counts themselves must equal a recount from the base tables; and at the end a
few figures are checked against hand-computed values.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import build_world
from tests.reports.fixture import NOW, build_report_world
from workflow.bootstrap import bootstrap
from workflow.domain import commands as c
from workflow.domain.vocabulary import Channel, RequestKind, RequestState
from workflow.entrypoints.workflow_service import housekeeping
from workflow.reports import bottlenecks, counts, durations, volumes
from workflow.reports.filters import Filters
from workflow.reports.queries import Section, section_tables
from workflow.reports.schema import COUNT_TABLES, volume_days
from workflow.reports.scope import Scope
from workflow.settings import load_settings

VERSIONS = Path(__file__).resolve().parents[2] / "workflow/adapters/migrations/versions"


def _migration(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"report_migration_{name}", VERSIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


M = _migration("0011_report_counts")
KEYED = _migration("0012_report_keyed_counts")
FILL = {**M.FILL, **KEYED.FILL}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2027, 1, 29, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _values(tables: list[Any]) -> dict[str, list[tuple[dict[str, Any], dict[str, str]]]]:
    return {t.name: [(r.values, r.link) for r in t.rows] for t in tables}


async def from_base(engine: AsyncEngine, scope: Scope, f: Filters, now: datetime, section: Section) -> Any:
    """The same tables with the counts switched off: every figure from the base tables (and the slowest
    units from every completion's work time)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(volumes, "month_counts_usable", lambda scope, f: False)
        mp.setattr(bottlenecks, "counts_usable", lambda f: False)
        mp.setattr(bottlenecks, "histogram_usable", lambda conn, f: False)
        return _values(await section_tables(engine, scope, f, now, section))


async def durations_from_base(engine: AsyncEngine, scope: Scope, f: Filters, now: datetime) -> Any:
    """The durations with unit work filtered through the request summary (a join) and every percentile
    computed from all values — not 0012's copies, ``kcs`` numbers and histograms."""
    from workflow.reports.filters import fact_clause
    from workflow.reports.schema import report_requests as rr

    def request_step(scope: Scope, f: Filters, seconds: Any) -> Any:
        return (select(rr.c.province_id.label("g"), seconds.label("d"))
                .where(seconds.is_not(None), scope.request_clause(rr.c.request_id), fact_clause(f)).subquery("step"))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Filters, "by_place", property(lambda self: True))
        mp.setattr(durations, "_request_step", request_step)
        return _values(await section_tables(engine, scope, f, now, Section.DURATIONS))


def keyed_filters(unit_id: int) -> list[Filters]:
    """Kind, muhtar-facing state and channel alone, together, with dates and with a unit (0012's counts)."""
    return [
        Filters(kind=RequestKind.SIKAYET),
        Filters(state=RequestState.YONLENDIRILEN),
        Filters(channel=Channel.SMS, start=date(2027, 1, 29), end=date(2027, 2, 1)),
        Filters(kind=RequestKind.GORUS_ONERI, state=RequestState.YONLENDIRILEN, channel=Channel.WEB,
                start=date(2027, 1, 15), end=date(2027, 3, 31)),
        Filters(kind=RequestKind.IHBAR, unit_id=unit_id),
    ]


async def recount(engine: AsyncEngine) -> None:
    """Every counts table (plus its pending changes) equals the migration's count from the base tables."""
    async with engine.connect() as conn:
        for table, delta, keys, names in COUNT_TABLES:
            key_list = ", ".join(keys)
            nonzero = " OR ".join(f"sum({n}) <> 0" for n in names)
            sums = ", ".join(f"sum({n})" for n in names)
            kept = await conn.execute(text(
                f"SELECT {key_list}, {sums} FROM (SELECT * FROM {table.name} UNION ALL SELECT * FROM {delta.name}) "
                f"AS t GROUP BY {key_list} HAVING {nonzero}"
            ))
            fresh = await conn.execute(text(f"SELECT * FROM ({FILL[table.name]}) AS f"))
            assert sorted(map(tuple, kept)) == sorted(map(tuple, fresh)), table.name
        kept_open = await conn.execute(text(f"SELECT {M.OPEN_COLUMNS} FROM report_open"))
        select_open = M.FILL_OPEN.split(")", 1)[1]  # the SELECT of "INSERT INTO report_open (…) SELECT …"
        fresh_open = await conn.execute(text(select_open))
        assert sorted(map(tuple, kept_open)) == sorted(map(tuple, fresh_open))
        # 0012's copies of the request's kind, state and channel on report_work and report_open.
        for table, join in (("report_work", "rr.request_id = c.request_id"),
                            ("report_open", "rr.request_id = (SELECT request_id FROM assignments "
                                            "WHERE id = c.assignment_id)")):
            stale = await conn.execute(text(
                f"SELECT c.assignment_id FROM {table} c JOIN report_requests rr ON {join} "
                f"WHERE c.request_kcs IS NULL OR c.request_kcs <> ({KEYED.kcs_code('rr')})"
            ))
            assert stale.all() == [], table


def ranges() -> list[Filters]:
    return [
        Filters(),
        Filters(start=date(2027, 1, 1), end=date(2027, 1, 31)),  # one whole month
        Filters(start=date(2027, 1, 29), end=date(2027, 2, 1)),  # two month ends, no whole month
        Filters(start=date(2027, 1, 15), end=date(2027, 3, 31)),  # an end, then whole months
        Filters(start=date(2027, 2, 1)),
        Filters(end=date(2027, 1, 30)),
        Filters(start=date(2027, 2, 1), end=date(2027, 2, 1)),  # one day
    ]


async def test_counts_follow_requests_through_the_service_layer(engine: AsyncEngine):
    world = await build_world(engine)
    clock = Clock()
    services = bootstrap(load_settings(env={}), engine=engine, clock=clock)
    bus, u, units = services.commands, world.users, world.units
    scopes = [Scope(None), Scope(units["VAL-06"], True, 6), Scope(units["BEL-ILCE-1231"])]
    steps = 0

    async def check() -> None:
        nonlocal steps
        steps += 1
        await recount(engine)
        for scope in scopes:
            for f in [*ranges(), Filters(unit_id=units["BEL-ILCE-1231"]), Filters(start=date(2027, 2, 1),
                                                                                 unit_id=units["VAL-06"]),
                      *keyed_filters(units["BEL-ILCE-1231"])]:
                for section in (Section.VOLUMES, Section.BOTTLENECKS):
                    counted = _values(await section_tables(engine, scope, f, clock.now, section))
                    assert counted == await from_base(engine, scope, f, clock.now, section), (steps, scope, f)
                if f.keyed or f == Filters():
                    copied = _values(await section_tables(engine, scope, f, clock.now, Section.DURATIONS))
                    assert copied == await durations_from_base(engine, scope, f, clock.now), (steps, scope, f)

    async def assignment_of(number: int, code: str, *, open_only: bool = True) -> str:
        async with services.uow() as uow:
            request = await uow.requests.get_by_number(number)
        assert request is not None
        return next(a.id for a in reversed(request.assignments)
                    if a.unit.id == units[code] and (a.is_open or not open_only))

    async def step(days: float, *actions: Callable[[], Awaitable[Any]]) -> None:
        clock.now += timedelta(days=days)
        for action in actions:
            await action()
        await check()

    a = await bus.handle(c.FileRequest(world.muhtars[0], "sikayet", "Sokak lambaları yanmıyor, karanlık."))
    b = await bus.handle(c.FileRequest(world.muhtars[1], "istek", "Parka bank konulmasını istiyoruz.", "sms"))
    cc = await bus.handle(c.FileRequest(world.muhtars[0], "ihbar", "Kaldırımda tehlikeli bir çukur var.", "ussd"))
    await check()
    # 30 January: MİGM routes A to the Valilik and the Belediye, B to the Valilik, C to the Belediye.
    await step(1,
               lambda: bus.handle(c.RouteRequest(u["migm"], a, (c.Target(units["VAL-06"]),
                                                                c.Target(units["BEL-ILCE-1231"])))),
               lambda: bus.handle(c.RouteRequest(u["migm"], b, (c.Target(units["VAL-06"]),))),
               lambda: bus.handle(c.RouteRequest(u["migm"], cc, (c.Target(units["BEL-ILCE-1231"]),))))
    # 31 January 21:30 UTC is 1 February in Istanbul: D is filed in February. The Valilik forwards A.
    clock.now = datetime(2027, 1, 31, 21, 30, tzinfo=UTC)
    d = await bus.handle(c.FileRequest(world.muhtars[1], "gorus_oneri", "Muhtarlığa bir duyuru panosu önerisi."))
    forward = c.Forward(u["ankara"], a, await assignment_of(a, "VAL-06"),
                        (c.Target(units["ILM-06-saglik"]), c.Target(units["KAY-1231"])))
    await step(0, lambda: bus.handle(forward))
    # 3 February 21:30 UTC: the Sağlık Müdürlüğü completes A (on time), the Kaymakamlık and the Belediye hand back.
    saglik, kay, c_bel = (await assignment_of(a, "ILM-06-saglik"), await assignment_of(a, "KAY-1231"),
                          await assignment_of(cc, "BEL-ILCE-1231"))
    await step(3,
               lambda: bus.handle(c.Complete(u["saglik06"], a, saglik, "Aydınlatma direkleri onarıldı.")),
               lambda: bus.handle(c.HandBack(u["cankaya.kay"], a, kay, "Bu iş kaymakamlığın görevi değildir.")),
               lambda: bus.handle(c.HandBack(u["cankaya.bel"], cc, c_bel, "Çukur karayollarının yolunda kalıyor.")))
    # 4 February 21:30 UTC: MİGM routes C to the same Belediye again (a second assignment of the same unit).
    await step(1, lambda: bus.handle(c.RouteRequest(u["migm"], cc, (c.Target(units["BEL-ILCE-1231"]),))))
    # 24 February 21:30 UTC: the Belediye completes A late (due 14 February); MİGM routes D to İzmir Büyükşehir.
    a_bel = await assignment_of(a, "BEL-ILCE-1231")
    await step(20,
               lambda: bus.handle(c.Complete(u["cankaya.bel"], a, a_bel, "Lambalar değiştirildi.")),
               lambda: bus.handle(c.RouteRequest(u["migm"], d, (c.Target(units["BEL-BB-35"]),))))
    # 25 February 21:30 UTC: the Valilik completes its own part of A; MİGM concludes A.
    a_val = await assignment_of(a, "VAL-06")
    await step(1,
               lambda: bus.handle(c.Complete(u["ankara"], a, a_val, "Alt birimler gereğini yaptı.")),
               lambda: bus.handle(c.Conclude(u["migm"], a, "Aydınlatma sorunu giderildi.")))
    assert steps == 7

    # Hand-computed at 25 February 21:30 UTC (all dates, MİGM):
    now = clock.now
    vol = _values(await section_tables(engine, Scope(None), Filters(), now, Section.VOLUMES))
    assert [(v["label"], v["count"]) for v, _ in vol["hacim-durum"]] == [
        ("Sonuçlanan", 1), ("Yönlendirilen", 3)]  # A concluded; B, C, D routed
    # C was routed to the Belediye twice: still one request there.
    assert sorted((v["unit"], v["count"]) for v, _ in vol["hacim-birim"]) == [
        ("Ankara Valiliği", 2), ("Ankara İl Sağlık Müdürlüğü", 1), ("Çankaya Belediyesi", 2),
        ("Çankaya Kaymakamlığı", 1), ("İzmir Büyükşehir Belediyesi", 1)]
    # January (Istanbul days) holds A, B, C; D fell on 1 February.
    jan = _values(await section_tables(engine, Scope(None), Filters(start=date(2027, 1, 1), end=date(2027, 1, 31)),
                                       now, Section.VOLUMES))
    assert [(v["label"], v["count"]) for v, _ in jan["hacim-kanal"]] == [("SMS", 1), ("USSD", 1), ("Web", 1)]
    bn = _values(await section_tables(engine, Scope(None), Filters(), now, Section.BOTTLENECKS))
    ages = {v["unit"]: (v["b0"], v["b1"], v["b2"], v["b3"], v["overdue"], v["total"]) for v, _ in bn["darbogaz-yas"]}
    # Open: B at the Valilik since 30 Jan (26 whole days, overdue since 14 Feb); C at the Belediye since 4 Feb
    # (21 days, overdue since 19 Feb); D at İzmir Büyükşehir since 24 Feb (1 day, not due).
    assert ages == {"Ankara Valiliği": (0, 0, 1, 0, 1, 1), "Çankaya Belediyesi": (0, 0, 1, 0, 1, 1),
                    "İzmir Büyükşehir Belediyesi": (1, 0, 0, 0, 0, 1)}
    back = {v["unit"]: (v["total"], v["back"]) for v, _ in bn["darbogaz-iade"]}
    assert back == {"Ankara Valiliği": (2, 0), "Ankara İl Sağlık Müdürlüğü": (1, 0), "Çankaya Belediyesi": (3, 1),
                    "Çankaya Kaymakamlığı": (1, 1), "İzmir Büyükşehir Belediyesi": (1, 0)}
    on_time = {v["unit"]: (v["on"], v["late_done"], v["late_open"]) for v, _ in bn["darbogaz-zamaninda"]}
    # The Valilik completed A on 26 Feb (due 14 Feb): late; the Belediye's A late too, its C open and overdue.
    assert on_time == {"Ankara Valiliği": (0, 1, 1), "Ankara İl Sağlık Müdürlüğü": (1, 0, 0),
                       "Çankaya Belediyesi": (0, 1, 1)}


def test_kcs_numbers_agree_with_the_migration_and_cover_the_vocabulary():
    """The Python side (filters.kcs_codes) and the SQL side (0012's CASE expression) number kind, state and
    channel the same way, and every value the vocabulary knows has a number."""
    from workflow.reports import schema
    from workflow.reports.filters import kcs_codes

    assert (schema.KCS_KINDS, schema.KCS_STATES, schema.KCS_CHANNELS) == (KEYED.KINDS, KEYED.STATES, KEYED.CHANNELS)
    assert set(schema.KCS_KINDS) == {k.value for k in RequestKind}
    assert set(schema.KCS_STATES) == {s.value for s in RequestState}
    assert set(schema.KCS_CHANNELS) == {c.value for c in Channel}
    assert sorted(kcs_codes(Filters())) == list(range(36))
    assert kcs_codes(Filters(kind=RequestKind.ISTEK, state=RequestState.SONUCLANAN, channel=Channel.SMS)) == [
        (1 * 3 + 2) * 3 + 1]
    assert len(kcs_codes(Filters(channel=Channel.USSD))) == 12


async def test_folding_keeps_the_figures(engine: AsyncEngine):
    """PostgreSQL appends changes; folding moves them into the counts and changes no figure."""
    world = await build_world(engine)
    clock = Clock()
    services = bootstrap(load_settings(env={}), engine=engine, clock=clock)
    for kind in ("sikayet", "istek", "sikayet"):
        number = await services.commands.handle(c.FileRequest(world.muhtars[0], kind, "Bir talep metni, yeterince uzun."))
    await services.commands.handle(c.RouteRequest(world.users["migm"], number, (c.Target(world.units["VAL-06"]),)))

    async def pending() -> int:
        async with engine.connect() as conn:
            return sum([(await conn.execute(text(f"SELECT count(*) FROM {d.name}"))).scalar_one()
                        for _, d, _, _ in COUNT_TABLES])

    before = await pending()
    if engine.dialect.name == "postgresql":
        assert before > 0  # the triggers only appended
    else:
        assert before == 0  # SQLite's triggers add at once
    figures = _values(await section_tables(engine, Scope(None), Filters(), clock.now, Section.VOLUMES))
    await counts.fold(engine)
    assert await pending() == 0
    await recount(engine)
    assert _values(await section_tables(engine, Scope(None), Filters(), clock.now, Section.VOLUMES)) == figures
    assert [(v["label"], v["count"]) for v, _ in figures["hacim-tur"]] == [("İstek", 1), ("Şikâyet", 2)]


async def test_hourly_housekeeping_folds_the_pending_changes(engine: AsyncEngine):
    """Where nobody opens a report page, the workflow service's hourly chores keep the delta tables small."""
    world = await build_world(engine)
    services = bootstrap(load_settings(env={}), engine=engine, clock=Clock())
    await services.commands.handle(c.FileRequest(world.muhtars[0], "istek", "Bir talep metni, yeterince uzun."))
    await housekeeping(engine)
    async with engine.connect() as conn:
        pending = [(await conn.execute(text(f"SELECT count(*) FROM {d.name}"))).scalar_one()
                   for _, d, _, _ in COUNT_TABLES]
        filed = (await conn.execute(text(f"SELECT sum(n) FROM {volume_days.name}"))).scalar_one()
    assert pending == [0] * len(COUNT_TABLES)
    assert filed == 1


@pytest.mark.parametrize(
    ("start", "end", "months", "edges"),
    [
        (None, None, (None, None), ()),
        (date(2027, 1, 1), date(2027, 1, 31), ("2027-01", "2027-01"), ()),
        (date(2027, 1, 2), date(2027, 1, 31), None, ((date(2027, 1, 2), date(2027, 1, 31)),)),
        (date(2027, 1, 15), date(2027, 3, 31), ("2027-02", "2027-03"), ((date(2027, 1, 15), date(2027, 1, 31)),)),
        (date(2027, 1, 15), date(2027, 2, 10), ("2027-02", "2027-01"),
         ((date(2027, 1, 15), date(2027, 1, 31)), (date(2027, 2, 1), date(2027, 2, 10)))),
        (None, date(2024, 2, 28), (None, "2024-01"), ((date(2024, 2, 1), date(2024, 2, 28)),)),
        (None, date(2024, 2, 29), (None, "2024-02"), ()),
        (date(2026, 12, 31), None, ("2027-01", None), ((date(2026, 12, 31), date(2026, 12, 31)),)),
    ],
)
def test_a_range_splits_into_whole_months_and_end_days(start, end, months, edges):
    s = counts.split(Filters(start=start, end=end))
    if months is None:
        assert s.no_months
    else:
        assert (s.first_month, s.last_month) == months and not s.no_months
    assert s.edges == edges


async def test_corrections_written_directly_move_the_counts(engine: AsyncEngine):
    """Whichever code writes: a re-dated request moves its own and its assignments' counts to the other
    month and day, a unit moved or an assignment deleted takes its counts along."""
    rw = await build_report_world(engine)
    now = NOW

    async def write(sql: str, **params: Any) -> None:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params)

    async def same_as_base() -> None:
        await recount(engine)
        for f in (Filters(), Filters(start=date(2025, 4, 1), end=date(2026, 5, 31)), Filters(start=date(2026, 6, 2))):
            for section in (Section.VOLUMES, Section.BOTTLENECKS):
                counted = _values(await section_tables(engine, Scope(None), f, now, section))
                assert counted == await from_base(engine, Scope(None), f, now, section), (section, f)

    # Request 5 (İzmir, filed 1 May 2026, one completed assignment) re-dated to 30 April 2025.
    await write("UPDATE requests SET created_at = :t WHERE id = :id",
                t=datetime(2025, 4, 30, 9, 0, tzinfo=UTC), id=rw.requests[5])
    await same_as_base()
    may_2026 = Filters(start=date(2026, 5, 1), end=date(2026, 5, 31))
    units_in_may = _values(await section_tables(engine, Scope(None), may_2026, now, Section.VOLUMES))["hacim-birim"]
    assert [v["unit"] for v, _ in units_in_may] == ["Çankaya Belediyesi"]  # 7b only; 5b moved to 2025
    # 2b moved from the Belediye to the Sağlık Müdürlüğü; 3b (handed back) deleted.
    await write("UPDATE assignments SET unit_id = :u WHERE request_id = :r",
                u=rw.unit("ILM-06-saglik"), r=rw.requests[2])
    await write("DELETE FROM assignments WHERE request_id = :r AND state = 'handed_back'", r=rw.requests[3])
    await same_as_base()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # the histogram path is PostgreSQL's
async def test_slowest_units_from_the_histogram(engine: AsyncEngine):
    """The candidates read from the work-time histogram give the same slowest units, with the same exact
    percentiles, as every completion's work time — also when the cut leaves units out."""
    from workflow.reports.durations import unit_work_per_unit

    await build_report_world(engine)
    async with engine.connect() as conn:
        assert bottlenecks.histogram_usable(conn, Filters())
        every = await unit_work_per_unit(conn, Scope(None), Filters())
        for limit in (1, 2, 3, 4, 10):
            candidates = await bottlenecks.slowest_candidates(conn, Scope(None), limit)
            assert len(candidates.rows) == min(limit, 4)  # the medians fall on four different days
            expected = bottlenecks.slowest(every, limit)
            assert [r.values for r in bottlenecks.slowest(candidates, limit).rows] == [r.values for r in expected.rows]
    # Hand-computed (fixture.py): İzmir Büyükşehir 28 days, the Valilik 5, Sağlık 3, Çankaya Belediyesi 1.
    assert [(r.values["unit"], r.values["median"] // 86400) for r in expected.rows] == [
        ("İzmir Büyükşehir Belediyesi", 28), ("Ankara Valiliği", 5), ("Ankara İl Sağlık Müdürlüğü", 3),
        ("Çankaya Belediyesi", 1)]
