"""The ``muhtar`` command.

Commands are data: ``COMMANDS`` maps a command path to the function that runs it and, optionally, the
function that declares its arguments, both as ``"module:function"`` strings imported only when that command
is used (so a broken or slow module never affects the other commands, and ``muhtar --help`` imports
nothing). To add a command, add one row here and write, in your own module::

    def arguments(parser: argparse.ArgumentParser) -> None:      # optional
        parser.add_argument("file", type=Path)

    def run(settings: Settings, args: argparse.Namespace) -> int:  # or ``async def``
        ...
        return 0

Settings are loaded once, here, after the arguments are parsed; logging is configured once from them.
Exit codes: 0 success, 1 unexpected failure, 2 bad usage or bad configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from workflow.settings import Settings, SettingsError, load_settings

logger = logging.getLogger(__name__)

PROG = "muhtar"


@dataclass(frozen=True)
class Command:
    run: str  # "package.module:function", called as function(settings, args) -> int, may be async
    help: str
    arguments: str | None = None  # "package.module:function", called as function(parser) -> None


CommandTable = Mapping[tuple[str, ...], Command]

COMMANDS: dict[tuple[str, ...], Command] = {
    ("migrate",): Command(
        "workflow.entrypoints.admin_commands:migrate_command", "create or upgrade the database schema"
    ),
    ("users", "create"): Command(
        "workflow.entrypoints.admin_commands:users_create",
        "create a staff user (password prompted, or --password-stdin)",
        "workflow.entrypoints.admin_commands:users_create_arguments",
    ),
    ("registry", "load"): Command(
        "workflow.registry.commands:registry_load", "load or update units and muhtarlıks"
    ),
    ("muhtars", "import"): Command(
        "workflow.registry.commands:muhtars_import",
        "import muhtars from a CSV file (tckn, name, phone, muhtarlik)",
        "workflow.registry.commands:muhtars_import_arguments",
    ),
    ("demo-seed",): Command(
        "workflow.entrypoints.demo_seed:demo_seed",
        "load the registry and the demo muhtars, staff and requests",
    ),
    ("run",): Command(
        "workflow.entrypoints.run:run",
        "run the whole system in one process (the embedded default of `make run`)",
    ),
    ("web",): Command(
        "workflow.entrypoints.run:run_web", "run the web server alone (production: one of several processes)"
    ),
    ("gateway",): Command(
        "gateway_sms.commands:run", "run the SMPP gateway (sms.outbound to the SMSC, MO and receipts back)"
    ),
    ("workflow",): Command(
        "workflow.entrypoints.workflow_service:run",
        "run the workflow service (event, SMS consumers and outbox relay)",
    ),
    ("dlq", "list"): Command(
        "workflow.messaging.dlq_commands:list_command",
        "list parked (dead-lettered) messages",
        "workflow.messaging.dlq_commands:list_arguments",
    ),
    ("dlq", "show"): Command(
        "workflow.messaging.dlq_commands:show_command",
        "show one dead letter (personal data masked)",
        "workflow.messaging.dlq_commands:show_arguments",
    ),
    ("dlq", "replay"): Command(
        "workflow.messaging.dlq_commands:replay_command",
        "send dead letters back to their queue",
        "workflow.messaging.dlq_commands:replay_arguments",
    ),
    ("mail", "addresses"): Command(
        "workflow.mail.commands:addresses_command", "give each muhtar without an e-mail address one"
    ),
    ("mail", "export"): Command(
        "workflow.mail.commands:export_command", "export muhtar e-mail addresses as CSV or LDIF",
        "workflow.mail.commands:export_arguments",
    ),
    ("mail", "digest"): Command(
        "workflow.mail.commands:digest_command", "turn a staff user's daily task digest e-mail on or off",
        "workflow.mail.commands:digest_arguments",
    ),
    ("mail", "preferences"): Command(
        "workflow.mail.commands:preferences_command", "show or change a muhtar's e-mail notifications",
        "workflow.mail.commands:preferences_arguments",
    ),
    ("config", "check"): Command(
        "workflow.entrypoints.config_commands:check", "validate the settings and say which mode they select"
    ),
    ("config", "show"): Command(
        "workflow.entrypoints.config_commands:show", "print the effective settings (secrets hidden)"
    ),
}

# Help for the first word of multi-word commands.
GROUP_HELP: dict[str, str] = {
    "config": "inspect the settings",
    "registry": "the unit and muhtarlık registry",
    "muhtars": "muhtar records",
    "users": "staff user accounts",
    "dlq": "dead-lettered messages",
    "mail": "muhtar e-mail addresses and exports",
}


def main(argv: Sequence[str] | None = None, commands: CommandTable | None = None) -> int:
    """Entry point of the ``muhtar`` console script; returns the process exit code."""
    table = COMMANDS if commands is None else commands
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(table, selected=_selected_path(table, arguments))
    except Exception as exc:  # the selected command's module or argument function is broken
        print(f"{PROG}: cannot load the command: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit_:  # argparse already printed usage or help
        return exit_.code if isinstance(exit_.code, int) else 2
    path: tuple[str, ...] | None = getattr(args, "command_path", None)
    if path is None:  # no command, or only a group such as "muhtar dlq": show what can follow
        getattr(args, "help_parser", parser).print_help(sys.stderr)
        return 2
    try:
        settings = load_settings(config_file=args.config)
    except SettingsError as exc:
        print(f"{PROG}: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.logging.level)
    return _run(table[path], path, settings, args)


def _run(command: Command, path: tuple[str, ...], settings: Settings, args: argparse.Namespace) -> int:
    name = " ".join(path)
    try:
        function = resolve(command.run)
        result = function(settings, args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except KeyboardInterrupt:
        logger.info("command %r interrupted", name)
        return 130
    except SettingsError as exc:  # a command may check settings it alone needs
        print(f"{PROG}: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # The exception text may carry personal data (e.g. SQL parameters): only its type at ERROR,
        # the full traceback at DEBUG (MUHTAR_LOGGING_LEVEL=DEBUG) for the operator who asks for it.
        logger.debug("command %r failed", name, exc_info=True)
        logger.error(
            "command %r failed: %s (set MUHTAR_LOGGING_LEVEL=DEBUG for the traceback)",
            name,
            type(exc).__name__,
        )
        return 1
    if not isinstance(result, int) or isinstance(result, bool):
        logger.error("command %r returned %r instead of an exit code", name, type(result).__name__)
        return 1
    return result


def resolve(target: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the function."""
    module_name, _, attribute = target.partition(":")
    function = getattr(importlib.import_module(module_name), attribute)
    if not callable(function):
        raise TypeError(f"{target} is not callable")
    return function  # type: ignore[no-any-return]


