"""Units as the domain sees them: what kind a unit is and whose sub-unit it is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    MIGM = "migm"
    VALILIK = "valilik"
    IL_MUDURLUGU = "il_mudurlugu"
    IL_OZEL_IDARESI = "il_ozel_idaresi"
    KAYMAKAMLIK = "kaymakamlik"
    BELEDIYE = "belediye"


#: Units MİGM routes requests to.
ROUTING_TARGETS = frozenset({UnitKind.VALILIK, UnitKind.BELEDIYE})
#: Units a Valilik forwards to (each must be that Valilik's own).
SUB_UNIT_KINDS = frozenset({UnitKind.IL_MUDURLUGU, UnitKind.IL_OZEL_IDARESI, UnitKind.KAYMAKAMLIK})

UNIT_KIND_LABELS: dict[UnitKind, str] = {
    UnitKind.MIGM: "MİGM",
    UnitKind.VALILIK: "Valilik",
    UnitKind.IL_MUDURLUGU: "İl Müdürlüğü",
    UnitKind.IL_OZEL_IDARESI: "İl Özel İdaresi",
    UnitKind.KAYMAKAMLIK: "Kaymakamlık",
    UnitKind.BELEDIYE: "Belediye",
}


@dataclass(frozen=True)
class UnitRef:
    id: int
    kind: UnitKind
    name: str
    parent_id: int | None = None
    province_id: int | None = None
    active: bool = True

    @property
    def is_migm(self) -> bool:
        return self.kind is UnitKind.MIGM


class ActorKind(StrEnum):
    MUHTAR = "muhtar"
    STAFF = "staff"
    SYSTEM = "system"


class StaffRole(StrEnum):
    CLERK = "clerk"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    """Who acts: a muhtar, a staff user of a unit, or the system itself."""

    kind: ActorKind
    id: str
    name: str
    unit: UnitRef | None = None
    role: StaffRole | None = None

    @property
    def is_migm(self) -> bool:
        return self.kind is ActorKind.STAFF and self.unit is not None and self.unit.is_migm

    def belongs_to(self, unit_id: int) -> bool:
        return self.kind is ActorKind.STAFF and self.unit is not None and self.unit.id == unit_id

    @classmethod
    def muhtar(cls, muhtar_id: str, name: str) -> Actor:
        return cls(ActorKind.MUHTAR, muhtar_id, name)

    @classmethod
    def staff(cls, user_id: str, name: str, unit: UnitRef, role: StaffRole = StaffRole.CLERK) -> Actor:
        return cls(ActorKind.STAFF, user_id, name, unit, role)
