"""Every command handler through the MessageBus, on the in-memory unit of work (tests/unit/fakes.py)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import FakeUnitOfWork, World, build_world
from tests.unit.test_domain_rules import refused
from workflow.domain import commands as c
from workflow.domain.errors import (
    ConcurrencyConflict,
    DomainError,
    InvalidState,
    NotAllowed,
    NotFound,
    ValidationFailed,
)
from workflow.domain.model import AssignmentState, Priority, RequestState
from workflow.service_layer.handlers import COMMAND_HANDLERS, NOT_FOUND_MESSAGE, Context
from workflow.service_layer.messagebus import MessageBus

T0 = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
DESCRIPTION = "Köy yolundaki köprü yağmurdan sonra çöktü, okul servisi geçemiyor."
DONE = "Köprü onarıldı, yol ulaşıma açıldı."
FINAL = "Talebiniz karşılanmıştır."


class Clock:
    """Each call is one minute later, so movements are ordered and checkable."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def w() -> World:
    return build_world()


@pytest.fixture
def bus(w: World) -> MessageBus:
    return MessageBus(w.uow, COMMAND_HANDLERS, Context(clock=Clock(), due_days=10))


async def file(bus: MessageBus, muhtar_id: str = "m-1", key: str | None = None) -> int:
    number: int = await bus.handle(c.FileRequest(muhtar_id, "istek", DESCRIPTION, "web", key))
    return number


def committed(w: World) -> tuple[list[dict[str, object]], list[str], int]:
    """A deep snapshot of everything committed, to show that a refused command changed nothing."""
    requests = [
        {k: v for k, v in copy.deepcopy(vars(r)).items() if k != "events"} for r in w.store.requests.values()
    ]
    return requests, w.store.schemas(), w.store.last_number


def test_every_command_has_a_handler() -> None:
    assert set(COMMAND_HANDLERS) == {
        cls for cls in vars(c).values() if isinstance(cls, type) and issubclass(cls, c.Command)
    } - {c.Command, c.StaffCommand}


# --------------------------------------------------------------------------------------------------- filing
async def test_filing_numbers_are_sequential(w: World, bus: MessageBus) -> None:
    assert [await file(bus), await file(bus, "m-2"), await file(bus)] == [1, 2, 3]
    r = w.store.request(2)
    assert (r.muhtar_id, r.state, r.version, r.created_at) == (
        "m-2",
        RequestState.BEKLEYEN,
        1,
        T0 + timedelta(minutes=2),
    )
    assert w.store.schemas() == ["request.filed"] * 3
    assert all(not r.events for r in w.store.requests.values())


async def test_same_idempotency_key_returns_the_same_number(w: World, bus: MessageBus) -> None:
    first = await file(bus, key="form-7f3a")
    assert await file(bus, key="form-7f3a") == first
    assert await file(bus, key="form-other") == first + 1
    assert len(w.store.requests) == 2 and w.store.schemas() == ["request.filed"] * 2


async def test_double_submission_racing_gets_one_request(w: World, bus: MessageBus) -> None:
    # Both pass the key check before either commits; the loser's commit hits the unique key.
    numbers = await asyncio.gather(file(bus, key="form-race"), file(bus, key="form-race"))
    assert numbers[0] == numbers[1]
    assert w.store.last_number == 2  # both took a number: the race really happened
    assert len(w.store.requests) == 1 and w.store.schemas() == ["request.filed"]


async def test_another_muhtars_idempotency_key_is_refused_cleanly(w: World, bus: MessageBus) -> None:
    first = await file(bus, "m-1", key="form-shared")
    with pytest.raises(ValidationFailed) as info:
        await file(bus, "m-2", key="form-shared")
    assert "başvuru formu" in info.value.message
    assert list(w.store.requests.values())[0].number == first and len(w.store.requests) == 1
    assert w.store.schemas() == ["request.filed"]


FILING_REFUSED: list[tuple[c.FileRequest, type[DomainError]]] = [
    (c.FileRequest("m-404", "istek", DESCRIPTION), NotAllowed),  # no such muhtar
    (c.FileRequest("m-3", "istek", DESCRIPTION), NotAllowed),  # retired muhtar
    (c.FileRequest("m-1", "istek", DESCRIPTION, channel="fax"), ValidationFailed),
    (c.FileRequest("m-1", "dilek", DESCRIPTION), ValidationFailed),
    (c.FileRequest("m-1", "istek", "Çok kısa bir metin"), ValidationFailed),
    (c.FileRequest("m-1", "istek", "ş" * 4001), ValidationFailed),
]


