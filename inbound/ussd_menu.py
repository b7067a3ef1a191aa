"""The USSD menu as a state machine replayed over the ``*``-joined path of answers.

The operator's gateway sends, with every request of a session, everything the person has typed so far
joined by ``*`` ("", "1", "1*1234"). :func:`walk` replays those answers from the main menu: each answer
either moves to the next screen, ends in an action, or is invalid (the same screen again, with a short
error). Replaying makes the menu stateless between requests: any web worker can answer any step.

A ``*`` typed inside a free text cannot be told from the separator, so each ``*``-separated element is one
answer (docs/ussd.md says so).

Screens and transitions are data (:data:`MAIN_CHOICES`, :data:`KIND_CHOICES`); nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from inbound.commands import FILING_MIN_CHARS, MAX_NUMBER_DIGITS
from inbound.normalize import clean, fold
from workflow.domain.model import RequestKind

#: More answers than any walk through the menu needs: the rest is ignored (bounded work per request).
MAX_ANSWERS: Final = 20


class Screen(Enum):
    MAIN = "main"
    ASK_NUMBER = "ask_number"
    ASK_KIND = "ask_kind"
    ASK_TEXT = "ask_text"


@dataclass(frozen=True)
class Show:
    """Continue the session on ``screen``; ``error`` when the last answer was not valid there."""

    screen: Screen
    error: bool = False
    kind: RequestKind | None = None


@dataclass(frozen=True)
class Query:
    number: int


@dataclass(frozen=True)
class ListOpen:
    pass


@dataclass(frozen=True)
class HelpScreen:
    pass


@dataclass(frozen=True)
class File:
    kind: RequestKind
    text: str


Action = Query | ListOpen | HelpScreen | File
Step = Show | Action

#: Main menu answer -> the next screen or the action it starts.
MAIN_CHOICES: Final[dict[str, Screen | Action]] = {
    "1": Screen.ASK_NUMBER,
    "2": ListOpen(),
    "3": Screen.ASK_KIND,
    "4": HelpScreen(),
}

#: Kind menu answer -> request kind (the order of the screen's list).
KIND_CHOICES: Final[dict[str, RequestKind]] = {
    "1": RequestKind.SIKAYET,
    "2": RequestKind.ISTEK,
    "3": RequestKind.IHBAR,
    "4": RequestKind.GORUS_ONERI,
}


def answers(path: str) -> list[str]:
    """The answers in a gateway's ``text`` field (empty at the start of a session)."""
    if not path:
        return []
    return [clean(part) for part in path.split("*", MAX_ANSWERS)[:MAX_ANSWERS]]


def walk(path: str, *, min_chars: int = FILING_MIN_CHARS) -> Step:
    """Where the session is after replaying ``path`` from the main menu."""
    step: Step = Show(Screen.MAIN)
    for answer in answers(path):
        if not isinstance(step, Show):
            break  # the session already ended in an action; later answers are noise
        step = _next(step, answer, min_chars)
    return step


def _next(show: Show, answer: str, min_chars: int) -> Step:
    if show.screen is Screen.MAIN:
        target = MAIN_CHOICES.get(fold(answer))
        if target is None:
            return Show(Screen.MAIN, error=True)
        return Show(target) if isinstance(target, Screen) else target
    if show.screen is Screen.ASK_NUMBER:
        number = _number(answer)
        return Query(number) if number is not None else Show(Screen.ASK_NUMBER, error=True)
    if show.screen is Screen.ASK_KIND:
        kind = KIND_CHOICES.get(fold(answer))
        return Show(Screen.ASK_TEXT, kind=kind) if kind is not None else Show(Screen.ASK_KIND, error=True)
    assert show.kind is not None
    if len(answer) < min_chars:
        return Show(Screen.ASK_TEXT, error=True, kind=show.kind)
    return File(show.kind, answer)


def _number(answer: str) -> int | None:
    digits = fold(answer.replace(" ", "").lstrip("#")).lstrip("0")
    if not digits.isascii() or not digits.isdigit() or len(digits) > MAX_NUMBER_DIGITS:
        return None
    return int(digits)