def _selected_path(table: CommandTable, argv: Sequence[str]) -> tuple[str, ...] | None:
    """The command the arguments name (longest match), so only its module is imported."""
    words: list[str] = []
    skip_next = False
    for token in argv:
        if skip_next:
            skip_next = False
        elif token == "--config":
            skip_next = True
        elif token.startswith("-"):
            continue
        else:
            words.append(token)
    for length in range(len(words), 0, -1):
        if tuple(words[:length]) in table:
            return tuple(words[:length])
    return None


def build_parser(table: CommandTable, selected: tuple[str, ...] | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Muhtar Bilgi Sistemi. Settings: config/defaults.toml, a file given by --config or "
        "MUHTAR_CONFIG, then MUHTAR_<SECTION>_<KEY> environment variables.",
    )
    _add_config_option(parser, default=None)
    groups: dict[tuple[str, ...], Any] = {(): parser.add_subparsers(title="commands", metavar="COMMAND")}
    for path in sorted(table):
        command = table[path]
        for depth in range(1, len(path)):
            prefix = path[:depth]
            if prefix not in groups:
                group = groups[path[: depth - 1]].add_parser(prefix[-1], help=GROUP_HELP.get(prefix[-1], ""))
                group.set_defaults(command_path=None, help_parser=group)
                groups[prefix] = group.add_subparsers(title="commands", metavar="COMMAND")
        leaf = groups[path[:-1]].add_parser(path[-1], help=command.help, description=command.help)
        leaf.set_defaults(command_path=path)
        _add_config_option(leaf, default=argparse.SUPPRESS)  # also accepted after the command words
        if path == selected and command.arguments is not None:
            resolve(command.arguments)(leaf)
    return parser


def _add_config_option(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        metavar="FILE",
        help="TOML settings file (overrides MUHTAR_CONFIG)",
    )


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of the record (test capture swaps it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str) -> None:
    """Log to standard error at ``level``; idempotent, and leaves other handlers (pytest's) alone."""
    root = logging.getLogger()
    if not any(isinstance(h, _CurrentStderr) for h in root.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
