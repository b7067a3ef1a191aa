"""The registry's CLI commands: ``muhtar registry load`` and ``muhtar muhtars import FILE.csv``.

Each takes an engine (built by the CLI from the settings) and the output streams, and returns the exit code.
Database errors are reported by their class only: SQLAlchemy's message would quote the statement's
parameters, which hold TCKNs and phone numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.db import create_engine
from workflow.registry.data import RegistryDataError
from workflow.registry.load import Progress, load_registry
from workflow.registry.muhtar_csv import UnreadableFile, decode, parse_muhtar_csv
from workflow.registry.muhtar_import import import_muhtars
from workflow.settings import Settings

log = logging.getLogger(__name__)

EXIT_OK, EXIT_BAD_ROWS, EXIT_UNREADABLE, EXIT_FAILED = 0, 1, 2, 3
BAR_WIDTH = 30


class _Bar:
    def __init__(self, stream: TextIO, min_interval_s: float) -> None:
        self.stream, self.min_interval_s = stream, min_interval_s
        self.at, self.stage = 0.0, ""
        # Redrawing in place only makes sense on a terminal; a log file gets each stage's final line.
        self.live = stream.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if not finished and (not self.live or (stage == self.stage and now - self.at < self.min_interval_s)):
            return
        self.at, self.stage = now, stage
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        start = "\r" if self.live else ""
        self.stream.write(f"{start}{stage:<11} [{bar}] {done:>6}/{total}")
        if finished:
            self.stream.write("\n")
        self.stream.flush()


def progress_bar(stream: TextIO, min_interval_s: float = 0.1) -> Progress:
    """A one-line text progress bar, redrawn in place (``\\r``) at most every ``min_interval_s``."""
    return _Bar(stream, min_interval_s)


def _database_failure(err: TextIO, what: str, exc: SQLAlchemyError | OSError) -> int:
    orig = getattr(exc, "orig", None)
    kind = type(orig).__name__ if orig is not None else type(exc).__name__
    log.error("%s failed: database error %s; nothing was written", what, kind)
    err.write(f"{what} failed: database error ({kind}); nothing was written. "
              "Is the database migrated (muhtar migrate) and reachable?\n")
    return EXIT_FAILED


async def registry_load_command(engine: AsyncEngine, out: TextIO, err: TextIO) -> int:
    """``muhtar registry load``: upsert units and muhtarlıks, with a progress bar on ``err``."""
    try:
        report = await load_registry(engine, progress_bar(err))
    except RegistryDataError as exc:
        err.write(f"registry load failed: {exc}\n")
        return EXIT_FAILED
    except (SQLAlchemyError, OSError) as exc:  # OSError: the server cannot be reached
        return _database_failure(err, "registry load", exc)
    out.write(f"registry loaded: {report.summary()}\n")
    return EXIT_OK


async def muhtar_import_command(engine: AsyncEngine, path: Path, out: TextIO, err: TextIO,
                                now: datetime | None = None) -> int:
    """``muhtar muhtars import FILE.csv``: 0 all rows imported, 1 some rows bad, 2 file unreadable."""
    try:
        # Reading and checking 50,000 rows takes a second or two of CPU: keep it off the event loop.
        parsed = await asyncio.to_thread(lambda: parse_muhtar_csv(decode(path.read_bytes())))
    except OSError as exc:
        err.write(f"{path}: cannot read the file ({exc.strerror or type(exc).__name__})\n")
        return EXIT_UNREADABLE
    except UnreadableFile as exc:
        err.write(f"{path}: {exc}\n")
        return EXIT_UNREADABLE
    try:
        report = await import_muhtars(engine, parsed, now or datetime.now(UTC))
    except (SQLAlchemyError, OSError) as exc:  # OSError: the server cannot be reached
        return _database_failure(err, "muhtar import", exc)
    for error in report.errors:
        err.write(f"{path}: {error}\n")
    out.write(f"muhtar import: {report.summary()}\n")
    return report.exit_code


# The CLI's entry points (rows of workflow.entrypoints.cli.COMMANDS): run(settings, args) -> exit code.

async def registry_load(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        return await registry_load_command(engine, sys.stdout, sys.stderr)
    finally:
        await engine.dispose()


def muhtars_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="CSV, UTF-8, header row naming tckn, name, phone, muhtarlik")


async def muhtars_import(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        return await muhtar_import_command(engine, args.file, sys.stdout, sys.stderr)
    finally:
        await engine.dispose()
