"""The USSD menu replayed over the *-joined answers: table of paths, malformed ones included."""

from __future__ import annotations

import pytest

from inbound.ussd_menu import File, HelpScreen, ListOpen, Query, Screen, Show, Step, walk
from workflow.domain.model import RequestKind

TEXT = "Köprü yıkılmak üzere, acil önlem alınmalı."

CASES: list[tuple[str, str, Step]] = [
    ("start", "", Show(Screen.MAIN)),
    ("query screen", "1", Show(Screen.ASK_NUMBER)),
    ("query", "1*1234", Query(1234)),
    ("query leading zeros", "1*001234", Query(1234)),
    ("query spaces", "1* 12 34 ", Query(1234)),
    ("query hash", "1*#1234", Query(1234)),
    ("query full-width", "1*１２３４", Query(1234)),
    ("query bad then good", "1*abc*1234", Query(1234)),
    ("query bad", "1*abc", Show(Screen.ASK_NUMBER, error=True)),
    ("query empty answer", "1*", Show(Screen.ASK_NUMBER, error=True)),
    ("query zero", "1*0", Show(Screen.ASK_NUMBER, error=True)),
    ("query too long", "1*" + "9" * 40, Show(Screen.ASK_NUMBER, error=True)),
    ("list", "2", ListOpen()),
    ("help", "4", HelpScreen()),
    ("kind screen", "3", Show(Screen.ASK_KIND)),
    ("kind chosen", "3*2", Show(Screen.ASK_TEXT, kind=RequestKind.ISTEK)),
    ("kind bad", "3*9", Show(Screen.ASK_KIND, error=True)),
    ("kind bad then good", "3*9*1", Show(Screen.ASK_TEXT, kind=RequestKind.SIKAYET)),
    ("file", "3*3*" + TEXT, File(RequestKind.IHBAR, TEXT)),
    ("file gorus", "3*4*" + TEXT, File(RequestKind.GORUS_ONERI, TEXT)),
    ("file too short", "3*1*kısa", Show(Screen.ASK_TEXT, error=True, kind=RequestKind.SIKAYET)),
    ("file short then long", "3*1*kısa*" + TEXT, File(RequestKind.SIKAYET, TEXT)),
    ("file control chars cleaned", "3*2*\x00" + TEXT + "\u200f", File(RequestKind.ISTEK, TEXT)),
    ("main bad", "9", Show(Screen.MAIN, error=True)),
    ("main letters", "abc", Show(Screen.MAIN, error=True)),
    ("main bad then good", "9*2", ListOpen()),
    ("main empty answer", "*", Show(Screen.MAIN, error=True)),
    ("main full-width digit", "２", ListOpen()),
    ("answers after an action ignored", "2*1*1234", ListOpen()),
    ("sql", "1*1; DROP TABLE requests", Show(Screen.ASK_NUMBER, error=True)),
    ("html", "<b>1</b>", Show(Screen.MAIN, error=True)),
    ("emoji", "🙂", Show(Screen.MAIN, error=True)),
    ("very many answers", "9*" * 10_000, Show(Screen.MAIN, error=True)),
]


@pytest.mark.parametrize(("path", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_walk(path: str, expected: Step) -> None:
    assert walk(path) == expected
