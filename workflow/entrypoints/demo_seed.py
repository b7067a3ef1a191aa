"""`muhtar demo-seed`: the demo world of the embedded default — registry, a few muhtars, staff, requests.

Idempotent: a marker row in ``counters`` says it ran. Refused in production mode.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import and_, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from stdnum.tr import tckimlik

from workflow.adapters import orm
from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.adapters.repository import count
from workflow.bootstrap import Services, bootstrap
from workflow.domain import commands
from workflow.domain.units import StaffRole
from workflow.mail.provisioning import assign_addresses
from workflow.registry.load import load_registry
from workflow.settings import Settings
from workflow.staff_accounts import NewStaffUser, create_staff_user

logger = logging.getLogger(__name__)

MARKER = "demo_seed"
DEMO_PASSWORD = "Demo.Parola.2026"


def _tckn(body: str) -> str:
    return body + str(tckimlik.calc_check_digits(body))


@dataclass(frozen=True)
class DemoMuhtar:
    full_name: str
    tckn: str
    phone_e164: str
    province: str
    district: str


DEMO_MUHTARS = (
    DemoMuhtar("Ayşe Yılmaz", _tckn("100000001"), "+905321234567", "Ankara", "Çankaya"),
    DemoMuhtar("Mehmet Öztürk", _tckn("200000002"), "+905421112233", "İzmir", "Bornova"),
    DemoMuhtar("İsmail Çağrı Şahin", _tckn("300000003"), "+905051234567", "Bolu", "Mudurnu"),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    unit_code: str  # may name a district: resolved in _unit_code
    role: StaffRole = StaffRole.CLERK


DEMO_USERS = (
    DemoUser("migm", "Zeynep Kaya (MİGM)", "MIGM"),
    DemoUser("admin", "Sistem Yöneticisi", "MIGM", StaffRole.ADMIN),
    DemoUser("ankara.valilik", "Ali Demir (Ankara Valiliği)", "VAL-06"),
    DemoUser("ankara.saglik", "Elif Arslan (Ankara İl Sağlık Müdürlüğü)", "ILM-06-saglik"),
    DemoUser("cankaya.kaymakamlik", "Murat Çelik (Çankaya Kaymakamlığı)", "KAY:Ankara:Çankaya"),
    DemoUser("cankaya.belediye", "Hülya Aydın (Çankaya Belediyesi)", "BEL-ILCE:Ankara:Çankaya"),
    DemoUser("izmir.valilik", "Can Yıldız (İzmir Valiliği)", "VAL-35"),
)


def demo_logins() -> list[str]:
    lines = [f"  personel  {u.username:<22} parola: {DEMO_PASSWORD}" for u in DEMO_USERS]
    lines += [
        f"  muhtar    {m.full_name:<22} TCKN: {m.tckn}  (onay kodu SMS simülatöründe)" for m in DEMO_MUHTARS
    ]
    return lines


async def _district_id(conn: AsyncConnection, province: str, district: str) -> int:
    k = orm.muhtarliks
    query = select(k.c.district_id).where(and_(k.c.province_name == province, k.c.district_name == district))
    value = (await conn.execute(query.limit(1))).scalar()
    if value is None:
        raise RuntimeError(f"district {district}/{province} not in the registry")
    return int(value)


async def _unit_code(conn: AsyncConnection, code: str) -> str:
    if ":" not in code:
        return code
    prefix, province, district = code.split(":")
    return f"{prefix}-{await _district_id(conn, province, district)}"


async def _seed_people(conn: AsyncConnection, now: datetime) -> None:
    k = orm.muhtarliks
    for i, m in enumerate(DEMO_MUHTARS):
        district_id = await _district_id(conn, m.province, m.district)
        query = select(k.c.id).where(k.c.district_id == district_id).order_by(k.c.name).offset(i).limit(1)
        muhtarlik_id = (await conn.execute(query)).scalar_one()
        await conn.execute(
            insert(orm.muhtars).values(
                id=uuid4().hex,
                tckn=m.tckn,
                full_name=m.full_name,
                phone_e164=m.phone_e164,
                muhtarlik_id=muhtarlik_id,
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
    for u in DEMO_USERS:
        unit_code = await _unit_code(conn, u.unit_code)
        await create_staff_user(
            conn, NewStaffUser(u.username, u.full_name, unit_code, u.role, DEMO_PASSWORD), now
        )
    await conn.execute(insert(orm.counters).values(name=MARKER, value=1))


async def _ids(engine: AsyncEngine) -> tuple[list[str], dict[str, str], dict[str, int]]:
    async with engine.connect() as conn:
        muhtar_rows = (await conn.execute(select(orm.muhtars.c.id, orm.muhtars.c.tckn))).all()
        by_tckn = {row.tckn: row.id for row in muhtar_rows}
        users = dict((await conn.execute(select(orm.staff_users.c.username, orm.staff_users.c.id))).all())
        # Keyed by the demo table's unit codes, district forms ("BEL-ILCE:Ankara:Çankaya") included.
        codes = {u.unit_code: await _unit_code(conn, u.unit_code) for u in DEMO_USERS}
        query = select(orm.units.c.code, orm.units.c.id).where(orm.units.c.code.in_(codes.values()))
        ids = dict((await conn.execute(query)).all())
        units = {demo_code: ids[code] for demo_code, code in codes.items()}
    return [by_tckn[m.tckn] for m in DEMO_MUHTARS], users, units


async def _seed_requests(services: Services) -> None:
    """A few requests in different states, made through the service layer like real ones."""
    muhtar_ids, users, units = await _ids(services.engine)
    bus = services.commands
    await bus.handle(
        commands.FileRequest(
            muhtar_ids[0],
            "istek",
            "Mahallemizdeki parkın aydınlatması yetersiz; akşamları çocuklar için tehlikeli.",
        )
    )
    routed = await bus.handle(
        commands.FileRequest(
            muhtar_ids[0],
            "sikayet",
            "Okul önündeki yaya geçidinin çizgileri silinmiş, trafik ışığı da çalışmıyor.",
        )
    )
    await bus.handle(commands.SetPriority(users["migm"], routed, "yuksek"))
    bel = units["BEL-ILCE:Ankara:Çankaya"]
    await bus.handle(
        commands.RouteRequest(
            users["migm"],
            routed,
            (
                commands.Target(units["VAL-06"], "Trafik güvenliği açısından incelenmesi rica olunur."),
                commands.Target(bel, "Yol çizgilerinin yenilenmesi."),
            ),
        )
    )
    await bus.handle(
        commands.FileRequest(
            muhtar_ids[1],
            "gorus_oneri",
            "Köy yoluna otobüs seferlerinin hafta sonu da konulmasını öneriyoruz.",
        )
    )


async def seed(settings: Settings, engine: AsyncEngine) -> bool:
    """Seed the demo world once; returns False when it was already there."""
    async with engine.connect() as conn:
        done = (
            await conn.execute(select(orm.counters.c.value).where(orm.counters.c.name == MARKER))
        ).scalar()
        empty_registry = await count(conn, orm.units) == 0
    if done:
        return False
    if empty_registry:
        await load_registry(engine)
    async with engine.begin() as conn:
        await _seed_people(conn, datetime.now(UTC))
        # Corporate addresses, so the e-mail notifications of the demo requests have somewhere to go.
        await assign_addresses(conn, settings.mail.domain)
    await _seed_requests(bootstrap(settings, engine=engine))
    logger.info("demo data seeded")
    return True


async def demo_seed(settings: Settings, args: argparse.Namespace) -> int:
    if settings.mode == "production":
        print("muhtar: demo-seed is refused in production mode (mode = production)", file=sys.stderr)
        return 2
    engine = create_engine(settings.database.url)
    try:
        await migrate(engine)
        seeded = await seed(settings, engine)
    finally:
        await engine.dispose()
    print("demo data seeded" if seeded else "demo data was already there", file=sys.stderr)
    print("\n".join(demo_logins()), file=sys.stderr)
    return 0
