"""Fixtures of the inbound tests: a small cast in a real migrated database, a settable clock, services."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.people import add_kizilay_muhtars
from workflow.adapters import orm
from workflow.bootstrap import Services, bootstrap
from workflow.domain import commands
from workflow.settings import InboundSettings, Settings, load_settings

# Wednesday 25 November 2026, 12:00 in Istanbul.
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
RATE_LIMIT = 5

OWNER_PHONE = "+905321234567"
OTHER_MUHTAR_PHONE = "+905421112233"
UNREGISTERED_PHONE = "+905559998877"
DESCRIPTION = "Mahallemizin ana yolundaki çukurlar araçlara zarar veriyor, onarım bekliyoruz."

UNITS = (
    ("MIGM", "migm", "Mahalli İdareler Genel Müdürlüğü", None),
    ("VAL-06", "valilik", "Ankara Valiliği", None),
    ("BEL-ILCE-1231", "belediye", "Çankaya Belediyesi", None),
)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Cast:
    units: dict[str, int] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    owner: str = ""
    other: str = ""


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = load_settings(env={}, var_dir=tmp_path)
    return replace(base, inbound=InboundSettings(commands_per_hour=RATE_LIMIT))


@pytest.fixture
def services(engine: AsyncEngine, clock: Clock, settings: Settings) -> Services:
    return bootstrap(settings, engine=engine, clock=clock)


@pytest.fixture
async def cast(engine: AsyncEngine) -> Cast:
    cast = Cast()
    now = START - timedelta(days=30)
    async with engine.begin() as conn:
        for code, kind, name, parent in UNITS:
            result = await conn.execute(
                insert(orm.units).values(
                    code=code,
                    kind=kind,
                    belediye_kind="ilce" if kind == "belediye" else None,
                    name=name,
                    parent_id=cast.units[parent] if parent else None,
                    province_id=None if kind == "migm" else 6,
                    active=True,
                )
            )
            cast.units[code] = int(result.inserted_primary_key[0])
            user_id = uuid4().hex
            await conn.execute(
                insert(orm.staff_users).values(
                    id=user_id,
                    username=code.lower(),
                    password_hash="not-a-real-hash",
                    full_name=f"{name} personeli",
                    unit_id=cast.units[code],
                    role="clerk",
                    active=True,
                    created_at=now,
                    updated_at=now,
                    password_changed_at=now,
                )
            )
            cast.users[code] = user_id
        ids = await add_kizilay_muhtars(
            conn,
            (
                ("Ayşe Yılmaz", "10000000146", OWNER_PHONE),
                ("Mehmet Öztürk", "20000000282", OTHER_MUHTAR_PHONE),
            ),
            now,
        )
    cast.owner, cast.other = ids
    return cast


async def file_on_web(services: Services, muhtar_id: str, description: str = DESCRIPTION) -> int:
    number = await services.commands.handle(commands.FileRequest(muhtar_id, "istek", description))
    return int(number)
