"""A small, hand-computed report world: seven requests with known timestamps, inserted row by row.

Every expected figure in the tests is worked out by hand from this table (see the comments), not by
running the report queries. NOW is the moment the bottleneck figures are taken at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import World, build_world
from workflow.adapters import orm

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def t(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# number, province (muhtar), kind, channel, state, created_at, concluded_at
REQUESTS = (
    (1, 6, "sikayet", "web", "sonuclanan", t(6, 1), t(6, 8)),
    # 21:30 UTC is 00:30 on 2 June in Istanbul: the period buckets must use the Istanbul calendar.
    (2, 6, "istek", "sms", "sonuclanan", t(6, 1, 21, 30), t(6, 7, 21, 30)),
    (3, 6, "sikayet", "web", "yonlendirilen", t(6, 10), None),
    (4, 35, "ihbar", "ussd", "yonlendirilen", t(6, 20), None),
    (5, 35, "gorus_oneri", "web", "sonuclanan", t(5, 1), t(5, 31)),
    (6, 6, "sikayet", "sms", "bekleyen", t(6, 29), None),
    (7, 6, "istek", "web", "yonlendirilen", t(5, 1), None),
)

# key, request number, unit code, parent key, state, assigned_at, due_at, completed_at
ASSIGNMENTS = (
    ("1v", 1, "VAL-06", None, "completed", t(6, 2), t(6, 16), t(6, 7)),  # 5 days, on time
    ("1s", 1, "ILM-06-saglik", "1v", "completed", t(6, 3), t(6, 13), t(6, 6)),  # 3 days, on time
    ("2b", 2, "BEL-ILCE-1231", None, "completed", t(6, 4, 21, 30), t(6, 18), t(6, 5, 21, 30)),  # 1 day
    ("3v", 3, "VAL-06", None, "in_progress", t(6, 12), t(6, 20), None),  # 18 days old, overdue
    ("3b", 3, "BEL-ILCE-1231", None, "handed_back", t(6, 12), t(6, 26), None),
    ("4v", 4, "VAL-35", None, "new", t(6, 25), t(7, 10), None),  # 5 days old, not yet due
    ("5b", 5, "BEL-BB-35", None, "completed", t(5, 2), t(5, 16), t(5, 30)),  # 28 days, late
    ("7b", 7, "BEL-ILCE-1231", None, "new", t(5, 10), t(5, 20), None),  # 51 days old, overdue
)


@dataclass
class ReportWorld:
    world: World
    requests: dict[int, str] = field(default_factory=dict)

    def unit(self, code: str) -> int:
        return self.world.units[code]

    def user(self, username: str) -> str:
        return self.world.users[username]


async def build_report_world(engine: AsyncEngine) -> ReportWorld:
    world = await build_world(engine)
    rw = ReportWorld(world)
    async with engine.begin() as conn:
        izmir = await conn.execute(
            insert(orm.muhtarliks).values(
                code="M-2", kind="mahalle", name="Alsancak", province_id=35, district_id=1819,
                province_name="İzmir", district_name="Konak",
            )
        )
        izmir_muhtar = uuid4().hex
        await conn.execute(
            insert(orm.muhtars).values(
                id=izmir_muhtar, tckn="30000000017", full_name="Zeynep Işık", phone_e164="+905331112233",
                muhtarlik_id=izmir.inserted_primary_key[0], active=True, created_at=NOW, updated_at=NOW,
            )
        )
        muhtar_of = {6: world.muhtars[0], 35: izmir_muhtar}
        for number, province, kind, channel, state, created, concluded in REQUESTS:
            rid = uuid4().hex
            rw.requests[number] = rid
            await conn.execute(
                insert(orm.requests).values(
                    id=rid, number=1000 + number, muhtar_id=muhtar_of[province], kind=kind,
                    description="Rapor testi için yeterince uzun bir açıklama metni.", channel=channel,
                    priority="normal", state=state, migm_pending=state == "bekleyen", created_at=created,
                    updated_at=concluded or created, concluded_at=concluded, public_attachment_ids="[]",
                    version=1,
                )
            )
        ids: dict[str, str] = {}
        migm = world.units["MIGM"]
        for key, number, code, parent, state, assigned, due, completed in ASSIGNMENTS:
            ids[key] = uuid4().hex
            await conn.execute(
                insert(orm.assignments).values(
                    id=ids[key], request_id=rw.requests[number], unit_id=world.units[code],
                    parent_id=ids[parent] if parent else None, state=state, routing_note="not",
                    assigned_by_unit_id=world.units["VAL-06"] if parent else migm, assigned_at=assigned,
                    due_at=due, completed_at=completed, attachment_ids="[]",
                    handback_reason="Bizim konumuz değil." if state == "handed_back" else None,
                    closed_at=completed, handback_reviewed=False,
                )
            )
    return rw
