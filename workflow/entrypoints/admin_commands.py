"""`muhtar migrate` and `muhtar users create`."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import UTC, datetime

from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.domain.units import StaffRole
from workflow.settings import Settings
from workflow.staff_accounts import AccountError, NewStaffUser, create_staff_user

logger = logging.getLogger(__name__)


async def migrate_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    print("database is up to date", file=sys.stderr)
    return 0


def users_create_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username")
    parser.add_argument("--name", required=True, help="full name, shown in the history")
    parser.add_argument("--unit", required=True, help="unit code, e.g. MIGM, VAL-06, BEL-ILCE-1231")
    parser.add_argument("--role", choices=[r.value for r in StaffRole], default=StaffRole.CLERK.value)
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of a prompt",
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise AccountError("the two passwords differ")
    return first


async def users_create(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        password = _read_password(args.password_stdin)
        user = NewStaffUser(args.username, args.name, args.unit, StaffRole(args.role), password)
        async with engine.begin() as conn:
            await create_staff_user(conn, user, datetime.now(UTC))
    except AccountError as exc:
        print(f"muhtar: cannot create user: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    logger.info("staff user %s created in unit %s", args.username, args.unit)
    print(f"user {args.username} created", file=sys.stderr)
    return 0
