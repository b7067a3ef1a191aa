"""The rules of a request's life (docs: /work/shared/domain.md), one test per rule, on the pure domain model."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import World, build_world
from workflow.domain import events
from workflow.domain.errors import DomainError, InvalidState, NotAllowed, ValidationFailed
from workflow.domain.model import (
    Action,
    Assignment,
    AssignmentState,
    Channel,
    Priority,
    Request,
    RequestKind,
    RequestState,
    RoutingTarget,
)
from workflow.domain.units import Actor, ActorKind, UnitRef

T0 = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
DESCRIPTION = "Mahallemizin girişindeki sokak lambaları iki haftadır yanmıyor, akşamları yol karanlık."
REASON = "Konu birimimizin görev alanında değil."
DONE = "Arıza giderildi, lambalar yeniden yanıyor."
DUE_DAYS = 15
# Turkish letters, or (for the few messages without one) a Turkish word.
TURKISH = re.compile(r"[çğıöşüâîûÇĞİÖŞÜÂÎÛ]|\b(talep\w*|yetki\w*|birim\w*|yok|lütfen|en az|en fazla)\b", re.I)


@contextmanager
def refused(kind: type[DomainError]) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """The action is refused with ``kind`` and a Turkish message fit for a user."""
    with pytest.raises(kind) as info:
        yield info
    message = info.value.message
    assert TURKISH.search(message), f"message is not Turkish: {message!r}"
    assert message.strip() == message and message.endswith("."), message


@pytest.fixture
def w() -> World:
    return build_world()


def file(
    w: World, muhtar: Actor | None = None, description: str = DESCRIPTION, kind: str = "sikayet"
) -> Request:
    return Request.file(
        number=1,
        muhtar=muhtar or w.muhtar,
        kind=kind,
        description=description,
        channel=Channel.WEB,
        now=T0,
    )


def route(w: World, request: Request, *units: UnitRef, note: str = "") -> list[Assignment]:
    return request.route(w.actor(w.migm), [RoutingTarget(u, note) for u in units], T0, DUE_DAYS)


def forward(w: World, request: Request, parent: Assignment, *units: UnitRef) -> list[Assignment]:
    return request.forward(
        w.actor(parent.unit), parent.id, [RoutingTarget(u, "") for u in units], T0, DUE_DAYS
    )


def complete(w: World, request: Request, a: Assignment, attachments: list[str] | None = None) -> None:
    request.complete(w.actor(a.unit), a.id, DONE, T0, attachments)


def hand_back(w: World, request: Request, a: Assignment) -> None:
    request.hand_back(w.actor(a.unit), a.id, REASON, T0)


def fresh_events(request: Request) -> list[str]:
    """Schemas recorded since the last call."""
    schemas = [e.schema for e in request.events]
    request.events.clear()
    return schemas


# ------------------------------------------------------------------------------------------------ filing
def test_filing_starts_pending_at_migm(w: World) -> None:
    request = file(w)
    assert request.state is RequestState.BEKLEYEN
    assert request.migm_pending and not request.ready_to_conclude
    assert request.priority is Priority.NORMAL and request.kind is RequestKind.SIKAYET
    [m] = request.movements
    assert (m.action, m.actor_kind, m.actor_id, m.public) == (Action.FILED, ActorKind.MUHTAR, "m-1", True)
    [e] = request.events
    assert isinstance(e, events.RequestFiled)
    assert (e.schema, e.number, e.muhtar_id, e.kind, e.channel) == (
        "request.filed",
        1,
        "m-1",
        "sikayet",
        "web",
    )


DESCRIPTIONS_ACCEPTED = [
    ("a" * 20, "a" * 20),  # the minimum
    ("ş" * 4000, "ş" * 4000),  # the maximum, in Turkish letters
    ("  " + "ı" * 20 + "\n\n", "ı" * 20),  # surrounding blanks are trimmed
    ("satır bir\r\nsatır iki ve üç", "satır bir\nsatır iki ve üç"),  # Windows line ends normalised
    ("satır bir\rsatır iki ve üç", "satır bir\nsatır iki ve üç"),  # a lone CR too
    ("su\x00 kesintisi\x07 üç gündür\x1b sürüyor", "su kesintisi üç gündür sürüyor"),  # control characters
    ("sütun\tbir\tiki\tüç\tdört", "sütun\tbir\tiki\tüç\tdört"),  # tabs stay
]

DESCRIPTIONS_REFUSED = [
    ("", "empty"),
    ("   \n\t  ", "blank"),
    ("a" * 19, "one short"),
    ("   " + "a" * 19 + "   ", "short once trimmed"),
    ("a" * 4001, "one too long"),
    ("\x00" * 25, "only NUL characters (PostgreSQL text cannot hold them)"),
    ("\x00" * 10 + "a" * 19, "short once control characters are dropped"),
]


@pytest.mark.parametrize(("given", "stored"), DESCRIPTIONS_ACCEPTED)
def test_description_accepted_and_cleaned(w: World, given: str, stored: str) -> None:
    assert file(w, description=given).description == stored


@pytest.mark.parametrize(("given", "why"), DESCRIPTIONS_REFUSED)
def test_description_length_20_to_4000(w: World, given: str, why: str) -> None:
    with refused(ValidationFailed):
        file(w, description=given)


@pytest.mark.parametrize("kind", ["sikayet", "istek", "ihbar", "gorus_oneri"])
def test_the_four_kinds(w: World, kind: str) -> None:
    assert file(w, kind=kind).kind.value == kind


@pytest.mark.parametrize(
    "kind", ["", "SIKAYET", "şikâyet", "Şikâyet", "complaint", "sikayet ", "gorus", "öneri"]
)
def test_unknown_kind_refused(w: World, kind: str) -> None:
    with refused(ValidationFailed):
        file(w, kind=kind)


def test_only_a_muhtar_files(w: World) -> None:
    with refused(NotAllowed):
        file(w, muhtar=w.actor(w.migm))


# ---------------------------------------------------------------------------------------------- priority
def test_migm_sets_priority_as_an_internal_movement(w: World) -> None:
    request = file(w)
    request.events.clear()
    request.set_priority(w.actor(w.migm), "acil", T0)
    assert request.priority is Priority.ACIL
    assert request.movements[-1].action is Action.PRIORITY_SET and not request.movements[-1].public
    assert fresh_events(request) == ["request.priority_set"]


def test_setting_the_same_priority_changes_nothing(w: World) -> None:
    request = file(w)
    request.events.clear()
    request.set_priority(w.actor(w.migm), Priority.NORMAL, T0)
    assert len(request.movements) == 1 and request.events == []


@pytest.mark.parametrize("priority", ["", "urgent", "ACİL", "Acil", "yüksek", "3"])
def test_unknown_priority_refused(w: World, priority: str) -> None:
    with refused(ValidationFailed):
        file(w).set_priority(w.actor(w.migm), priority, T0)


def test_only_migm_sets_priority(w: World) -> None:
    request = file(w)
    route(w, request, w.ankara)
    with refused(NotAllowed):
        request.set_priority(w.actor(w.ankara), "acil", T0)


# ----------------------------------------------------------------------------------------------- routing
def test_only_migm_routes(w: World) -> None:
    request = file(w)
    route(w, request, w.ankara)
    for actor in (w.actor(w.ankara), w.actor(w.ankara_bb), w.actor(w.cankaya), w.muhtar):
        with refused(NotAllowed):
            request.route(actor, [RoutingTarget(w.bolu, "")], T0, DUE_DAYS)
    assert [a.unit for a in request.assignments] == [w.ankara]


@pytest.mark.parametrize("target", ["migm", "ankara_saglik", "bolu_ioi", "mengen", "closed_bel"])
def test_migm_routes_only_to_valilik_and_belediye(w: World, target: str) -> None:
    request = file(w)
    with refused(NotAllowed):
        route(w, request, getattr(w, target))
    assert request.assignments == [] and len(request.movements) == 1


def test_routing_to_several_units_of_both_kinds_at_once(w: World) -> None:
    request = file(w)
    request.events.clear()
    created = route(w, request, w.ankara, w.bolu, w.ankara_bb, note="Lütfen inceleyiniz.")
    assert [a.unit for a in created] == [w.ankara, w.bolu, w.ankara_bb]
    assert all(a.state is AssignmentState.NEW and a.parent_id is None for a in created)
    assert all(
        a.due_at == T0 + timedelta(days=DUE_DAYS) and a.assigned_by_unit_id == w.migm.id for a in created
    )
    assert request.state is RequestState.YONLENDIRILEN and not request.migm_pending
    routed = request.movements[1:]
    assert [m.target_unit_id for m in routed] == [w.ankara.id, w.bolu.id, w.ankara_bb.id]
    assert all(m.action is Action.ROUTED and m.note == "Lütfen inceleyiniz." for m in routed)
    [e] = request.events
    assert isinstance(e, events.RequestRouted)
    assert e.unit_ids == (w.ankara.id, w.bolu.id, w.ankara_bb.id)
    assert e.assignment_ids == tuple(a.id for a in created)


def test_routing_needs_a_target(w: World) -> None:
    with refused(ValidationFailed):
        file(w).route(w.actor(w.migm), [], T0, DUE_DAYS)


def test_routing_note_too_long_refused(w: World) -> None:
    request = file(w)
    with refused(ValidationFailed):
        route(w, request, w.ankara, note="x" * 4001)
    assert request.assignments == []


def test_never_twice_to_a_unit_with_an_open_assignment(w: World) -> None:
    request = file(w)
    with refused(InvalidState):
        route(w, request, w.ankara, w.ankara)
    assert request.assignments == []
    route(w, request, w.ankara)
    with refused(InvalidState):
        route(w, request, w.bolu, w.ankara)  # refused as a whole: Bolu is not routed either
    assert [a.unit for a in request.assignments] == [w.ankara]


def test_routed_again_after_handing_back(w: World) -> None:
    request = file(w)
    [first] = route(w, request, w.ankara)
    hand_back(w, request, first)
    assert request.migm_pending
    [second] = route(w, request, w.ankara)
    assert second.id != first.id and second.state is AssignmentState.NEW
    assert first.handback_reviewed  # re-routing is MİGM's answer to the hand-back
    assert request.state is RequestState.YONLENDIRILEN and not request.migm_pending


# ------------------------------------------------------------------------------------- valilik and units
def test_valilik_takes_it_on_and_completes(w: World) -> None:
    request = file(w)
    [a] = route(w, request, w.ankara)
    request.events.clear()
    with refused(InvalidState):
        complete(w, request, a)  # a Valilik first takes it on or forwards
    request.take_on(w.actor(w.ankara), a.id, T0)
    assert a.state is AssignmentState.IN_PROGRESS and a.taken_on_at == T0
    with refused(InvalidState):
        request.take_on(w.actor(w.ankara), a.id, T0)
    complete(w, request, a, ["ek-1"])
    assert (a.state, a.completion_note, a.attachment_ids) == (AssignmentState.COMPLETED, DONE, ["ek-1"])
    assert fresh_events(request) == ["assignment.taken_on", "assignment.completed"]
    assert request.ready_to_conclude and request.migm_pending


@pytest.mark.parametrize("note", ["", "   ", "tamm", "x" * 4001])
def test_completion_note_validated(w: World, note: str) -> None:
    request = file(w)
    [a] = route(w, request, w.ankara_bb)
    with refused(ValidationFailed):
        request.complete(w.actor(w.ankara_bb), a.id, note, T0)
    assert a.state is AssignmentState.NEW


FORWARD_TARGETS = [
    ("ankara", "ankara_saglik", None),
    ("ankara", "cankaya", None),
    ("bolu", "bolu_ioi", None),
    ("bolu", "mengen", None),
    ("ankara", "bolu_meb", NotAllowed),  # another province's İl Müdürlüğü
    ("ankara", "mengen", NotAllowed),  # another province's Kaymakamlık
    ("ankara", "ankara_bb", NotAllowed),  # a Belediye
    ("ankara", "bolu", NotAllowed),  # a Valilik
    ("ankara", "migm", NotAllowed),
]


@pytest.mark.parametrize(("valilik", "target", "error"), FORWARD_TARGETS)
def test_valilik_forwards_only_to_its_own_sub_units(
    w: World, valilik: str, target: str, error: type[DomainError] | None
) -> None:
    request = file(w)
    [a] = route(w, request, getattr(w, valilik))
    request.events.clear()
    if error is not None:
        with refused(error):
            forward(w, request, a, getattr(w, target))
        assert a.state is AssignmentState.NEW and len(request.assignments) == 1
        return
    [child] = forward(w, request, a, getattr(w, target))
    assert a.state is AssignmentState.FORWARDED
    assert (child.parent_id, child.unit, child.assigned_by_unit_id) == (a.id, getattr(w, target), a.unit.id)
    assert request.movements[-1].action is Action.FORWARDED
    assert fresh_events(request) == ["assignment.forwarded"]


@pytest.mark.parametrize("unit", ["ankara_bb", "ankara_saglik", "cankaya"])
def test_belediye_and_sub_units_never_forward(w: World, unit: str) -> None:
    request = file(w)
    [valilik, _] = route(w, request, w.ankara, w.ankara_bb)
    forward(w, request, valilik, w.ankara_saglik, w.cankaya)
    mine = next(a for a in request.assignments if a.unit is getattr(w, unit))
    with refused(NotAllowed):
        request.forward(w.actor(mine.unit), mine.id, [RoutingTarget(w.mengen, "")], T0, DUE_DAYS)
    assert mine.state is AssignmentState.NEW and len(request.assignments) == 4


def test_a_unit_acts_only_on_its_own_assignment(w: World) -> None:
    request = file(w)
    [ankara, bolu] = route(w, request, w.ankara, w.bolu)
    with refused(NotAllowed):
        request.take_on(w.actor(w.bolu), ankara.id, T0)
    with refused(NotAllowed):
        request.forward(w.actor(w.bolu), ankara.id, [RoutingTarget(w.bolu_meb, "")], T0, DUE_DAYS)
    with refused(NotAllowed):
        request.complete(w.actor(w.migm), bolu.id, DONE, T0)
    with refused(InvalidState):
        request.take_on(w.actor(w.bolu), "no-such-assignment", T0)


def test_valilik_completes_only_when_every_sub_unit_has_finished(w: World) -> None:
    request = file(w)
    [valilik] = route(w, request, w.ankara)
    saglik, cankaya = forward(w, request, valilik, w.ankara_saglik, w.cankaya)
    with refused(InvalidState):
        complete(w, request, valilik)  # two open children
    with refused(InvalidState):
        request.take_on(w.actor(w.ankara), valilik.id, T0)  # not while sub-units work
    with refused(InvalidState):
        hand_back(w, request, valilik)  # nor hand back
    request.take_on(w.actor(w.ankara_saglik), saglik.id, T0)
    complete(w, request, saglik)
    with refused(InvalidState):
        complete(w, request, valilik)  # one still open
    hand_back(w, request, cankaya)
    assert request.can_complete(valilik)
    complete(w, request, valilik)
    assert request.assignment(valilik.id).state is AssignmentState.COMPLETED and request.ready_to_conclude


def test_all_sub_units_handed_back_returns_the_valilik_assignment_to_new(w: World) -> None:
    request = file(w)
    [valilik] = route(w, request, w.bolu)
    meb, ioi = forward(w, request, valilik, w.bolu_meb, w.bolu_ioi)
    hand_back(w, request, meb)
    assert valilik.state is AssignmentState.FORWARDED
    hand_back(w, request, ioi)
    assert request.assignment(valilik.id).state is AssignmentState.NEW and not request.can_complete(valilik)
    assert not request.migm_pending  # the decision is the Valilik's, not MİGM's
    [again] = forward(w, request, valilik, w.bolu_meb)  # may forward again, even to the same sub-unit
    assert again.state is AssignmentState.NEW and meb.handback_reviewed and ioi.handback_reviewed


def test_valilik_may_take_it_on_after_its_sub_units_handed_back(w: World) -> None:
    request = file(w)
    [valilik] = route(w, request, w.bolu)
    [mengen] = forward(w, request, valilik, w.mengen)
    hand_back(w, request, mengen)
    request.take_on(w.actor(w.bolu), valilik.id, T0)
    complete(w, request, valilik)
    assert request.ready_to_conclude


def test_belediye_and_sub_unit_complete_without_taking_on(w: World) -> None:
    request = file(w)
    [valilik, belediye] = route(w, request, w.ankara, w.ankara_bb)
    [sub] = forward(w, request, valilik, w.cankaya)
    complete(w, request, belediye)
    complete(w, request, sub)
    assert belediye.state is sub.state is AssignmentState.COMPLETED


def test_a_closed_assignment_takes_no_action(w: World) -> None:
    request = file(w)
    [a] = route(w, request, w.ankara_bb)
    complete(w, request, a)
    acts: list[Callable[[], None]] = [
        lambda: request.take_on(w.actor(w.ankara_bb), a.id, T0),
        lambda: complete(w, request, a),
        lambda: hand_back(w, request, a),
    ]
    for act in acts:
        with refused(InvalidState):
            act()


def test_overdue_only_while_open(w: World) -> None:
    request = file(w)
    [a] = route(w, request, w.ankara_bb)
    assert not a.is_overdue(T0 + timedelta(days=DUE_DAYS))
    assert a.is_overdue(T0 + timedelta(days=DUE_DAYS, seconds=1))
    complete(w, request, a)
    assert not a.is_overdue(T0 + timedelta(days=99))


# ---------------------------------------------------------------------------------------------- hand-back
@pytest.mark.parametrize("unit", ["ankara", "bolu", "ankara_bb", "bolu_bel"])
def test_any_routed_unit_hands_back_to_migm(w: World, unit: str) -> None:
    request = file(w)
    [a] = route(w, request, getattr(w, unit))
    request.events.clear()
    hand_back(w, request, a)
    assert (a.state, a.handback_reason, a.closed_at) == (AssignmentState.HANDED_BACK, REASON, T0)
    assert request.state is RequestState.BEKLEYEN and request.migm_pending
    m = request.movements[-1]
    assert (m.action, m.public, m.note, m.assignment_id) == (Action.HANDED_BACK, False, REASON, a.id)
    assert fresh_events(request) == ["assignment.handed_back"]


@pytest.mark.parametrize("reason", ["", "     ", "yok", "uygn", " \n a \n "])
def test_hand_back_needs_a_reason(w: World, reason: str) -> None:
    request = file(w)
    [a] = route(w, request, w.ankara)
    with refused(ValidationFailed):
        request.hand_back(w.actor(w.ankara), a.id, reason, T0)
    assert a.is_open and request.state is RequestState.YONLENDIRILEN


def test_partial_hand_back_waits_for_migm_review(w: World) -> None:
    request = file(w)
    [valilik, belediye] = route(w, request, w.ankara, w.ankara_bb)
    hand_back(w, request, belediye)
    assert request.state is RequestState.YONLENDIRILEN and request.migm_pending
    with refused(NotAllowed):
        request.review_handback(w.actor(w.ankara), belediye.id, T0)
    with refused(InvalidState):
        request.review_handback(w.actor(w.migm), valilik.id, T0)  # nothing handed back there
    request.review_handback(w.actor(w.migm), belediye.id, T0)
    assert belediye.handback_reviewed and not request.migm_pending
    m = request.movements[-1]
    assert (m.action, m.public, m.assignment_id) == (Action.HANDBACK_REVIEWED, False, belediye.id)
    with refused(InvalidState):
        request.review_handback(w.actor(w.migm), belediye.id, T0)


def test_sub_unit_hand_back_goes_to_its_valilik(w: World) -> None:
    request = file(w)
    [valilik] = route(w, request, w.ankara)
    saglik, cankaya = forward(w, request, valilik, w.ankara_saglik, w.cankaya)
    hand_back(w, request, saglik)
    assert not request.migm_pending and request.state is RequestState.YONLENDIRILEN
    with refused(NotAllowed):
        request.review_handback(w.actor(w.migm), saglik.id, T0)
    request.review_handback(w.actor(w.ankara), saglik.id, T0)
    assert saglik.handback_reviewed and cankaya.is_open


# ---------------------------------------------------------------------------------------------- conclusion
def test_only_migm_concludes(w: World) -> None:
    request = file(w)
    [a] = route(w, request, w.ankara_bb)
    complete(w, request, a)
    for actor in (w.actor(w.ankara_bb), w.muhtar):
        with refused(NotAllowed):
            request.conclude(actor, "Talebiniz karşılanmıştır.", T0, [])


def test_conclusion_waits_for_every_assignment(w: World) -> None:
    request = file(w)
    [valilik, belediye] = route(w, request, w.ankara, w.ankara_bb)
    [sub] = forward(w, request, valilik, w.cankaya)
    complete(w, request, belediye)
    with refused(InvalidState):
        request.conclude(w.actor(w.migm), "Talebiniz karşılanmıştır.", T0, [])
    complete(w, request, sub)
    with refused(InvalidState):
        request.conclude(w.actor(w.migm), "Talebiniz karşılanmıştır.", T0, [])  # the Valilik has not
    complete(w, request, valilik, ["ek-v"])
    request.events.clear()
    request.conclude(w.actor(w.migm), "Talebiniz karşılanmıştır.", T0, ["ek-v"])
    assert request.state is RequestState.SONUCLANAN and not request.migm_pending and request.is_concluded
    assert (request.final_note, request.public_attachment_ids) == ("Talebiniz karşılanmıştır.", ["ek-v"])
    m = request.movements[-1]
    assert (m.action, m.public, m.note_public) == (Action.CONCLUDED, True, True)
    [e] = request.events
    assert isinstance(e, events.RequestConcluded)
    assert (e.schema, e.muhtar_id, e.direct) == ("request.concluded", "m-1", False)


def test_public_attachments_only_from_the_units(w: World) -> None:
    request = file(w)
    [a] = route(w, request, w.ankara_bb)
    complete(w, request, a, ["ek-1"])
    with refused(ValidationFailed):
        request.conclude(w.actor(w.migm), "Talebiniz karşılanmıştır.", T0, ["ek-1", "ek-baska"])
    assert not request.is_concluded


@pytest.mark.parametrize("hand_back_first", [False, True])
def test_migm_concludes_directly_with_a_reason(w: World, hand_back_first: bool) -> None:
    request = file(w)
    if hand_back_first:
        [a] = route(w, request, w.bolu_bel)
        hand_back(w, request, a)
    request.events.clear()
    with refused(ValidationFailed):
        request.conclude(w.actor(w.migm), " mük ", T0, [])
    request.conclude(w.actor(w.migm), "Aynı konuda 12 numaralı talep işlemde.", T0, [])
    assert request.state is RequestState.SONUCLANAN
    [e] = request.events
    assert isinstance(e, events.RequestConcluded) and e.direct


def concluded_request(w: World) -> tuple[Request, Assignment, Assignment, Assignment]:
    """Concluded, with a handed-back Belediye, a completed Valilik and its handed-back sub-unit."""
    request = file(w)
    [valilik, belediye] = route(w, request, w.ankara, w.ankara_bb)
    sub, saglik = forward(w, request, valilik, w.cankaya, w.ankara_saglik)
    hand_back(w, request, belediye)
    hand_back(w, request, sub)
    complete(w, request, saglik)
    complete(w, request, valilik)
    request.conclude(w.actor(w.migm), "Talebiniz karşılanmıştır.", T0, [])
    return request, valilik, belediye, sub


AFTER_CONCLUSION: list[tuple[str, Callable[[World, Request, Assignment, Assignment, Assignment], object]]] = [
    ("set_priority", lambda w, r, v, b, s: r.set_priority(w.actor(w.migm), "acil", T0)),
    ("route", lambda w, r, v, b, s: route(w, r, w.bolu)),
    ("review_handback", lambda w, r, v, b, s: r.review_handback(w.actor(w.migm), b.id, T0)),
    ("review_sub_handback", lambda w, r, v, b, s: r.review_handback(w.actor(w.ankara), s.id, T0)),
    ("take_on", lambda w, r, v, b, s: r.take_on(w.actor(w.ankara), v.id, T0)),
    ("forward", lambda w, r, v, b, s: forward(w, r, v, w.cankaya)),
    ("complete", lambda w, r, v, b, s: complete(w, r, v)),
    ("hand_back", lambda w, r, v, b, s: hand_back(w, r, v)),
    ("add_note", lambda w, r, v, b, s: r.add_note(w.actor(w.migm), "Sonradan not", T0)),
    ("conclude", lambda w, r, v, b, s: r.conclude(w.actor(w.migm), "Yeniden sonuç.", T0, [])),
]


@pytest.mark.parametrize(("action", "act"), AFTER_CONCLUSION, ids=[a for a, _ in AFTER_CONCLUSION])
def test_nothing_changes_a_concluded_request(
    w: World, action: str, act: Callable[[World, Request, Assignment, Assignment, Assignment], object]
) -> None:
    request, valilik, belediye, sub = concluded_request(w)
    before = (len(request.movements), len(request.assignments), [a.state for a in request.assignments])
    request.events.clear()
    with refused(InvalidState):
        act(w, request, valilik, belediye, sub)
    after = (len(request.movements), len(request.assignments), [a.state for a in request.assignments])
    assert after == before and request.events == [] and request.final_note == "Talebiniz karşılanmıştır."


# ------------------------------------------------------------------------------------- movements and events
def test_every_action_writes_a_movement_and_its_event(w: World) -> None:
    request = file(w)
    migm, ankara = w.actor(w.migm), w.actor(w.ankara)
    steps: list[tuple[Callable[[], object], list[Action], list[str]]] = [
        (lambda: request.set_priority(migm, "yuksek", T0), [Action.PRIORITY_SET], ["request.priority_set"]),
        (lambda: route(w, request, w.ankara, w.ankara_bb), [Action.ROUTED] * 2, ["request.routed"]),
        (
            lambda: hand_back(w, request, request.assignments[1]),
            [Action.HANDED_BACK],
            ["assignment.handed_back"],
        ),
        (
            lambda: request.review_handback(migm, request.assignments[1].id, T0),
            [Action.HANDBACK_REVIEWED],
            [],
        ),
        (
            lambda: forward(w, request, request.assignments[0], w.cankaya),
            [Action.FORWARDED],
            ["assignment.forwarded"],
        ),
        (
            lambda: request.add_note(ankara, "Kaymakamlıkla görüşüldü.", T0),
            [Action.NOTE],
            ["request.note_added"],
        ),
        (
            lambda: request.take_on(w.actor(w.cankaya), request.assignments[2].id, T0),
            [Action.TAKEN_ON],
            ["assignment.taken_on"],
        ),
        (lambda: complete(w, request, request.assignments[2]), [Action.COMPLETED], ["assignment.completed"]),
        (lambda: complete(w, request, request.assignments[0]), [Action.COMPLETED], ["assignment.completed"]),
        (
            lambda: request.conclude(migm, "Talebiniz karşılanmıştır.", T0, []),
            [Action.CONCLUDED],
            ["request.concluded"],
        ),
    ]
    seen = set(fresh_events(request))
    for act, actions, schemas in steps:
        before = len(request.movements)
        act()
        assert [m.action for m in request.movements[before:]] == actions
        recorded = fresh_events(request)
        assert recorded == schemas
        seen.update(recorded)
    assert all(m.at == T0 and m.actor_id for m in request.movements)
    assert seen == set(events.EVENT_TYPES)  # the life above records every kind of event there is


def test_events_carry_no_personal_data(w: World) -> None:
    request = file(w)
    [a] = route(w, request, w.ankara_bb, note="Muhtar Ayşe Yıldırım aradı.")
    request.add_note(w.actor(w.migm), "Telefon 05321234567", T0)
    complete(w, request, a)
    request.conclude(w.actor(w.migm), "Talebiniz karşılanmıştır.", T0, [])
    text = repr(request.events)
    for secret in (DESCRIPTION[:20], "Ayşe", "Yıldırım", "0532", DONE[:10], "karşılanmıştır"):
        assert secret not in text
    assert all(e.schema in events.EVENT_TYPES for e in request.events)


def test_internal_notes_never_in_public_movements(w: World) -> None:
    request = file(w)
    migm = w.actor(w.migm)
    request.set_priority(migm, "acil", T0)
    [valilik, belediye] = route(w, request, w.ankara, w.ankara_bb, note="İç yönlendirme notu")
    [sub] = forward(w, request, valilik, w.cankaya)
    hand_back(w, request, belediye)
    request.review_handback(migm, belediye.id, T0)
    request.add_note(w.actor(w.ankara), "İç not: muhtar tekrar aradı", T0)
    complete(w, request, sub)
    complete(w, request, valilik)
    request.conclude(migm, "Talebiniz karşılanmıştır.", T0, [])
    public = request.public_movements()
    assert [m.action for m in public] == [
        Action.FILED,
        Action.ROUTED,
        Action.ROUTED,
        Action.FORWARDED,
        Action.COMPLETED,
        Action.COMPLETED,
        Action.CONCLUDED,
    ]
    shown = [m.note for m in public if m.note is not None]
    assert shown == ["Talebiniz karşılanmıştır."]  # the final note is the only one meant for the muhtar
    assert all(m.public for m in public)
    internal = {m.action for m in request.movements if not m.public}
    assert internal == {Action.PRIORITY_SET, Action.HANDED_BACK, Action.HANDBACK_REVIEWED, Action.NOTE}
    assert len(request.movements) == len(public) + 4


# -------------------------------------------------------------------------------------------------- notes
def test_add_note_by_units_that_see_the_request(w: World) -> None:
    request = file(w)
    route(w, request, w.ankara_bb)
    request.add_note(w.actor(w.ankara_bb), "Ekip yönlendirildi.", T0)
    with refused(NotAllowed):
        request.add_note(w.actor(w.bolu_bel), "Görmediğim talep.", T0)
    with refused(NotAllowed):
        request.add_note(w.muhtar, "Muhtar notu.", T0)
    with refused(ValidationFailed):
        request.add_note(w.actor(w.migm), " x ", T0)
    assert [m.action for m in request.movements].count(Action.NOTE) == 1


# ------------------------------------------------------------------------------------------------ visibility
VISIBILITY = [
    # viewer, sees the request routed to Ankara Valiliği + Ankara BB, with Çankaya forwarded to
    ("migm", True),
    ("ankara", True),
    ("cankaya", True),
    ("ankara_bb", True),
    ("ankara_saglik", False),  # the Valilik's sub-unit that was not forwarded to
    ("bolu", False),  # another Valilik
    ("bolu_meb", False),
    ("bolu_ioi", False),
    ("bolu_bel", False),
    ("muhtar", True),
    ("other_muhtar", False),
]


@pytest.mark.parametrize(("viewer", "sees"), VISIBILITY)
def test_visibility(w: World, viewer: str, sees: bool) -> None:
    request = file(w)
    [valilik, _] = route(w, request, w.ankara, w.ankara_bb)
    forward(w, request, valilik, w.cankaya)
    attr = getattr(w, viewer)
    actor = attr if isinstance(attr, Actor) else w.actor(attr)
    assert request.visible_to(actor) is sees


def test_a_unit_sees_a_request_only_once_routed_to_it(w: World) -> None:
    request = file(w)
    assert request.visible_to(w.actor(w.migm)) and request.visible_to(w.muhtar)
    assert not request.visible_to(w.actor(w.ankara))
    [valilik] = route(w, request, w.ankara)
    assert request.visible_to(w.actor(w.ankara)) and not request.visible_to(w.actor(w.cankaya))
    forward(w, request, valilik, w.cankaya)
    assert request.visible_to(w.actor(w.cankaya))


def test_system_sees_everything_and_a_unitless_staff_nothing(w: World) -> None:
    request = file(w)
    assert request.visible_to(Actor(ActorKind.SYSTEM, "notifier", "Bildirim"))
    assert not request.visible_to(Actor(ActorKind.STAFF, "u-x", "Birimsiz"))
