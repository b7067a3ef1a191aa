"""In-memory fakes of the service layer's repository, directory and unit of work (no mocks), and a small world.

The fakes keep the same contract as the SQL adapters:

- the store holds *committed* state only; a unit of work reads deep copies and writes deep copies back on
  commit, so anything not committed (an exception, a forgotten commit) is rolled back by construction;
- ``save`` is optimistic: the stored version must still be the one that was loaded, else ConcurrencyConflict;
  a request with no new movement was only read and is not written (every change writes a movement);
- a second request with an already committed idempotency key fails the commit with DuplicateSubmission, as
  the unique index does in PostgreSQL;
- events go to ``store.outbox`` only when the transaction commits;
- request numbers come from a counter that, like a database sequence, is not rolled back.

Reads and the number counter yield to the event loop once after reading, so tests can interleave two units
of work with ``asyncio.gather`` the way two web requests interleave.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.events import Event
from workflow.domain.model import Request
from workflow.domain.units import Actor, StaffRole, UnitKind, UnitRef
from workflow.service_layer.unit_of_work import (
    AbstractDirectory,
    AbstractRequestRepository,
    AbstractUnitOfWork,
    DuplicateSubmission,
)


@dataclass(frozen=True)
class AccessLogEntry:
    viewer_id: str
    unit_id: int | None
    request_id: str
    action: str
    at: datetime
    source_addr: str | None


@dataclass
class FakeStore:
    """The committed state: what a database would hold."""

    requests: dict[str, Request] = field(default_factory=dict)
    idempotency_keys: dict[str, str] = field(default_factory=dict)  # key -> request id
    outbox: list[Event] = field(default_factory=list)
    access_log: list[AccessLogEntry] = field(default_factory=list)
    last_number: int = 0
    commits: int = 0

    def by_number(self, number: int) -> Request | None:
        return next((r for r in self.requests.values() if r.number == number), None)

    def request(self, number: int) -> Request:
        """A copy of the committed request, for assertions."""
        found = self.by_number(number)
        assert found is not None, f"request {number} was not committed"
        return copy.deepcopy(found)

    def schemas(self) -> list[str]:
        return [e.schema for e in self.outbox]


class FakeRequestRepository(AbstractRequestRepository):
    def __init__(self, store: FakeStore) -> None:
        super().__init__()
        self.store = store
        # request id -> (version, movement count) as loaded, to check the version and skip read-only requests
        self._loaded: dict[str, tuple[int, int]] = {}
        self.staged: dict[str, Request] = {}

    async def _get_by_number(self, number: int) -> Request | None:
        committed = self.store.by_number(number)
        if committed is None:
            return None
        request = copy.deepcopy(committed)
        self._loaded[request.id] = (request.version, len(request.movements))
        await asyncio.sleep(0)  # what was read may change before this transaction commits
        return request

    async def save(self, request: Request) -> None:
        loaded = self._loaded.get(request.id)
        if loaded is not None and len(request.movements) == loaded[1]:
            return
        stored = self.store.requests.get(request.id)
        if loaded is None:
            if stored is not None:
                raise ConcurrencyConflict()
            new_version = 1
        else:
            if stored is None or stored.version != loaded[0]:
                raise ConcurrencyConflict()
            new_version = loaded[0] + 1
        request.version = new_version
        snapshot = copy.deepcopy(request)
        snapshot.events = []
        self.staged[request.id] = snapshot

    async def next_number(self) -> int:
        self.store.last_number += 1
        number = self.store.last_number
        await asyncio.sleep(0)
        return number

    async def number_for_idempotency_key(self, key: str, muhtar_id: str) -> int | None:
        request_id = self.store.idempotency_keys.get(key)
        await asyncio.sleep(0)
        if request_id is None:
            return None
        request = self.store.requests[request_id]
        return request.number if request.muhtar_id == muhtar_id else None


class FakeDirectory(AbstractDirectory):
    def __init__(self) -> None:
        self.unit_refs: dict[int, UnitRef] = {}
        self.staff: dict[str, tuple[Actor, bool]] = {}
        self.muhtars: dict[str, tuple[Actor, bool]] = {}

    def add_unit(self, unit: UnitRef) -> UnitRef:
        self.unit_refs[unit.id] = unit
        return unit

    def add_staff(
        self, user_id: str, name: str, unit: UnitRef, role: StaffRole = StaffRole.CLERK, active: bool = True
    ) -> Actor:
        actor = Actor.staff(user_id, name, unit, role)
        self.staff[user_id] = (actor, active)
        return actor

    def add_muhtar(self, muhtar_id: str, name: str, active: bool = True) -> Actor:
        actor = Actor.muhtar(muhtar_id, name)
        self.muhtars[muhtar_id] = (actor, active)
        return actor

    async def unit(self, unit_id: int) -> UnitRef | None:
        return self.unit_refs.get(unit_id)

    async def staff_actor(self, user_id: str) -> Actor | None:
        found = self.staff.get(user_id)
        return found[0] if found is not None and found[1] else None

    async def muhtar_actor(self, muhtar_id: str) -> Actor | None:
        found = self.muhtars.get(muhtar_id)
        return found[0] if found is not None and found[1] else None


class FakeUnitOfWork(AbstractUnitOfWork):
    requests: FakeRequestRepository
    directory: FakeDirectory

    def __init__(self, store: FakeStore, directory: FakeDirectory) -> None:
        self.store = store
        self.directory = directory
        self.requests = FakeRequestRepository(store)
        self._access: list[AccessLogEntry] = []
        self.committed = False

    async def __aenter__(self) -> Self:
        # A fresh transaction each time (file_request enters the same unit of work twice).
        self.requests = FakeRequestRepository(self.store)
        self._access = []
        self.committed = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()

    async def _commit(self) -> None:
        events: list[Event] = []
        for request in self.requests.seen.values():
            await self.requests.save(request)
            events.extend(request.events)
        new_keys = {}
        for request_id, key in self.requests.idempotency_keys.items():
            if key in self.store.idempotency_keys or key in new_keys:
                raise DuplicateSubmission()
            new_keys[key] = request_id
        # Everything checked: apply at once, as a database transaction would.
        self.store.requests.update(self.requests.staged)
        self.store.idempotency_keys.update(new_keys)
        self.store.outbox.extend(events)
        self.store.access_log.extend(self._access)
        self.store.commits += 1
        for request in self.requests.seen.values():
            request.events.clear()
        self._reset()
        self.committed = True

    async def rollback(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.requests.staged.clear()
        self.requests.idempotency_keys.clear()
        self._access = []

    async def log_access(
        self, viewer: Actor, request_id: str, action: str, at: datetime, source_addr: str | None
    ) -> None:
        self._access.append(
            AccessLogEntry(
                viewer.id, viewer.unit.id if viewer.unit else None, request_id, action, at, source_addr
            )
        )


# ------------------------------------------------------------------------------------------- the world
def _unit(
    id: int, kind: UnitKind, name: str, parent_id: int | None = None, province_id: int | None = None
) -> UnitRef:
    return UnitRef(id=id, kind=kind, name=name, parent_id=parent_id, province_id=province_id)


@dataclass
class World:
    """Units, staff and muhtars. Unit ids differ from plate codes on purpose, so the two are never confused."""

    directory: FakeDirectory
    store: FakeStore
    migm: UnitRef
    ankara: UnitRef
    ankara_saglik: UnitRef
    cankaya: UnitRef
    bolu: UnitRef
    bolu_meb: UnitRef
    bolu_ioi: UnitRef
    mengen: UnitRef
    ankara_bb: UnitRef
    bolu_bel: UnitRef
    closed_bel: UnitRef
    staff: dict[int, Actor]
    migm_admin: Actor
    ankara_admin: Actor
    muhtar: Actor
    other_muhtar: Actor
    retired_muhtar: Actor

    def actor(self, unit: UnitRef) -> Actor:
        return self.staff[unit.id]

    def user_id(self, unit: UnitRef) -> str:
        return self.staff[unit.id].id

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store, self.directory)


def build_world() -> World:
    d = FakeDirectory()
    migm = d.add_unit(_unit(1, UnitKind.MIGM, "Mahalli İdareler Genel Müdürlüğü"))
    ankara = d.add_unit(_unit(106, UnitKind.VALILIK, "Ankara Valiliği", province_id=6))
    ankara_saglik = d.add_unit(
        _unit(161, UnitKind.IL_MUDURLUGU, "Ankara İl Sağlık Müdürlüğü", parent_id=106, province_id=6)
    )
    cankaya = d.add_unit(
        _unit(162, UnitKind.KAYMAKAMLIK, "Çankaya Kaymakamlığı", parent_id=106, province_id=6)
    )
    bolu = d.add_unit(_unit(114, UnitKind.VALILIK, "Bolu Valiliği", province_id=14))
    bolu_meb = d.add_unit(
        _unit(141, UnitKind.IL_MUDURLUGU, "Bolu İl Millî Eğitim Müdürlüğü", parent_id=114, province_id=14)
    )
    bolu_ioi = d.add_unit(
        _unit(142, UnitKind.IL_OZEL_IDARESI, "Bolu İl Özel İdaresi", parent_id=114, province_id=14)
    )
    mengen = d.add_unit(
        _unit(143, UnitKind.KAYMAKAMLIK, "Mengen Kaymakamlığı", parent_id=114, province_id=14)
    )
    ankara_bb = d.add_unit(_unit(206, UnitKind.BELEDIYE, "Ankara Büyükşehir Belediyesi", province_id=6))
    bolu_bel = d.add_unit(_unit(214, UnitKind.BELEDIYE, "Bolu Belediyesi", province_id=14))
    closed_bel = d.add_unit(
        UnitRef(
            id=299, kind=UnitKind.BELEDIYE, name="Kapatılmış Belde Belediyesi", province_id=14, active=False
        )
    )
    people = {
        migm: "Şükrü Çelik",
        ankara: "İsmail Öztürk",
        ankara_saglik: "Gülşen Işık",
        cankaya: "Ömer Ağaoğlu",
        bolu: "Ilgaz Doğan",
        bolu_meb: "Çiğdem Şahin",
        bolu_ioi: "Ümit Güneş",
        mengen: "Özge İnce",
        ankara_bb: "Hülya Arslan",
        bolu_bel: "Tuğba Özdemir",
    }
    staff = {unit.id: d.add_staff(f"u-{unit.id}", name, unit) for unit, name in people.items()}
    d.add_staff("u-disabled", "Eski Personel", migm, active=False)
    return World(
        directory=d,
        store=FakeStore(),
        migm=migm,
        ankara=ankara,
        ankara_saglik=ankara_saglik,
        cankaya=cankaya,
        bolu=bolu,
        bolu_meb=bolu_meb,
        bolu_ioi=bolu_ioi,
        mengen=mengen,
        ankara_bb=ankara_bb,
        bolu_bel=bolu_bel,
        closed_bel=closed_bel,
        staff=staff,
        migm_admin=d.add_staff("u-admin-migm", "Sistem Yöneticisi", migm, StaffRole.ADMIN),
        ankara_admin=d.add_staff("u-admin-106", "Valilik Yöneticisi", ankara, StaffRole.ADMIN),
        muhtar=d.add_muhtar("m-1", "Ayşe Yıldırım"),
        other_muhtar=d.add_muhtar("m-2", "Mehmet Kılıç"),
        retired_muhtar=d.add_muhtar("m-3", "Eski Muhtar", active=False),
    )
