"""Staff-side fixtures: the small world of tests/integration/world.py and a bootstrapped service layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import World, build_world
from workflow.bootstrap import Services, bootstrap
from workflow.domain import commands as c
from workflow.settings import Settings, load_settings

DESCRIPTION = "Mahallemizdeki parkın aydınlatması yetersiz, akşamları karanlık kalıyor."


class StepClock:
    """A clock the test moves by hand: every request gets a distinct, later time."""

    def __init__(self, start: datetime | None = None) -> None:
        # After the world's accounts were created (real time), so sessions are not older than passwords.
        self.now = start or datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def settings() -> Settings:
    return load_settings(env={})


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await build_world(engine)


@pytest.fixture
def services(engine: AsyncEngine, settings: Settings, clock: StepClock) -> Services:
    return bootstrap(settings, engine=engine, clock=clock)


async def file(services: Services, world: World, text: str = DESCRIPTION, muhtar: int = 0) -> int:
    number: int = await services.commands.handle(c.FileRequest(world.muhtars[muhtar], "sikayet", text))
    return number


async def assignment_id(services: Services, number: int, unit_id: int) -> str:
    async with services.uow() as uow:
        request = await uow.requests.get_by_number(number)
    assert request is not None
    open_one = request.open_assignment_for(unit_id)
    if open_one is not None:
        return open_one.id
    return [x for x in request.assignments if x.unit.id == unit_id][-1].id