@pytest.mark.parametrize(("cmd", "error"), FILING_REFUSED)
async def test_filing_refused_commits_nothing(
    w: World, bus: MessageBus, cmd: c.FileRequest, error: type[DomainError]
) -> None:
    with refused(error):
        await bus.handle(cmd)
    assert w.store.requests == {} and w.store.outbox == [] and w.store.commits == 0


# --------------------------------------------------------------------------------------------- a whole life
async def test_a_request_through_its_whole_life(w: World, bus: MessageBus) -> None:
    n = await file(bus)
    migm, ankara, cankaya, bb = (w.user_id(u) for u in (w.migm, w.ankara, w.cankaya, w.ankara_bb))
    await bus.handle(c.SetPriority(migm, n, "yuksek", expected_version=1))
    valilik_id, belediye_id = await bus.handle(
        c.RouteRequest(migm, n, (c.Target(w.ankara.id, "İnceleyiniz."), c.Target(w.ankara_bb.id)), 2)
    )
    [sub_id] = await bus.handle(c.Forward(ankara, n, valilik_id, (c.Target(w.cankaya.id, "Acil."),), 3))
    await bus.handle(c.AddNote(cankaya, n, "Ekip bölgeye gitti."))
    await bus.handle(c.TakeOn(cankaya, n, sub_id, 5))
    await bus.handle(c.Complete(cankaya, n, sub_id, DONE, ("ek-1",), 6))
    await bus.handle(c.Complete(ankara, n, valilik_id, DONE, expected_version=7))
    await bus.handle(c.HandBack(bb, n, belediye_id, "Köprü belediyenin sorumluluğunda değil.", 8))
    await bus.handle(c.ReviewHandback(migm, n, belediye_id, 9))
    await bus.handle(c.Conclude(migm, n, FINAL, ("ek-1",), 10))

    r = w.store.request(n)
    assert (r.state, r.version, r.priority, r.final_note) == (
        RequestState.SONUCLANAN,
        11,
        Priority.YUKSEK,
        FINAL,
    )
    assert r.public_attachment_ids == ["ek-1"]
    states = {a.id: a.state for a in r.assignments}
    assert states == {
        valilik_id: AssignmentState.COMPLETED,
        belediye_id: AssignmentState.HANDED_BACK,
        sub_id: AssignmentState.COMPLETED,
    }
    assert r.children_of(valilik_id)[0].unit == w.cankaya
    assert all(a.due_at == a.assigned_at + timedelta(days=10) for a in r.assignments)
    assert w.store.schemas() == [
        "request.filed",
        "request.priority_set",
        "request.routed",
        "assignment.forwarded",
        "request.note_added",
        "assignment.taken_on",
        "assignment.completed",
        "assignment.completed",
        "assignment.handed_back",
        "request.concluded",
    ]
    times = [m.at for m in r.movements]
    assert times == sorted(times) and times[0] == T0 + timedelta(minutes=1)


# ------------------------------------------------------------------------------------------------ the actor
async def test_admin_of_migm_may_act(w: World, bus: MessageBus) -> None:
    n = await file(bus)
    await bus.handle(c.SetPriority(w.migm_admin.id, n, "acil"))
    assert w.store.request(n).priority is Priority.ACIL


@pytest.mark.parametrize(
    ("user_id", "why"),
    [("u-404", "unknown"), ("u-disabled", "disabled"), ("u-admin-106", "admin of a Valilik"), ("", "empty")],
)
async def test_staff_commands_refuse_users_the_directory_does_not_accept(
    w: World, bus: MessageBus, user_id: str, why: str
) -> None:
    n = await file(bus)
    await bus.handle(c.RouteRequest(w.user_id(w.migm), n, (c.Target(w.ankara.id),)))
    before = committed(w)
    with refused(NotAllowed):
        await bus.handle(c.AddNote(user_id, n, "Bir not."))
    assert committed(w) == before


