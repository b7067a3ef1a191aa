"""SQLAlchemy Core implementations of the request repository and the directory."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters import orm
from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.model import (
    Action,
    Assignment,
    AssignmentState,
    Channel,
    Movement,
    Priority,
    Request,
    RequestKind,
)
from workflow.domain.units import Actor, ActorKind, StaffRole, UnitKind, UnitRef
from workflow.service_layer.unit_of_work import AbstractDirectory, AbstractRequestRepository


def unit_from_row(row: Row[Any]) -> UnitRef:
    return UnitRef(
        id=row.id,
        kind=UnitKind(row.kind),
        name=row.name,
        parent_id=row.parent_id,
        province_id=row.province_id,
        active=row.active,
    )


class SqlRequestRepository(AbstractRequestRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__()
        self.conn = conn
        # What was loaded, to tell inserts from updates and to check the version on save.
        self._loaded: dict[str, tuple[int, set[str], int]] = {}

    async def _get_by_number(self, number: int) -> Request | None:
        row = (await self.conn.execute(select(orm.requests).where(orm.requests.c.number == number))).first()
        if row is None:
            return None
        assignment_rows = (
            await self.conn.execute(
                select(orm.assignments, orm.units)
                .join(orm.units, orm.units.c.id == orm.assignments.c.unit_id)
                .where(orm.assignments.c.request_id == row.id)
                .order_by(orm.assignments.c.assigned_at, orm.assignments.c.id)
            )
        ).all()
        movement_rows = (
            await self.conn.execute(
                select(orm.movements)
                .where(orm.movements.c.request_id == row.id)
                .order_by(orm.movements.c.seq)
            )
        ).all()
        request = Request(
            id=row.id,
            number=row.number,
            muhtar_id=row.muhtar_id,
            kind=RequestKind(row.kind),
            description=row.description,
            channel=Channel(row.channel),
            priority=Priority(row.priority),
            created_at=row.created_at,
            updated_at=row.updated_at,
            concluded_at=row.concluded_at,
            final_note=row.final_note,
            public_attachment_ids=json.loads(row.public_attachment_ids),
            assignments=[_assignment(r) for r in assignment_rows],
            movements=[_movement(r) for r in movement_rows],
            version=row.version,
        )
        self._loaded[request.id] = (
            request.version,
            {a.id for a in request.assignments},
            len(request.movements),
        )
        return request

    async def next_number(self) -> int:
        if self.conn.dialect.name == "postgresql":
            value = (await self.conn.execute(text("SELECT nextval('request_number_seq')"))).scalar_one()
        else:
            value = (
                await self.conn.execute(
                    update(orm.counters)
                    .where(orm.counters.c.name == "request_number")
                    .values(value=orm.counters.c.value + 1)
                    .returning(orm.counters.c.value)
                )
            ).scalar_one()
        return int(value)

    async def number_for_idempotency_key(self, key: str, muhtar_id: str) -> int | None:
        query = select(orm.requests.c.number).where(
            and_(orm.requests.c.idempotency_key == key, orm.requests.c.muhtar_id == muhtar_id)
        )
        value = (await self.conn.execute(query)).scalar()
        return int(value) if value is not None else None

    async def save(self, request: Request) -> None:
        loaded = self._loaded.get(request.id)
        if loaded is not None and len(request.movements) == loaded[2]:
            return  # every change writes a movement: none means only read
        values = _request_values(request)
        if loaded is None:
            values["idempotency_key"] = self.idempotency_keys.get(request.id)
            await self.conn.execute(insert(orm.requests).values(id=request.id, version=1, **values))
            known_assignments: set[str] = set()
            known_movements = 0
        else:
            version, known_assignments, known_movements = loaded
            result = await self.conn.execute(
                update(orm.requests)
                .where(and_(orm.requests.c.id == request.id, orm.requests.c.version == version))
                .values(version=version + 1, **values)
            )
            if result.rowcount != 1:
                raise ConcurrencyConflict()
        await self._save_assignments(request, known_assignments)
        new_movements = request.movements[known_movements:]
        if new_movements:
            await self.conn.execute(
                insert(orm.movements),
                [
                    _movement_values(request.id, known_movements + i + 1, m)
                    for i, m in enumerate(new_movements)
                ],
            )
        request.version = (loaded[0] if loaded else 0) + 1
        self._loaded[request.id] = (
            request.version,
            {a.id for a in request.assignments},
            len(request.movements),
        )

    async def _save_assignments(self, request: Request, known: set[str]) -> None:
        new = [_assignment_values(a) for a in request.assignments if a.id not in known]
        if new:
            await self.conn.execute(insert(orm.assignments), new)
        for a in request.assignments:
            if a.id in known:
                values = _assignment_values(a)
                del values["id"]
                await self.conn.execute(
                    update(orm.assignments).where(orm.assignments.c.id == a.id).values(**values)
                )


def _request_values(r: Request) -> dict[str, Any]:
    return {
        "number": r.number,
        "muhtar_id": r.muhtar_id,
        "kind": r.kind.value,
        "description": r.description,
        "channel": r.channel.value,
        "priority": r.priority.value,
        "state": r.state.value,
        "migm_pending": r.migm_pending,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "concluded_at": r.concluded_at,
        "final_note": r.final_note,
        "public_attachment_ids": json.dumps(r.public_attachment_ids),
    }


def _assignment_values(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.id,
        "request_id": a.request_id,
        "unit_id": a.unit.id,
        "parent_id": a.parent_id,
        "state": a.state.value,
        "routing_note": a.routing_note,
        "assigned_by_unit_id": a.assigned_by_unit_id,
        "assigned_at": a.assigned_at,
        "due_at": a.due_at,
        "taken_on_at": a.taken_on_at,
        "completed_at": a.completed_at,
        "completion_note": a.completion_note,
        "attachment_ids": json.dumps(a.attachment_ids),
        "handback_reason": a.handback_reason,
        "closed_at": a.closed_at,
        "handback_reviewed": a.handback_reviewed,
    }


def _assignment(row: Row[Any]) -> Assignment:
    m = row._mapping
    unit = UnitRef(
        id=m[orm.units.c.id],
        kind=UnitKind(m[orm.units.c.kind]),
        name=m[orm.units.c.name],
        parent_id=m[orm.units.c.parent_id],
        province_id=m[orm.units.c.province_id],
        active=m[orm.units.c.active],
    )
    a = orm.assignments.c
    return Assignment(
        id=m[a.id],
        request_id=m[a.request_id],
        unit=unit,
        assigned_by_unit_id=m[a.assigned_by_unit_id],
        routing_note=m[a.routing_note],
        assigned_at=m[a.assigned_at],
        due_at=m[a.due_at],
        parent_id=m[a.parent_id],
        state=AssignmentState(m[a.state]),
        taken_on_at=m[a.taken_on_at],
        completed_at=m[a.completed_at],
        completion_note=m[a.completion_note],
        attachment_ids=json.loads(m[a.attachment_ids]),
        handback_reason=m[a.handback_reason],
        closed_at=m[a.closed_at],
        handback_reviewed=m[a.handback_reviewed],
    )


def _movement(row: Row[Any]) -> Movement:
    return Movement(
        at=row.at,
        action=Action(row.action),
        actor_kind=ActorKind(row.actor_kind),
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        unit_id=row.unit_id,
        unit_name=row.unit_name,
        note=row.note,
        public=row.public,
        note_public=row.note_public,
        assignment_id=row.assignment_id,
        target_unit_id=row.target_unit_id,
        target_unit_name=row.target_unit_name,
    )


def _movement_values(request_id: str, seq: int, m: Movement) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "seq": seq,
        "at": m.at,
        "action": m.action.value,
        "actor_kind": m.actor_kind.value,
        "actor_id": m.actor_id,
        "actor_name": m.actor_name,
        "unit_id": m.unit_id,
        "unit_name": m.unit_name,
        "note": m.note,
        "public": m.public,
        "note_public": m.note_public,
        "assignment_id": m.assignment_id,
        "target_unit_id": m.target_unit_id,
        "target_unit_name": m.target_unit_name,
    }


class SqlDirectory(AbstractDirectory):
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def unit(self, unit_id: int) -> UnitRef | None:
        row = (await self.conn.execute(select(orm.units).where(orm.units.c.id == unit_id))).first()
        return unit_from_row(row) if row else None

    async def units(self, unit_ids: list[int] | Any) -> dict[int, UnitRef]:
        ids = list(unit_ids)
        if not ids:
            return {}
        rows = (await self.conn.execute(select(orm.units).where(orm.units.c.id.in_(ids)))).all()
        return {row.id: unit_from_row(row) for row in rows}

    async def staff_actor(self, user_id: str) -> Actor | None:
        query = (
            select(orm.staff_users.c.full_name, orm.staff_users.c.role, orm.units)
            .join(orm.units, orm.units.c.id == orm.staff_users.c.unit_id)
            .where(and_(orm.staff_users.c.id == user_id, orm.staff_users.c.active.is_(True)))
        )
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return Actor.staff(user_id, row.full_name, unit_from_row(row), StaffRole(row.role))

    async def muhtar_actor(self, muhtar_id: str) -> Actor | None:
        query = select(orm.muhtars.c.full_name).where(
            and_(orm.muhtars.c.id == muhtar_id, orm.muhtars.c.active.is_(True))
        )
        name = (await self.conn.execute(query)).scalar()
        return Actor.muhtar(muhtar_id, name) if name is not None else None


async def count(conn: AsyncConnection, table: Any) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
