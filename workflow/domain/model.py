"""The request (talep) aggregate: its assignments per unit, its history, and the rules of its life.

Pure Python: the clock and ids come in as arguments, and what happened is recorded as events
(``Request.events``) for the unit of work to write to the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import uuid4

from workflow.domain import events
from workflow.domain.errors import InvalidState, NotAllowed, ValidationFailed
from workflow.domain.units import ROUTING_TARGETS, SUB_UNIT_KINDS, Actor, ActorKind, UnitKind, UnitRef
from workflow.domain.vocabulary import (
    ASSIGNMENT_STATE_LABELS as ASSIGNMENT_STATE_LABELS,
)
from workflow.domain.vocabulary import (
    DESCRIPTION_MAX as DESCRIPTION_MAX,
)

# Re-exported: callers import the vocabulary from the model.
from workflow.domain.vocabulary import (
    DESCRIPTION_MIN as DESCRIPTION_MIN,
)
from workflow.domain.vocabulary import (
    KIND_LABELS as KIND_LABELS,
)
from workflow.domain.vocabulary import (
    NOTE_MAX as NOTE_MAX,
)
from workflow.domain.vocabulary import (
    OPEN_ASSIGNMENT_STATES as OPEN_ASSIGNMENT_STATES,
)
from workflow.domain.vocabulary import (
    PRIORITY_LABELS as PRIORITY_LABELS,
)
from workflow.domain.vocabulary import (
    PRIORITY_RANK as PRIORITY_RANK,
)
from workflow.domain.vocabulary import (
    REASON_MIN as REASON_MIN,
)
from workflow.domain.vocabulary import (
    STATE_LABELS as STATE_LABELS,
)
from workflow.domain.vocabulary import (
    Action as Action,
)
from workflow.domain.vocabulary import (
    AssignmentState as AssignmentState,
)
from workflow.domain.vocabulary import (
    Channel as Channel,
)
from workflow.domain.vocabulary import (
    Priority as Priority,
)
from workflow.domain.vocabulary import (
    RequestKind as RequestKind,
)
from workflow.domain.vocabulary import (
    RequestState as RequestState,
)


@dataclass(frozen=True)
class Movement:
    """One hareket: who, which unit, when, what, note; ``public`` False for internal notes."""

    at: datetime
    action: Action
    actor_kind: ActorKind
    actor_id: str | None
    actor_name: str
    unit_id: int | None
    unit_name: str | None
    note: str | None
    public: bool
    note_public: bool = False
    assignment_id: str | None = None
    target_unit_id: int | None = None
    target_unit_name: str | None = None


@dataclass(frozen=True)
class RoutingTarget:
    unit: UnitRef
    note: str


@dataclass
class Assignment:
    """A unit's part of a request; a Valilik's forwards are its children (``parent_id``)."""

    id: str
    request_id: str
    unit: UnitRef
    assigned_by_unit_id: int
    routing_note: str
    assigned_at: datetime
    due_at: datetime
    parent_id: str | None = None
    state: AssignmentState = AssignmentState.NEW
    taken_on_at: datetime | None = None
    completed_at: datetime | None = None
    completion_note: str | None = None
    attachment_ids: list[str] = field(default_factory=list)
    handback_reason: str | None = None
    closed_at: datetime | None = None
    handback_reviewed: bool = False

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_ASSIGNMENT_STATES

    def is_overdue(self, now: datetime) -> bool:
        return self.is_open and now > self.due_at


#: C0 control characters and DEL, except tab and newline: dropped from every text. They mean nothing on a
#: screen or in an SMS, and PostgreSQL text cannot hold NUL at all (the insert would fail after validation).
_CONTROL_CHARACTERS = dict.fromkeys([*(c for c in range(32) if c not in (9, 10)), 127])


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL_CHARACTERS).strip()


def _require_text(text: str | None, *, what: str, minimum: int, maximum: int = NOTE_MAX) -> str:
    cleaned = _clean(text)
    if len(cleaned) < minimum:
        raise ValidationFailed(f"{what} en az {minimum} karakter olmalıdır.")
    if len(cleaned) > maximum:
        raise ValidationFailed(f"{what} en fazla {maximum} karakter olabilir.")
    return cleaned


def _optional_note(text: str | None) -> str:
    cleaned = _clean(text)
    if len(cleaned) > NOTE_MAX:
        raise ValidationFailed(f"Not en fazla {NOTE_MAX} karakter olabilir.")
    return cleaned


class Request:
    """A talep: filed by a muhtar, triaged and routed by MİGM, worked by units, concluded by MİGM."""

    def __init__(
        self,
        *,
        id: str,
        number: int,
        muhtar_id: str,
        kind: RequestKind,
        description: str,
        channel: Channel,
        created_at: datetime,
        priority: Priority = Priority.NORMAL,
        updated_at: datetime | None = None,
        concluded_at: datetime | None = None,
        final_note: str | None = None,
        public_attachment_ids: list[str] | None = None,
        assignments: list[Assignment] | None = None,
        movements: list[Movement] | None = None,
        version: int = 0,
    ) -> None:
        self.id = id
        self.number = number
        self.muhtar_id = muhtar_id
        self.kind = kind
        self.description = description
        self.channel = channel
        self.priority = priority
        self.created_at = created_at
        self.updated_at = updated_at or created_at
        self.concluded_at = concluded_at
        self.final_note = final_note
        self.public_attachment_ids = list(public_attachment_ids or [])
        self.assignments = list(assignments or [])
        self.movements = list(movements or [])
        self.version = version
        self.events: list[events.Event] = []

    # ----------------------------------------------------------------- filing
    @classmethod
    def file(
        cls,
        *,
        number: int,
        muhtar: Actor,
        kind: RequestKind | str,
        description: str,
        channel: Channel,
        now: datetime,
        request_id: str | None = None,
    ) -> Request:
        if muhtar.kind is not ActorKind.MUHTAR:
            raise NotAllowed("Talebi yalnızca muhtar oluşturabilir.")
        kind, text = cls.check_filing(kind, description)
        request = cls(
            id=request_id or uuid4().hex,
            number=number,
            muhtar_id=muhtar.id,
            kind=kind,
            description=text,
            channel=channel,
            created_at=now,
        )
        request._move(muhtar, Action.FILED, now, note=None, public=True)
        request.events.append(
            events.RequestFiled(
                request.id, number, now, muhtar_id=muhtar.id, kind=kind.value, channel=channel.value
            )
        )
        return request

    @staticmethod
    def check_filing(kind: RequestKind | str, description: str) -> tuple[RequestKind, str]:
        """Validate a filing before a request number is drawn for it (numbers are never reused)."""
        try:
            kind = RequestKind(kind)
        except ValueError:
            raise ValidationFailed(
                "Başvuru türü şikâyet, istek, ihbar veya görüş ve öneri olmalıdır."
            ) from None
        return kind, _require_text(
            description, what="Açıklama", minimum=DESCRIPTION_MIN, maximum=DESCRIPTION_MAX
        )

    # ------------------------------------------------------------ derived state
    @property
    def is_concluded(self) -> bool:
        return self.concluded_at is not None

    @property
    def top_level(self) -> list[Assignment]:
        return [a for a in self.assignments if a.parent_id is None]

    def children_of(self, assignment_id: str) -> list[Assignment]:
        return [a for a in self.assignments if a.parent_id == assignment_id]

    @property
    def state(self) -> RequestState:
        if self.is_concluded:
            return RequestState.SONUCLANAN
        if any(a.state is not AssignmentState.HANDED_BACK for a in self.top_level):
            return RequestState.YONLENDIRILEN
        return RequestState.BEKLEYEN

    @property
    def migm_pending(self) -> bool:
        """MİGM has something to do: triage, a hand-back to review, or a conclusion to make."""
        if self.is_concluded:
            return False
        top = self.top_level
        if not any(a.is_open for a in top):
            return True
        return any(a.state is AssignmentState.HANDED_BACK and not a.handback_reviewed for a in top)

    @property
    def ready_to_conclude(self) -> bool:
        """Every routed unit has finished and at least one completed (SÜRECİ TAMAMLA)."""
        top = self.top_level
        return (
            not self.is_concluded
            and not any(a.is_open for a in top)
            and any(a.state is AssignmentState.COMPLETED for a in top)
        )

    def assignment(self, assignment_id: str) -> Assignment:
        for a in self.assignments:
            if a.id == assignment_id:
                return a
        raise InvalidState("Bu talepte böyle bir görev bulunamadı.")

    def open_assignment_for(self, unit_id: int) -> Assignment | None:
        return next((a for a in self.assignments if a.unit.id == unit_id and a.is_open), None)

    def can_complete(self, assignment: Assignment) -> bool:
        """İŞLEMİ TAMAMLA: own work taken on, or (a Valilik) every sub-unit finished and one completed."""
        if assignment.state is AssignmentState.IN_PROGRESS:
            return True
        if assignment.state is AssignmentState.NEW:
            return assignment.unit.kind is not UnitKind.VALILIK
        if assignment.state is AssignmentState.FORWARDED:
            children = self.children_of(assignment.id)
            return not any(c.is_open for c in children) and any(
                c.state is AssignmentState.COMPLETED for c in children
            )
        return False

    # ------------------------------------------------------------ MİGM actions
    def set_priority(self, actor: Actor, priority: Priority | str, now: datetime) -> None:
        self._ensure_open()
        self._ensure_migm(actor, "Önceliği yalnızca MİGM belirleyebilir.")
        try:
            priority = Priority(priority)
        except ValueError:
            raise ValidationFailed("Öncelik Düşük, Normal, Yüksek veya Acil olmalıdır.") from None
        if priority is self.priority:
            return
        self.priority = priority
        self._move(actor, Action.PRIORITY_SET, now, note=PRIORITY_LABELS[priority], public=False)
        self.events.append(events.PrioritySet(self.id, self.number, now, priority=priority.value))

    def route(
        self, actor: Actor, targets: list[RoutingTarget], now: datetime, due_days: int
    ) -> list[Assignment]:
        """SEÇİLEN BİRİMLERE YÖNLENDİR: MİGM routes to one or more Valilik and/or Belediye."""
        self._ensure_open()
        self._ensure_migm(actor, "Talepleri birimlere yalnızca MİGM yönlendirebilir.")
        assert actor.unit is not None
        self._check_targets(targets, allowed=ROUTING_TARGETS, parent=None)
        created = [self._assign(actor, t, now, due_days, parent=None) for t in targets]
        for a in self.top_level:
            if a.state is AssignmentState.HANDED_BACK:
                a.handback_reviewed = True
        self.events.append(
            events.RequestRouted(
                self.id,
                self.number,
                now,
                unit_ids=tuple(a.unit.id for a in created),
                assignment_ids=tuple(a.id for a in created),
            )
        )
        return created

    def review_handback(self, actor: Actor, assignment_id: str, now: datetime) -> None:
        """MİGM (or the Valilik, for its sub-unit) has seen a hand-back and decided not to re-route it."""
        self._ensure_open()
        assignment = self.assignment(assignment_id)
        owner = self._handback_reviewer(assignment)
        if not actor.belongs_to(owner):
            raise NotAllowed("Bu iadeyi yalnızca görevi veren birim değerlendirebilir.")
        if assignment.state is not AssignmentState.HANDED_BACK or assignment.handback_reviewed:
            raise InvalidState("Değerlendirilecek bir iade yok.")
        assignment.handback_reviewed = True
        self._move(actor, Action.HANDBACK_REVIEWED, now, note=None, public=False, assignment=assignment)

    def conclude(
        self, actor: Actor, final_note: str, now: datetime, public_attachment_ids: list[str]
    ) -> None:
        """SÜRECİ TAMAMLA once every routed unit has finished, or directly (no open routing) with a reason."""
        self._ensure_open()
        self._ensure_migm(actor, "Süreci yalnızca MİGM tamamlayabilir.")
        if any(a.is_open for a in self.assignments):
            raise InvalidState("Yönlendirilen birimlerin tamamı işlemini bitirmeden süreç tamamlanamaz.")
        direct = not any(a.state is AssignmentState.COMPLETED for a in self.top_level)
        what = "Kapatma gerekçesi" if direct else "Sonuç notu"
        note = _require_text(final_note, what=what, minimum=REASON_MIN)
        known = {att for a in self.assignments for att in a.attachment_ids}
        unknown = [att for att in public_attachment_ids if att not in known]
        if unknown:
            raise ValidationFailed("Muhtara gösterilecek ekler yalnızca birimlerin eklerinden seçilebilir.")
        self.final_note = note
        self.public_attachment_ids = list(dict.fromkeys(public_attachment_ids))
        self.concluded_at = now
        self._move(actor, Action.CONCLUDED, now, note=note, public=True, note_public=True)
        self.events.append(
            events.RequestConcluded(self.id, self.number, now, muhtar_id=self.muhtar_id, direct=direct)
        )

    # ------------------------------------------------------------ unit actions
    def take_on(self, actor: Actor, assignment_id: str, now: datetime) -> None:
        """Üzerine Al: the unit handles it itself."""
        assignment = self._own_open_assignment(actor, assignment_id)
        if assignment.state is AssignmentState.IN_PROGRESS:
            raise InvalidState("Bu görev zaten biriminizin üzerinde.")
        if any(c.is_open for c in self.children_of(assignment.id)):
            raise InvalidState("Alt birimlerde süren işler varken görev üzerine alınamaz.")
        assignment.state = AssignmentState.IN_PROGRESS
        assignment.taken_on_at = now
        self._move(actor, Action.TAKEN_ON, now, note=None, public=True, assignment=assignment)
        self.events.append(
            events.AssignmentTakenOn(
                self.id, self.number, now, assignment_id=assignment.id, unit_id=assignment.unit.id
            )
        )

    def forward(
        self, actor: Actor, assignment_id: str, targets: list[RoutingTarget], now: datetime, due_days: int
    ) -> list[Assignment]:
        """A Valilik forwards to one or more of its own sub-units."""
        assignment = self._own_open_assignment(actor, assignment_id)
        if assignment.unit.kind is not UnitKind.VALILIK:
            raise NotAllowed("Yalnızca Valilikler alt birimlerine yönlendirebilir.")
        self._check_targets(targets, allowed=SUB_UNIT_KINDS, parent=assignment)
        created = [self._assign(actor, t, now, due_days, parent=assignment) for t in targets]
        assignment.state = AssignmentState.FORWARDED
        for c in self.children_of(assignment.id):
            if c.state is AssignmentState.HANDED_BACK:
                c.handback_reviewed = True
        self.events.append(
            events.AssignmentForwarded(
                self.id,
                self.number,
                now,
                assignment_id=assignment.id,
                unit_id=assignment.unit.id,
                child_unit_ids=tuple(a.unit.id for a in created),
                child_assignment_ids=tuple(a.id for a in created),
            )
        )
        return created

    def complete(
        self,
        actor: Actor,
        assignment_id: str,
        note: str,
        now: datetime,
        attachment_ids: list[str] | None = None,
    ) -> None:
        """İŞLEMİ TAMAMLA with a note and optional attachments."""
        assignment = self._own_open_assignment(actor, assignment_id)
        if not self.can_complete(assignment):
            if assignment.state is AssignmentState.FORWARDED:
                raise InvalidState("Alt birimlerin tamamı işlemini bitirmeden görev tamamlanamaz.")
            raise InvalidState(
                "Görevi tamamlamadan önce üzerinize almalı ya da alt birimlere yönlendirmelisiniz."
            )
        assignment.completion_note = _require_text(note, what="Tamamlama notu", minimum=REASON_MIN)
        assignment.attachment_ids = list(dict.fromkeys(attachment_ids or []))
        assignment.state = AssignmentState.COMPLETED
        assignment.completed_at = now
        assignment.closed_at = now
        self._move(
            actor, Action.COMPLETED, now, note=assignment.completion_note, public=True, assignment=assignment
        )
        self.events.append(
            events.AssignmentCompleted(
                self.id, self.number, now, assignment_id=assignment.id, unit_id=assignment.unit.id
            )
        )

    def hand_back(self, actor: Actor, assignment_id: str, reason: str, now: datetime) -> None:
        """ "Not our responsibility": back to MİGM's triage (or to the Valilik, for a sub-unit)."""
        assignment = self._own_open_assignment(actor, assignment_id)
        if any(c.is_open for c in self.children_of(assignment.id)):
            raise InvalidState("Alt birimlerde süren işler varken görev iade edilemez.")
        assignment.handback_reason = _require_text(reason, what="İade gerekçesi", minimum=REASON_MIN)
        assignment.state = AssignmentState.HANDED_BACK
        assignment.closed_at = now
        self._move(
            actor,
            Action.HANDED_BACK,
            now,
            note=assignment.handback_reason,
            public=False,
            assignment=assignment,
        )
        if assignment.parent_id is not None:
            self._reopen_parent_if_left_empty(assignment.parent_id)
        self.events.append(
            events.AssignmentHandedBack(
                self.id, self.number, now, assignment_id=assignment.id, unit_id=assignment.unit.id
            )
        )

    def add_note(self, actor: Actor, note: str, now: datetime) -> None:
        """An internal note, never shown to the muhtar, by any unit that sees the request."""
        self._ensure_open()
        if actor.kind is not ActorKind.STAFF or not self.visible_to(actor):
            raise NotAllowed("Bu talebe not ekleme yetkiniz yok.")
        text = _require_text(note, what="Not", minimum=2)
        self._move(actor, Action.NOTE, now, note=text, public=False)
        self.events.append(events.NoteAdded(self.id, self.number, now, public=False))

    # ------------------------------------------------------------- visibility
    def visible_to(self, viewer: Actor) -> bool:
        if viewer.kind is ActorKind.MUHTAR:
            return viewer.id == self.muhtar_id
        if viewer.kind is ActorKind.SYSTEM:
            return True
        if viewer.unit is None:
            return False
        return viewer.unit.is_migm or any(a.unit.id == viewer.unit.id for a in self.assignments)

    def public_movements(self) -> list[Movement]:
        """The history a muhtar sees: units and steps, never internal notes.

        A public step may carry a staff-to-staff note (a routing or completion note): the step is shown,
        its note is blanked unless it was written for the muhtar (``note_public``, the final note).
        """
        return [m if m.note_public else replace(m, note=None) for m in self.movements if m.public]

    # --------------------------------------------------------------- helpers
    def _ensure_open(self) -> None:
        if self.is_concluded:
            raise InvalidState("Sonuçlanmış bir talepte değişiklik yapılamaz.")

    @staticmethod
    def _ensure_migm(actor: Actor, message: str) -> None:
        if not actor.is_migm:
            raise NotAllowed(message)

    def _own_open_assignment(self, actor: Actor, assignment_id: str) -> Assignment:
        self._ensure_open()
        assignment = self.assignment(assignment_id)
        if not actor.belongs_to(assignment.unit.id):
            raise NotAllowed("Bu görev biriminize ait değil.")
        if not assignment.is_open:
            raise InvalidState("Bu görev kapanmış; üzerinde işlem yapılamaz.")
        return assignment

    def _check_targets(
        self, targets: list[RoutingTarget], *, allowed: frozenset[UnitKind], parent: Assignment | None
    ) -> None:
        if not targets:
            raise ValidationFailed("En az bir birim seçmelisiniz.")
        seen: set[int] = set()
        for t in targets:
            unit = t.unit
            if unit.kind not in allowed or not unit.active:
                raise NotAllowed(f"{unit.name} bu işlem için seçilebilecek bir birim değil.")
            if parent is not None and unit.parent_id != parent.unit.id:
                raise NotAllowed(f"{unit.name} Valiliğinizin alt birimi değil.")
            if unit.id in seen or self.open_assignment_for(unit.id) is not None:
                raise InvalidState(f"{unit.name} bu talep üzerinde zaten çalışıyor.")
            seen.add(unit.id)
            _optional_note(t.note)

    def _assign(
        self, actor: Actor, target: RoutingTarget, now: datetime, due_days: int, parent: Assignment | None
    ) -> Assignment:
        assert actor.unit is not None
        assignment = Assignment(
            id=uuid4().hex,
            request_id=self.id,
            unit=target.unit,
            assigned_by_unit_id=actor.unit.id,
            routing_note=_optional_note(target.note),
            assigned_at=now,
            due_at=now + timedelta(days=due_days),
            parent_id=parent.id if parent else None,
        )
        self.assignments.append(assignment)
        action = Action.FORWARDED if parent else Action.ROUTED
        self._move(
            actor,
            action,
            now,
            note=assignment.routing_note or None,
            public=True,
            assignment=assignment,
            target=target.unit,
        )
        return assignment

    def _reopen_parent_if_left_empty(self, parent_id: str) -> None:
        parent = self.assignment(parent_id)
        children = self.children_of(parent_id)
        if parent.state is AssignmentState.FORWARDED and all(
            c.state is AssignmentState.HANDED_BACK for c in children
        ):
            # Every sub-unit refused: the decision is the Valilik's again.
            parent.state = AssignmentState.NEW

    def _handback_reviewer(self, assignment: Assignment) -> int:
        if assignment.parent_id is None:
            return self._migm_unit_id(assignment)
        return self.assignment(assignment.parent_id).unit.id

    @staticmethod
    def _migm_unit_id(assignment: Assignment) -> int:
        return assignment.assigned_by_unit_id

    def _move(
        self,
        actor: Actor,
        action: Action,
        now: datetime,
        *,
        note: str | None,
        public: bool,
        note_public: bool = False,
        assignment: Assignment | None = None,
        target: UnitRef | None = None,
    ) -> None:
        self.movements.append(
            Movement(
                at=now,
                action=action,
                actor_kind=actor.kind,
                actor_id=actor.id,
                actor_name=actor.name,
                unit_id=actor.unit.id if actor.unit else None,
                unit_name=actor.unit.name if actor.unit else None,
                note=note,
                public=public,
                note_public=note_public and public,
                assignment_id=assignment.id if assignment else None,
                target_unit_id=target.id if target else None,
                target_unit_name=target.name if target else None,
            )
        )
        self.updated_at = now
