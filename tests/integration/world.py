"""A small registry and cast for integration tests: MİGM, two Valilik with sub-units, Belediyeler, muhtars."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.people import add_kizilay_muhtars
from workflow.adapters import orm
from workflow.domain.units import StaffRole
from workflow.staff_accounts import NewStaffUser, create_staff_user

PASSWORD = "Test.Parola.1"

# code, kind, name, parent code, province
UNITS = (
    ("MIGM", "migm", "Mahalli İdareler Genel Müdürlüğü", None, None),
    ("VAL-06", "valilik", "Ankara Valiliği", None, 6),
    ("ILM-06-saglik", "il_mudurlugu", "Ankara İl Sağlık Müdürlüğü", "VAL-06", 6),
    ("KAY-1231", "kaymakamlik", "Çankaya Kaymakamlığı", "VAL-06", 6),
    ("BEL-ILCE-1231", "belediye", "Çankaya Belediyesi", None, 6),
    ("VAL-35", "valilik", "İzmir Valiliği", None, 35),
    ("ILM-35-saglik", "il_mudurlugu", "İzmir İl Sağlık Müdürlüğü", "VAL-35", 35),
    ("BEL-BB-35", "belediye", "İzmir Büyükşehir Belediyesi", None, 35),
)

USERS = (
    ("migm", "MIGM", StaffRole.CLERK),
    ("admin", "MIGM", StaffRole.ADMIN),
    ("ankara", "VAL-06", StaffRole.CLERK),
    ("saglik06", "ILM-06-saglik", StaffRole.CLERK),
    ("cankaya.kay", "KAY-1231", StaffRole.CLERK),
    ("cankaya.bel", "BEL-ILCE-1231", StaffRole.CLERK),
    ("izmir", "VAL-35", StaffRole.CLERK),
    ("saglik35", "ILM-35-saglik", StaffRole.CLERK),
    ("izmir.bb", "BEL-BB-35", StaffRole.CLERK),
)

MUHTARS = (
    ("Ayşe Yılmaz", "10000000146", "+905321234567"),
    ("Mehmet Öztürk", "20000000282", "+905421112233"),
)


@dataclass
class World:
    units: dict[str, int] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    muhtars: list[str] = field(default_factory=list)


async def build_world(engine: AsyncEngine) -> World:
    world = World()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for code, kind, name, parent, province in UNITS:
            result = await conn.execute(
                insert(orm.units).values(
                    code=code,
                    kind=kind,
                    belediye_kind="ilce" if kind == "belediye" else None,
                    name=name,
                    parent_id=world.units[parent] if parent else None,
                    province_id=province,
                    active=True,
                )
            )
            world.units[code] = result.inserted_primary_key[0]
        world.muhtars += await add_kizilay_muhtars(conn, MUHTARS, now)
        for username, unit, role in USERS:
            user = NewStaffUser(username, f"{username} kullanıcısı", unit, role, PASSWORD)
            world.users[username] = await create_staff_user(conn, user, now)
    return world
