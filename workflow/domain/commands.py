"""Commands: what an entry point (web view, SMS command, USSD step, CLI) asks the service layer to do.

Staff commands name the acting user by id; the service layer loads the user's unit and role from the
database, so no entry point can claim a unit it does not belong to. ``expected_version`` is the request
version the user's screen showed: a stale screen gets a "reload" error instead of a lost update.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    pass


@dataclass(frozen=True)
class FileRequest(Command):
    muhtar_id: str
    kind: str
    description: str
    channel: str = "web"
    idempotency_key: str | None = None


@dataclass(frozen=True)
class StaffCommand(Command):
    user_id: str
    number: int


@dataclass(frozen=True)
class Target:
    unit_id: int
    note: str = ""


@dataclass(frozen=True)
class SetPriority(StaffCommand):
    priority: str
    expected_version: int | None = None


@dataclass(frozen=True)
class RouteRequest(StaffCommand):
    targets: tuple[Target, ...]
    expected_version: int | None = None


@dataclass(frozen=True)
class ReviewHandback(StaffCommand):
    assignment_id: str
    expected_version: int | None = None


@dataclass(frozen=True)
class TakeOn(StaffCommand):
    assignment_id: str
    expected_version: int | None = None


@dataclass(frozen=True)
class Forward(StaffCommand):
    assignment_id: str
    targets: tuple[Target, ...]
    expected_version: int | None = None


@dataclass(frozen=True)
class Complete(StaffCommand):
    assignment_id: str
    note: str
    attachment_ids: tuple[str, ...] = ()
    expected_version: int | None = None


@dataclass(frozen=True)
class HandBack(StaffCommand):
    assignment_id: str
    reason: str
    expected_version: int | None = None


@dataclass(frozen=True)
class AddNote(StaffCommand):
    note: str


@dataclass(frozen=True)
class Conclude(StaffCommand):
    final_note: str
    public_attachment_ids: tuple[str, ...] = ()
    expected_version: int | None = None
