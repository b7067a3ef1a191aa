"""The trigger-kept report rows follow a request through the real service layer (fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import build_world
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
