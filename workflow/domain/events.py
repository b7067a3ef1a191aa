"""Domain events: recorded by the model, written to the outbox in the same transaction.

Payloads carry ids and numbers only, never personal data (no texts, names, TCKN or phone numbers):
whoever needs those reads them from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class Event:
    schema: ClassVar[str]
    version: ClassVar[int] = 1
    request_id: str
    number: int
    at: datetime


@dataclass(frozen=True)
class RequestFiled(Event):
    schema: ClassVar[str] = "request.filed"
    muhtar_id: str
    kind: str
    channel: str


@dataclass(frozen=True)
class PrioritySet(Event):
    schema: ClassVar[str] = "request.priority_set"
    priority: str


@dataclass(frozen=True)
class RequestRouted(Event):
    schema: ClassVar[str] = "request.routed"
    unit_ids: tuple[int, ...]
    assignment_ids: tuple[str, ...]


@dataclass(frozen=True)
class AssignmentTakenOn(Event):
    schema: ClassVar[str] = "assignment.taken_on"
    assignment_id: str
    unit_id: int


@dataclass(frozen=True)
class AssignmentForwarded(Event):
    schema: ClassVar[str] = "assignment.forwarded"
    assignment_id: str
    unit_id: int
    child_unit_ids: tuple[int, ...]
    child_assignment_ids: tuple[str, ...]


@dataclass(frozen=True)
class AssignmentCompleted(Event):
    schema: ClassVar[str] = "assignment.completed"
    assignment_id: str
    unit_id: int


@dataclass(frozen=True)
class AssignmentHandedBack(Event):
    schema: ClassVar[str] = "assignment.handed_back"
    assignment_id: str
    unit_id: int


@dataclass(frozen=True)
class NoteAdded(Event):
    schema: ClassVar[str] = "request.note_added"
    public: bool


@dataclass(frozen=True)
class RequestConcluded(Event):
    schema: ClassVar[str] = "request.concluded"
    muhtar_id: str
    direct: bool


EVENT_TYPES: dict[str, type[Event]] = {
    cls.schema: cls
    for cls in (
        RequestFiled,
        PrioritySet,
        RequestRouted,
        AssignmentTakenOn,
        AssignmentForwarded,
        AssignmentCompleted,
        AssignmentHandedBack,
        NoteAdded,
        RequestConcluded,
    )
}
