"""The `muhtar` command frame: table-driven dispatch, settings errors, exit codes."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from workflow.entrypoints import cli
from workflow.entrypoints.cli import COMMANDS, Command, main
from workflow.settings import Settings

SECRET_KEY = "s" * 40
PERSONAL = "12345678950"  # stands for personal data inside an exception message

# --- commands used by the tests (reached through the table, like real ones) -------------------------

calls: list[tuple[str, Settings, argparse.Namespace]] = []


def count_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, required=True)


def sync_command(settings: Settings, args: argparse.Namespace) -> int:
    calls.append(("sync", settings, args))
    return 0


async def async_command(settings: Settings, args: argparse.Namespace) -> int:
    calls.append(("async", settings, args))
    return args.count


def failing_command(settings: Settings, args: argparse.Namespace) -> int:
    raise ValueError(f"duplicate key tckn={PERSONAL}")


def interrupted_command(settings: Settings, args: argparse.Namespace) -> int:
    raise KeyboardInterrupt


def sloppy_command(settings: Settings, args: argparse.Namespace) -> object:
    return "done"


HERE = "tests.unit.test_cli"
TABLE = {
    ("hello",): Command(f"{HERE}:sync_command", "say hello"),
    ("count", "up"): Command(f"{HERE}:async_command", "count asynchronously", f"{HERE}:count_arguments"),
    ("fail",): Command(f"{HERE}:failing_command", "always fails"),
    ("interrupt",): Command(f"{HERE}:interrupted_command", "is interrupted"),
    ("sloppy",): Command(f"{HERE}:sloppy_command", "returns no exit code"),
    ("broken",): Command("tests.unit.no_such_module:run", "module missing", "tests.unit.no_such_module:args"),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("MUHTAR_") and not name.startswith("MUHTAR_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MUHTAR_WEB_SECRET_KEY", SECRET_KEY)  # keeps var/secret_key out of the tests
    calls.clear()
    yield


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_help_lists_commands_without_importing_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"], TABLE) == 0
    out = capsys.readouterr().out
    for word in ("hello", "count", "broken", "--config"):
        assert word in out


def test_group_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", "--help"], TABLE) == 0
    assert "count asynchronously" in capsys.readouterr().out


# (argv, exit code, text expected on stderr)
USAGE_ERRORS = [
    ([], 2, "usage: muhtar"),
    (["count"], 2, "usage: muhtar count"),
    (["nope"], 2, "invalid choice: 'nope'"),
    (["count", "down"], 2, "invalid choice: 'down'"),
    (["count", "up"], 2, "the following arguments are required: --count"),
    (["count", "up", "--count", "x"], 2, "invalid int value: 'x'"),
    (["hello", "extra"], 2, "unrecognized arguments: extra"),
    (["broken"], 1, "muhtar: cannot load the command: ModuleNotFoundError"),
]


@pytest.mark.parametrize(("argv", "code", "text"), USAGE_ERRORS)
def test_usage_errors(argv: list[str], code: int, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv, TABLE) == code
    assert text in capsys.readouterr().err
    assert calls == []


def test_sync_command_receives_settings_and_args() -> None:
    assert main(["hello"], TABLE) == 0
    [(kind, settings, args)] = calls
    assert kind == "sync" and isinstance(settings, Settings) and args.command_path == ("hello",)


def test_async_command_is_run_and_its_code_returned() -> None:
    assert main(["count", "up", "--count", "3"], TABLE) == 3
    assert [c[0] for c in calls] == ["async"]


def test_bad_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MUHTAR_SMPP_WINDOW", "abc")
    assert main(["hello"], TABLE) == 2
    assert stderr_lines(capsys) == [
        "muhtar: configuration error: setting smpp.window (MUHTAR_SMPP_WINDOW): "
        "expected an integer between 1 and 1000, got 'abc'"
    ]
    assert calls == []


def test_config_option_and_bad_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.toml"
    site.write_text("[smpp]\nwindow = 42\n", encoding="utf-8")
    assert main(["--config", str(site), "hello"], TABLE) == 0
    assert calls[0][1].smpp.window == 42
    site.write_text("[smpp]\nwindow = 0\n", encoding="utf-8")
    assert main(["hello", "--config", str(site)], TABLE) == 2
    assert stderr_lines(capsys) == [
        f"muhtar: configuration error: setting smpp.window ({site}): "
        "expected an integer between 1 and 1000, got 0"
    ]


def test_unexpected_exception_is_one_line_without_personal_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fail"], TABLE) == 1
    lines = stderr_lines(capsys)
    assert len(lines) == 1
    assert "command 'fail' failed: ValueError" in lines[0]
    assert PERSONAL not in lines[0] and "Traceback" not in lines[0]


def test_traceback_only_at_debug_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MUHTAR_LOGGING_LEVEL", "DEBUG")
    assert main(["fail"], TABLE) == 1
    assert "Traceback" in capsys.readouterr().err


def test_interrupt_and_non_integer_result() -> None:
    assert main(["interrupt"], TABLE) == 130
    assert main(["sloppy"], TABLE) == 1


def test_every_real_command_resolves() -> None:
    """Each row of the real table points at an importable function (catches typos in new rows)."""
    for path, command in COMMANDS.items():
        assert callable(cli.resolve(command.run)), path
        parser = cli.build_parser(COMMANDS, selected=path)  # imports and calls its argument function
        assert parser.prog == "muhtar"


def test_config_check_and_show_hide_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MUHTAR_SMPP_PASSWORD", "pw5678")
    monkeypatch.setenv("MUHTAR_DATABASE_URL", "postgresql+asyncpg://muhtar:dbsecret9@db:5432/muhtar")
    assert main(["config", "check"]) == 0
    assert capsys.readouterr().out.startswith("configuration OK: mode embedded, database postgresql+asyncpg")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert 'url = "postgresql+asyncpg://muhtar:***@db:5432/muhtar"' in out
    assert "[smpp]" in out and 'password = "***"' in out and "window = 10" in out
    for secret in ("pw5678", "dbsecret9", SECRET_KEY):
        assert secret not in out