# ------------------------------------------------------------------------------------ not found / versions
#: Every staff command: (user, request number, assignment id, expected version) -> command.
StaffCommandMaker = Callable[[str, int, str, int | None], c.StaffCommand]
STAFF_COMMANDS: list[tuple[str, StaffCommandMaker]] = [
    ("SetPriority", lambda u, n, a, v: c.SetPriority(u, n, "acil", v)),
    ("RouteRequest", lambda u, n, a, v: c.RouteRequest(u, n, (c.Target(214),), v)),
    ("ReviewHandback", lambda u, n, a, v: c.ReviewHandback(u, n, a, v)),
    ("TakeOn", lambda u, n, a, v: c.TakeOn(u, n, a, v)),
    ("Forward", lambda u, n, a, v: c.Forward(u, n, a, (c.Target(161),), v)),
    ("Complete", lambda u, n, a, v: c.Complete(u, n, a, DONE, (), v)),
    ("HandBack", lambda u, n, a, v: c.HandBack(u, n, a, "Görev alanımız dışında.", v)),
    ("AddNote", lambda u, n, a, v: c.AddNote(u, n, "Bir not.")),
    ("Conclude", lambda u, n, a, v: c.Conclude(u, n, FINAL, (), v)),
]
VERSIONED = [(name, make) for name, make in STAFF_COMMANDS if name != "AddNote"]


def test_the_table_covers_every_staff_command() -> None:
    made = {type(make("u", 1, "a", None)) for _, make in STAFF_COMMANDS}
    assert made == set(COMMAND_HANDLERS) - {c.FileRequest}


@pytest.mark.parametrize(("name", "make"), STAFF_COMMANDS, ids=[n for n, _ in STAFF_COMMANDS])
async def test_a_request_the_actor_cannot_see_is_not_found(
    w: World, bus: MessageBus, name: str, make: StaffCommandMaker
) -> None:
    n = await file(bus)
    [a] = await bus.handle(c.RouteRequest(w.user_id(w.migm), n, (c.Target(w.ankara.id),)))
    before = committed(w)
    for user, number in ((w.user_id(w.bolu), n), (w.user_id(w.ankara_saglik), n), (w.user_id(w.ankara), 999)):
        with refused(NotFound) as error:
            await bus.handle(make(user, number, a, None))
        assert error.value.message == NOT_FOUND_MESSAGE  # the same for "not yours" and "no such request"
    assert committed(w) == before


@pytest.mark.parametrize(("name", "make"), VERSIONED, ids=[n for n, _ in VERSIONED])
async def test_a_stale_screen_gets_a_concurrency_conflict(
    w: World, bus: MessageBus, name: str, make: StaffCommandMaker
) -> None:
    n = await file(bus)
    [a] = await bus.handle(c.RouteRequest(w.user_id(w.migm), n, (c.Target(w.ankara.id),)))
    assert w.store.request(n).version == 2
    before = committed(w)
    for stale in (1, 3, 0):
        with refused(ConcurrencyConflict) as error:
            await bus.handle(make(w.user_id(w.migm), n, a, stale))
        assert "yenileyip" in error.value.message
    assert committed(w) == before


async def test_the_current_version_is_accepted_and_bumped_once_per_commit(w: World, bus: MessageBus) -> None:
    n = await file(bus)
    migm = w.user_id(w.migm)
    await bus.handle(c.SetPriority(migm, n, "dusuk", expected_version=1))
    await bus.handle(c.SetPriority(migm, n, "dusuk", expected_version=2))  # no change: nothing written
    assert w.store.request(n).version == 2
    await bus.handle(c.RouteRequest(migm, n, (c.Target(w.bolu.id), c.Target(w.bolu_bel.id)), 2))
    assert w.store.request(n).version == 3


async def test_two_users_at_once_one_wins(w: World, bus: MessageBus) -> None:
    n = await file(bus)
    migm = w.user_id(w.migm)
    results = await asyncio.gather(
        bus.handle(c.SetPriority(migm, n, "acil")),
        bus.handle(c.SetPriority(w.migm_admin.id, n, "dusuk")),
        return_exceptions=True,
    )
    assert results[0] is None and isinstance(results[1], ConcurrencyConflict)
    r = w.store.request(n)
    assert (r.priority, r.version) == (Priority.ACIL, 2)
    assert w.store.schemas() == ["request.filed", "request.priority_set"]


