"""``muhtar mail addresses`` and ``muhtar mail export --format csv|ldif [--since DATE] [--output FILE]``.

Reports go to standard error in English; the export itself to standard output (or ``--output``). Names and
addresses are not logged: the summary counts them and names muhtars by internal id only.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from workflow.adapters.db import create_engine
from workflow.mail.export import to_csv, to_ldif
from workflow.mail.provisioning import assign_addresses, current_addresses
from workflow.settings import Settings

ISTANBUL = ZoneInfo("Europe/Istanbul")
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


def parse_since(value: str) -> datetime:
    """A day (YYYY-MM-DD or DD.MM.YYYY) -> its start in Europe/Istanbul, as an aware datetime."""
    for fmt in DATE_FORMATS:
        try:
            day = datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
        return datetime.combine(day, datetime.min.time(), tzinfo=ISTANBUL)
    raise argparse.ArgumentTypeError(f"{value!r} is not a date such as 2026-11-25 or 25.11.2026")


async def addresses_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        async with engine.begin() as conn:
            report = await assign_addresses(conn, settings.mail.domain)
    except SQLAlchemyError as exc:
        # The message would quote parameters (names); the class is enough to start from.
        print(f"muhtar: cannot assign addresses: database error {type(exc).__name__}", file=sys.stderr)
        return 3
    finally:
        await engine.dispose()
    print(
        f"{len(report.assigned)} addresses assigned, {report.adopted} existing addresses recorded, "
        f"{report.retired} retired",
        file=sys.stderr,
    )
    if report.no_address:
        print(
            f"{len(report.no_address)} muhtars have a name without letters; fix their names "
            f"(ids: {', '.join(report.no_address)})",
            file=sys.stderr,
        )
        return 1
    return 0


def export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("csv", "ldif"), required=True)
    parser.add_argument(
        "--since",
        type=parse_since,
        default=None,
        metavar="DATE",
        help="only addresses issued on or after DATE",
    )
    parser.add_argument("--output", type=Path, default=None, metavar="FILE", help="write here, not stdout")


async def export_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        async with engine.connect() as conn:
            entries = await current_addresses(conn, args.since)
    finally:
        await engine.dispose()
    text = to_csv(entries) if args.format == "csv" else to_ldif(entries, settings.mail.domain)
    if args.output is None:
        sys.stdout.write(text)
    else:
        tmp = args.output.with_name(args.output.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(args.output)
    print(f"{len(entries)} addresses exported", file=sys.stderr)
    return 0
