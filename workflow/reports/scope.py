"""Whose numbers a staff user may see in reports, enforced in every report query.

MİGM sees everything. A Valilik sees the requests routed to it or to its sub-units (İl Müdürlükleri, İl Özel
İdaresi, Kaymakamlıklar) — by construction all of its own province — and the unit figures of itself and its
sub-units. Every other unit sees the requests routed to it and its own figures. This is the same line the
request pages draw (a unit sees a request once it holds an assignment on it), so a drill-down never lists a
request its viewer could not open.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.orm import assignments, requests, units
from workflow.domain.units import Actor, UnitKind
from workflow.service_layer.inbox import staff_viewer


@dataclass(frozen=True)
class Scope:
    """``unit_id`` None means the whole country (MİGM); ``with_sub_units`` for a Valilik."""

    unit_id: int | None
    with_sub_units: bool = False
    province_id: int | None = None

    @property
    def is_all(self) -> bool:
        return self.unit_id is None

    @classmethod
    def for_actor(cls, actor: Actor) -> Scope:
        unit = actor.unit
        if unit is None:
            raise ValueError("a report scope needs a staff actor with a unit")
        if unit.kind is UnitKind.MIGM:
            return cls(None)
        return cls(unit.id, unit.kind is UnitKind.VALILIK, unit.province_id)

    def unit_ids(self) -> Select[tuple[int]]:
        """The units whose figures this scope shows."""
        query = select(units.c.id)
        if self.unit_id is None:
            return query
        if self.with_sub_units:
            return query.where(or_(units.c.id == self.unit_id, units.c.parent_id == self.unit_id))
        return query.where(units.c.id == self.unit_id)

    def unit_clause(self, unit_column: ColumnElement[int]) -> ColumnElement[bool]:
        if self.unit_id is None:
            return true()
        return unit_column.in_(self.unit_ids().scalar_subquery())

    def request_clause(self, request_id: ColumnElement[str] | None = None) -> ColumnElement[bool]:
        """True for a request this scope may count: one routed to the scope's units."""
        if self.unit_id is None:
            return true()
        # An alias, so the subquery stays its own when the outer query reads assignments too.
        held = assignments.alias("scope_assignment")
        target = requests.c.id if request_id is None else request_id
        return exists().where(held.c.request_id == target, self.unit_clause(held.c.unit_id))


async def load_scope(engine: AsyncEngine, user_id: str) -> Scope:
    """The scope of a signed-in staff user, read from the database (raises NotAllowed like the inbox)."""
    return Scope.for_actor(await staff_viewer(engine, user_id))
