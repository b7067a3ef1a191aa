"""``muhtar mail addresses``, ``muhtar mail export --format csv|ldif [--since DATE] [--output FILE]``,
``muhtar mail digest USERNAME (--email ADDRESS | --off)`` and
``muhtar mail preferences ADDRESS [--received on|off] [--concluded on|off] [--steps on|off]``.

Reports go to standard error in English; the export itself to standard output (or ``--output``). Names and
addresses are not logged: the summary counts them and names muhtars by internal id only.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from workflow.adapters.db import create_engine
from workflow.adapters.orm import muhtars
from workflow.mail.export import to_csv, to_ldif
from workflow.mail.preferences import UnknownStaffUser, get_preferences, set_digest, set_preferences
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


_ADDRESS = re.compile(r"[^@\s<>\"]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_SWITCH = {"on": True, "off": False}


def _address(value: str) -> str:
    if not _ADDRESS.fullmatch(value.strip()):
        raise argparse.ArgumentTypeError(f"{value!r} is not an e-mail address")
    return value.strip()


def digest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username", help="the staff user's user name")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--email", type=_address, help="send the daily digest to this address")
    group.add_argument("--off", action="store_true", help="stop sending the digest")


async def digest_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        async with engine.begin() as conn:
            await set_digest(conn, args.username, args.email, not args.off)
    except UnknownStaffUser:
        print(f"muhtar: no staff user named {args.username!r}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"muhtar: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    state = "off" if args.off else f"on, daily at {settings.mail.digest_hour:02d}:00 Europe/Istanbul"
    print(f"digest for {args.username}: {state}", file=sys.stderr)
    return 0


def preferences_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", type=_address, help="the muhtar's e-mail address")
    for flag, what in (
        ("received", "request received"),
        ("concluded", "request concluded"),
        ("steps", "routing steps"),
    ):
        parser.add_argument(f"--{flag}", choices=sorted(_SWITCH), help=f"e-mail on {what}")


async def preferences_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        async with engine.begin() as conn:
            muhtar_id = (
                await conn.execute(select(muhtars.c.id).where(muhtars.c.email == args.address.lower()))
            ).scalar()
            if muhtar_id is None:
                print("muhtar: no muhtar has this e-mail address", file=sys.stderr)
                return 2
            current = await get_preferences(conn, muhtar_id)
            wanted = replace(
                current,
                **{
                    field: _SWITCH[value]
                    for field, value in (
                        ("request_received", args.received),
                        ("request_concluded", args.concluded),
                        ("routing_steps", args.steps),
                    )
                    if value is not None
                },
            )
            if wanted != current:
                await set_preferences(conn, muhtar_id, wanted)
    finally:
        await engine.dispose()
    shown = ", ".join(f"{name}={'on' if on else 'off'}" for name, on in asdict(wanted).items())
    print(f"e-mail notifications: {shown}", file=sys.stderr)
    return 0
