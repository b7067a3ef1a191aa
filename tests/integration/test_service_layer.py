"""The service layer on the real databases (SQLite and PostgreSQL): life cycle, outbox, concurrency."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import World, build_world
from workflow.adapters import orm
from workflow.adapters.unit_of_work import SqlAlchemyUnitOfWork
from workflow.bootstrap import Services, bootstrap
from workflow.domain import commands as c
from workflow.domain.errors import ConcurrencyConflict, InvalidState, NotAllowed, NotFound
from workflow.domain.model import AssignmentState, RequestState
from workflow.service_layer import views
from workflow.settings import load_settings

DESCRIPTION = "Mahallemizdeki parkın aydınlatması yetersiz, akşamları karanlık kalıyor."


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await build_world(engine)


@pytest.fixture
def services(engine: AsyncEngine) -> Services:
    return bootstrap(load_settings(env={}), engine=engine)


async def outbox_topics(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(orm.outbox.c.topic).order_by(orm.outbox.c.id))
        return [r.topic for r in rows]


async def load(services: Services, number: int):  # type: ignore[no-untyped-def]
    async with services.uow() as uow:
        return await uow.requests.get_by_number(number)


async def test_full_life_cycle_is_persisted_with_its_events(
    services: Services, world: World, engine: AsyncEngine
):
    bus, u, units = services.commands, world.users, world.units
    number = await bus.handle(c.FileRequest(world.muhtars[0], "sikayet", DESCRIPTION))
    await bus.handle(c.SetPriority(u["migm"], number, "acil"))
    await bus.handle(
        c.RouteRequest(
            u["migm"],
            number,
            (c.Target(units["VAL-06"], "İnceleyiniz."), c.Target(units["BEL-ILCE-1231"], "")),
        )
    )
    request = await load(services, number)
    valilik = request.open_assignment_for(units["VAL-06"])
    belediye = request.open_assignment_for(units["BEL-ILCE-1231"])
    await bus.handle(
        c.Forward(
            u["ankara"],
            number,
            valilik.id,
            (c.Target(units["ILM-06-saglik"]), c.Target(units["KAY-1231"], "Acil")),
        )
    )
    request = await load(services, number)
    for user, code in (("saglik06", "ILM-06-saglik"), ("cankaya.kay", "KAY-1231")):
        child = request.open_assignment_for(units[code])
        await bus.handle(c.Complete(u[user], number, child.id, "Gereken yapıldı.", ("att-" + code,)))
    await bus.handle(c.Complete(u["ankara"], number, valilik.id, "Alt birimler işlemi tamamladı."))
    await bus.handle(c.Complete(u["cankaya.bel"], number, belediye.id, "Çizgiler yenilendi."))
    await bus.handle(c.Conclude(u["migm"], number, "Talebiniz yerine getirildi.", ("att-KAY-1231",)))

    request = await load(services, number)
    assert request.state is RequestState.SONUCLANAN
    assert request.public_attachment_ids == ["att-KAY-1231"]
    assert {a.state for a in request.assignments} == {AssignmentState.COMPLETED}
    assert len(request.assignments) == 4
    assert request.version == 9  # one save per command
    assert [m.action.value for m in request.movements] == [
        "filed", "priority_set", "routed", "routed", "forwarded", "forwarded",
        "completed", "completed", "completed", "completed", "concluded",
    ]  # fmt: skip
    assert await outbox_topics(engine) == [
        "events.request.filed",
        "events.request.priority_set",
        "events.request.routed",
        "events.assignment.forwarded",
        "events.assignment.completed",
        "events.assignment.completed",
        "events.assignment.completed",
        "events.assignment.completed",
        "events.request.concluded",
    ]
    async with engine.connect() as conn:
        payload = json.loads(
            (
                await conn.execute(select(orm.outbox.c.payload).order_by(orm.outbox.c.id.desc()).limit(1))
            ).scalar_one()
        )
    assert (
        payload["number"] == number
        and payload["direct"] is False
        and payload["muhtar_id"] == world.muhtars[0]
    )


async def test_numbers_are_sequential_and_never_reused(services: Services, world: World):
    first = await services.commands.handle(c.FileRequest(world.muhtars[0], "istek", DESCRIPTION))
    with pytest.raises(Exception):  # noqa: B017 - a too-short text fails after a number was drawn
        await services.commands.handle(c.FileRequest(world.muhtars[0], "istek", "kısa"))
    second = await services.commands.handle(c.FileRequest(world.muhtars[1], "ihbar", DESCRIPTION))
    assert second > first


async def test_a_failed_action_writes_nothing(services: Services, world: World, engine: AsyncEngine):
    number = await services.commands.handle(c.FileRequest(world.muhtars[0], "istek", DESCRIPTION))
    with pytest.raises(NotAllowed):
        await services.commands.handle(
            c.RouteRequest(world.users["migm"], number, (c.Target(world.units["KAY-1231"]),))
        )
    request = await load(services, number)
    assert request.version == 1 and request.assignments == [] and len(request.movements) == 1
    assert await outbox_topics(engine) == ["events.request.filed"]


async def test_a_stale_screen_gets_a_reload_error(services: Services, world: World):
    number = await services.commands.handle(c.FileRequest(world.muhtars[0], "istek", DESCRIPTION))
    await services.commands.handle(c.SetPriority(world.users["migm"], number, "yuksek", expected_version=1))
    with pytest.raises(ConcurrencyConflict) as caught:
        await services.commands.handle(c.SetPriority(world.users["migm"], number, "acil", expected_version=1))
    assert "yenileyip" in caught.value.message
    assert (await load(services, number)).priority.value == "yuksek"


async def test_two_clerks_at_once_one_wins(pg_engine: AsyncEngine):
    """Two transactions load the same version; the second save finds the version moved (PostgreSQL)."""
    world = await build_world(pg_engine)
    services = bootstrap(load_settings(env={}), engine=pg_engine)
    number = await services.commands.handle(c.FileRequest(world.muhtars[0], "istek", DESCRIPTION))
    migm = world.users["migm"]
    async with SqlAlchemyUnitOfWork(pg_engine) as first, SqlAlchemyUnitOfWork(pg_engine) as second:
        actor = await first.directory.staff_actor(migm)
        a = await first.requests.get_by_number(number)
        b = await second.requests.get_by_number(number)
        a.set_priority(actor, "acil", services.clock())
        b.set_priority(actor, "dusuk", services.clock())
        await first.commit()
        with pytest.raises(ConcurrencyConflict):
            await second.commit()
    request = await load(services, number)
    assert request.priority.value == "acil" and request.version == 2


async def test_double_submission_creates_one_request(services: Services, world: World, engine: AsyncEngine):
    cmd = c.FileRequest(world.muhtars[0], "istek", DESCRIPTION, idempotency_key="form-token-1")
    if engine.dialect.name == "postgresql":
        numbers = await asyncio.gather(*(services.commands.handle(cmd) for _ in range(3)))
    else:
        numbers = [await services.commands.handle(cmd) for _ in range(3)]
    assert len(set(numbers)) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(orm.requests))).scalar_one() == 1


async def test_visibility_and_access_log(services: Services, world: World, engine: AsyncEngine):
    number = await services.commands.handle(c.FileRequest(world.muhtars[0], "istek", DESCRIPTION))
    await services.commands.handle(
        c.RouteRequest(world.users["migm"], number, (c.Target(world.units["VAL-06"]),))
    )
    now = services.clock()
    actor, request = await views.request_for_staff(
        services.uow(), world.users["ankara"], number, "10.0.0.5", now
    )
    assert request.number == number and actor.unit.name == "Ankara Valiliği"
    for outsider in ("izmir", "saglik06", "cankaya.bel"):
        with pytest.raises(NotFound):
            await views.request_for_staff(services.uow(), world.users[outsider], number, None, now)
    with pytest.raises(NotFound):
        await views.request_for_muhtar(services.uow(), world.muhtars[1], number, None, now)
    own = await views.request_for_muhtar(services.uow(), world.muhtars[0], number, None, now)
    assert own.number == number
    async with engine.connect() as conn:
        rows = (await conn.execute(select(orm.data_access_log))).all()
    assert [(r.viewer_kind, r.source_addr) for r in rows] == [("staff", "10.0.0.5"), ("muhtar", None)]


async def test_muhtar_lists_by_state_newest_first(services: Services, world: World):
    numbers = [
        await services.commands.handle(c.FileRequest(world.muhtars[0], "istek", DESCRIPTION))
        for _ in range(3)
    ]
    await services.commands.handle(
        c.RouteRequest(world.users["migm"], numbers[1], (c.Target(world.units["VAL-06"]),))
    )
    counts = await views.muhtar_request_counts(services.engine, world.muhtars[0])
    assert counts == {RequestState.BEKLEYEN: 2, RequestState.YONLENDIRILEN: 1, RequestState.SONUCLANAN: 0}
    pending = await views.muhtar_requests(services.engine, world.muhtars[0], (RequestState.BEKLEYEN,))
    assert [s.number for s in pending] == [numbers[2], numbers[0]]
    assert await views.muhtar_requests(services.engine, world.muhtars[1]) == []


async def test_concluded_request_cannot_change(services: Services, world: World):
    number = await services.commands.handle(c.FileRequest(world.muhtars[0], "istek", DESCRIPTION))
    await services.commands.handle(
        c.Conclude(world.users["migm"], number, "Mükerrer talep; 1000 ile birleştirildi.")
    )
    with pytest.raises(InvalidState):
        await services.commands.handle(
            c.RouteRequest(world.users["migm"], number, (c.Target(world.units["VAL-06"]),))
        )
