"""The text progress bar of `muhtar registry load`: live on a terminal, final lines only elsewhere."""

from __future__ import annotations

import io

from workflow.registry.commands import progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(stream: io.StringIO) -> str:
    bar = progress_bar(stream, min_interval_s=0)
    for done in (0, 50, 100):
        bar("units", done, 100)
    bar("muhtarliks", 10, 10)
    return stream.getvalue()


def test_on_a_terminal_the_bar_is_redrawn_in_place() -> None:
    text = _feed(Terminal())
    assert text.count("\r") == 4
    assert "[" + "#" * 15 + "." * 15 + "]     50/100" in text
    assert text.endswith("\rmuhtarliks  [" + "#" * 30 + "]     10/10\n")


def test_elsewhere_only_each_stage_final_line_is_written() -> None:
    assert _feed(io.StringIO()) == (
        "units       [" + "#" * 30 + "]    100/100\n" + "muhtarliks  [" + "#" * 30 + "]     10/10\n")


def test_an_empty_stage_counts_as_complete() -> None:
    stream = Terminal()
    progress_bar(stream)("units", 0, 0)
    assert stream.getvalue() == "\runits       [" + "#" * 30 + "]      0/0\n"
