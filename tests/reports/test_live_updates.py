"""The trigger-kept report rows follow a request through the real service layer (fake clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import build_world
from tests.reports.fixture import NOW, build_report_world
from workflow.adapters import orm
from workflow.bootstrap import bootstrap
from workflow.domain import commands as c
from workflow.reports.filters import Filters
from workflow.reports.queries import Section, section_tables
from workflow.reports.scope import Scope
from workflow.settings import load_settings

DAY = 86400


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_request_through_its_life_moves_the_figures(engine: AsyncEngine):
    world = await build_world(engine)
    clock = Clock()
    services = bootstrap(load_settings(env={}), engine=engine, clock=clock)
    bus, u = services.commands, world.users

    async def figures(section: Section) -> dict[str, list[dict]]:
        tables = await section_tables(engine, Scope(None), Filters(), clock.now, section)
        return {t.name: [r.values for r in t.rows] for t in tables}

    number = await bus.handle(c.FileRequest(world.muhtars[0], "ihbar", "Köprünün korkulukları kırılmış, tehlikeli."))
    volumes = await figures(Section.VOLUMES)
    assert volumes["hacim-durum"] == [{"label": "Bekleyen", "count": 1}]

    clock.now += timedelta(days=2)
    await bus.handle(c.RouteRequest(u["migm"], number, (c.Target(world.units["BEL-ILCE-1231"]),)))
    async with services.uow() as uow:
        request = await uow.requests.get_by_number(number)
    assert request is not None
    assignment = request.assignments[0].id
    clock.now += timedelta(days=3)
    await bus.handle(c.Complete(u["cankaya.bel"], number, assignment, "Korkuluklar onarıldı."))
    clock.now += timedelta(days=1)
    await bus.handle(c.Conclude(u["migm"], number, "Belediye korkulukları onardı."))

    volumes = await figures(Section.VOLUMES)
    assert volumes["hacim-durum"] == [{"label": "Sonuçlanan", "count": 1}]
    durations = await figures(Section.DURATIONS)
    expected = {"sure-yonlendirme": 2, "sure-birim": 3, "sure-sonuclandirma": 1, "sure-toplam": 6}
    for name, days in expected.items():
        (row,) = durations[name]
        assert (row["n"], round(row["median"] / DAY, 3), round(row["p90"] / DAY, 3)) == (1, days, days), name


async def test_a_hand_back_leaves_the_work_figures_and_the_completion_counts(engine: AsyncEngine):
    """Routed to two units: the Valilik hands it back, the Belediye completes after 4 days; MİGM concludes."""
    world = await build_world(engine)
    clock = Clock()
    services = bootstrap(load_settings(env={}), engine=engine, clock=clock)
    bus, u = services.commands, world.users
    number = await bus.handle(c.FileRequest(world.muhtars[0], "sikayet", "Parktaki aydınlatma yanmıyor, karanlık."))
    clock.now += timedelta(days=1)
    targets = (c.Target(world.units["VAL-06"]), c.Target(world.units["BEL-ILCE-1231"]))
    await bus.handle(c.RouteRequest(u["migm"], number, targets))
    async with services.uow() as uow:
        request = await uow.requests.get_by_number(number)
    assert request is not None
    by_unit = {a.unit.id: a.id for a in request.assignments}
    clock.now += timedelta(days=2)
    await bus.handle(c.HandBack(u["ankara"], number, by_unit[world.units["VAL-06"]],
                                "Bu konu belediyenin görev alanındadır, valiliğin değil."))
    clock.now += timedelta(days=2)
    await bus.handle(c.Complete(u["cankaya.bel"], number, by_unit[world.units["BEL-ILCE-1231"]], "Lambalar yandı."))
    clock.now += timedelta(days=3)
    await bus.handle(c.Conclude(u["migm"], number, "Belediye aydınlatmayı onardı."))

    tables = {t.name: t for t in await section_tables(engine, Scope(None), Filters(), clock.now, Section.DURATIONS)}
    work = {r.values["unit"]: (r.values["n"], r.values["median"] / DAY) for r in tables["sure-birim"].rows}
    assert work == {"Çankaya Belediyesi": (1, 4)}  # the hand-back is not completed work
    assert [(r.values["province"], r.values["n"]) for r in tables["sure-birim-il"].rows] == [("Ankara", 1)]
    steps = {name: [(r.values["n"], r.values["median"] / DAY) for r in tables[name].rows]
             for name in ("sure-yonlendirme", "sure-sonuclandirma", "sure-toplam")}
    assert steps == {"sure-yonlendirme": [(1, 1)], "sure-sonuclandirma": [(1, 3)], "sure-toplam": [(1, 8)]}
    b = {t.name: t for t in await section_tables(engine, Scope(None), Filters(), clock.now, Section.BOTTLENECKS)}
    back = {r.values["unit"]: (r.values["total"], r.values["back"]) for r in b["darbogaz-iade"].rows}
    assert back == {"Ankara Valiliği": (1, 1), "Çankaya Belediyesi": (1, 0)}


async def test_report_work_follows_corrections_of_assignments_and_requests(engine: AsyncEngine):
    """report_work is kept by triggers, whichever code writes: completions add a row, undoing one removes it,
    corrected times and units move it, a corrected filing time moves it between date ranges."""
    rw = await build_report_world(engine)
    a = orm.assignments.c

    async def work() -> dict[str, tuple[int, float, float]]:
        tables = await section_tables(engine, Scope(None), Filters(), NOW, Section.DURATIONS)
        per_unit = next(t for t in tables if t.name == "sure-birim")
        return {r.values["unit"]: (r.values["n"], r.values["median"] / DAY, r.values["p90"] / DAY)
                for r in per_unit.rows}

    async def write(statement: Any) -> None:
        async with engine.begin() as conn:
            await conn.execute(statement)

    def of(number: int, code: str) -> Any:
        return and_(a.request_id == rw.requests[number], a.unit_id == rw.unit(code))

    before = await work()
    assert before["Ankara Valiliği"] == (1, 5, 5)  # 1v; 3v is still open
    # 3v completed on 22 June after 10 days: the Valilik now has 5 and 10 days.
    await write(update(orm.assignments).where(of(3, "VAL-06"))
                .values(state="completed", completed_at=datetime(2026, 6, 22, 9, 0, tzinfo=UTC)))
    assert (await work())["Ankara Valiliği"] == (2, 5, 10)
    # 1v's completion undone (a correction): only 3v's 10 days remain.
    await write(update(orm.assignments).where(of(1, "VAL-06")).values(state="in_progress", completed_at=None))
    assert (await work())["Ankara Valiliği"] == (1, 10, 10)
    # 3v's completion time corrected to 14 June: 2 days.
    await write(update(orm.assignments).where(of(3, "VAL-06"))
                .values(completed_at=datetime(2026, 6, 14, 9, 0, tzinfo=UTC)))
    assert (await work())["Ankara Valiliği"] == (1, 2, 2)
    # 2b (1 day) moved to the Sağlık Müdürlüğü, which already had 3 days: Çankaya Belediyesi has no work.
    await write(update(orm.assignments).where(of(2, "BEL-ILCE-1231")).values(unit_id=rw.unit("ILM-06-saglik")))
    after = await work()
    assert after["Ankara İl Sağlık Müdürlüğü"] == (2, 1, 3) and "Çankaya Belediyesi" not in after
    # Request 5 (İzmir Büyükşehir's 28 days) re-dated to 2025: out of a 2026 date range, in an all-dates one.
    await write(update(orm.requests).where(orm.requests.c.id == rw.requests[5])
                .values(created_at=datetime(2025, 4, 30, 9, 0, tzinfo=UTC)))
    tables = await section_tables(engine, Scope(None), Filters(start=date(2026, 1, 1)), NOW, Section.DURATIONS)
    in_2026 = {r.values["unit"] for r in next(t for t in tables if t.name == "sure-birim").rows}
    assert "İzmir Büyükşehir Belediyesi" not in in_2026
    assert (await work())["İzmir Büyükşehir Belediyesi"] == (1, 28, 28)