# --------------------------------------------------------------------------------- rollback and the outbox
async def refused_case(w: World, bus: MessageBus, name: str) -> tuple[c.Command, type[DomainError]]:
    n = await file(bus)
    migm, ankara = w.user_id(w.migm), w.user_id(w.ankara)
    [a] = await bus.handle(c.RouteRequest(migm, n, (c.Target(w.ankara.id),)))
    cases: dict[str, tuple[c.Command, type[DomainError]]] = {
        "route to a sub-unit": (
            c.RouteRequest(migm, n, (c.Target(w.bolu.id), c.Target(w.cankaya.id))),
            NotAllowed,
        ),
        "route to an unknown unit": (
            c.RouteRequest(migm, n, (c.Target(w.bolu.id), c.Target(9999))),
            ValidationFailed,
        ),
        "forward across provinces": (
            c.Forward(ankara, n, a, (c.Target(w.cankaya.id), c.Target(w.bolu_meb.id))),
            NotAllowed,
        ),
        "complete untouched": (c.Complete(ankara, n, a, DONE), InvalidState),
        "conclude while open": (c.Conclude(migm, n, FINAL), InvalidState),
        "hand back without reason": (c.HandBack(ankara, n, a, "yok"), ValidationFailed),
        "unknown assignment": (c.TakeOn(ankara, n, "no-such-id"), InvalidState),
        "priority by a Valilik": (c.SetPriority(ankara, n, "acil"), NotAllowed),
    }
    return cases[name]


REFUSED = [
    "route to a sub-unit",
    "route to an unknown unit",
    "forward across provinces",
    "complete untouched",
    "conclude while open",
    "hand back without reason",
    "unknown assignment",
    "priority by a Valilik",
]


@pytest.mark.parametrize("name", REFUSED)
async def test_a_refused_command_leaves_nothing_committed(w: World, bus: MessageBus, name: str) -> None:
    cmd, error = await refused_case(w, bus, name)
    before, commits = committed(w), w.store.commits
    with refused(error):
        await bus.handle(cmd)
    assert committed(w) == before and w.store.commits == commits


async def test_events_reach_the_outbox_only_on_commit(w: World, bus: MessageBus) -> None:
    n = await file(bus)
    uow = w.uow()
    async with uow:
        request = await uow.requests.get_by_number(n)
        assert request is not None
        request.set_priority(w.actor(w.migm), "acil", T0)
        request.add_note(w.actor(w.migm), "Önemli.", T0)
        assert w.store.schemas() == ["request.filed"]  # recorded, not yet written
    assert w.store.schemas() == ["request.filed"] and w.store.request(n).priority is Priority.NORMAL
    async with uow:
        request = await uow.requests.get_by_number(n)
        assert request is not None and request.events == [] and request.priority is Priority.NORMAL
        request.set_priority(w.actor(w.migm), "acil", T0)
        await uow.commit()
        assert request.events == []  # handed to the outbox, not written twice
    assert w.store.schemas() == ["request.filed", "request.priority_set"]


async def test_an_error_after_changes_rolls_everything_back(w: World, bus: MessageBus) -> None:
    n = await file(bus)
    uow = w.uow()
    with pytest.raises(RuntimeError):
        async with uow:
            request = await uow.requests.get_by_number(n)
            assert request is not None
            request.set_priority(w.actor(w.migm), "acil", T0)
            await uow.log_access(w.actor(w.migm), request.id, "view", T0, "198.51.100.7")
            raise RuntimeError("the web view crashed before commit")
    r = w.store.request(n)
    assert (r.priority, r.version, len(r.movements)) == (Priority.NORMAL, 1, 1)
    assert w.store.schemas() == ["request.filed"] and w.store.access_log == []


async def test_a_conflicting_commit_writes_nothing_of_either_request(w: World, bus: MessageBus) -> None:
    first, second = await file(bus), await file(bus)
    stale = w.uow()
    async with stale:
        r1 = await stale.requests.get_by_number(first)
        r2 = await stale.requests.get_by_number(second)
        assert r1 is not None and r2 is not None
        await bus.handle(c.SetPriority(w.user_id(w.migm), second, "acil"))  # someone else, meanwhile
        r1.set_priority(w.actor(w.migm), "yuksek", T0)
        r2.set_priority(w.actor(w.migm), "dusuk", T0)
        with pytest.raises(ConcurrencyConflict):
            await stale.commit()
    assert w.store.request(first).priority is Priority.NORMAL
    assert w.store.request(second).priority is Priority.ACIL
    assert w.store.schemas() == ["request.filed", "request.filed", "request.priority_set"]


async def test_access_log_is_written_with_the_transaction(w: World) -> None:
    uow: FakeUnitOfWork = w.uow()
    async with uow:
        await uow.log_access(w.muhtar, "r-1", "view", T0, None)
        await uow.commit()
    assert [(e.viewer_id, e.unit_id, e.action) for e in w.store.access_log] == [("m-1", None, "view")]
