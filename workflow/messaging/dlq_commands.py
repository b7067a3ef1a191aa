"""`muhtar dlq list|show|replay`: the operator's view of parked messages (the ``dead_letters`` table).

Works from any process in both bus modes because dead letters live in the database. ``replay`` only marks
rows; the running outbox relay (inside `muhtar workflow` or `muhtar run`) republishes them within a second.
Personal data in payloads (phone numbers, texts) is masked unless ``--reveal`` is given.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from typing import Any

from workflow.adapters.db import create_engine
from workflow.identity import mask_phone
from workflow.messaging.deadletters import (
    DeadLetterRow,
    get_dead_letter,
    list_dead_letters,
    request_replay,
    request_replay_all,
)
from workflow.settings import Settings

# Payload fields holding personal data, and how `show` masks them.
MASKED_FIELDS: Mapping[str, Callable[[Any], str]] = {
    "to": lambda v: mask_phone(str(v)),
    "from": lambda v: mask_phone(str(v)),
    "text": lambda v: f"<{len(str(v))} characters hidden>",
}


def list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", help="only this queue (e.g. sms.inbound)")
    parser.add_argument("--all", action="store_true", help="include letters already replayed")
    parser.add_argument(
        "--limit", type=int, default=100, help="at most this many, newest first (default 100)"
    )


def show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int, help="the dead letter's id (from `muhtar dlq list`)")
    parser.add_argument("--reveal", action="store_true", help="show phone numbers and texts unmasked")


def replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", type=int, nargs="*", help="ids to replay")
    parser.add_argument(
        "--all", action="store_true", help="replay every parked letter (of --queue, if given)"
    )
    parser.add_argument("--queue", help="with --all: only this queue")


async def list_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        rows = await list_dead_letters(engine, queue=args.queue, include_replayed=args.all, limit=args.limit)
    finally:
        await engine.dispose()
    if not rows:
        print("no dead letters")
        return 0
    print(
        f"{'id':>6}  {'parked at (UTC)':19}  {'queue':12}  {'schema':22}  {'tries':>5}  {'state':16}  reason"
    )
    for row in rows:
        reason = " ".join(row.reason.split())
        print(
            f"{row.id:>6}  {row.dead_at:%Y-%m-%d %H:%M:%S}  {row.queue:12}  {row.schema or '-':22}  "
            f"{row.attempts:>5}  {row.state:16}  {reason[:80]}"
        )
    return 0


async def show_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database.url)
    try:
        row = await get_dead_letter(engine, args.id)
    finally:
        await engine.dispose()
    if row is None:
        print(f"no dead letter with id {args.id}")
        return 1
    print("\n".join(describe(row, reveal=args.reveal)))
    return 0


def describe(row: DeadLetterRow, *, reveal: bool) -> list[str]:
    lines = [
        f"id:          {row.id}",
        f"queue:       {row.queue}",
        f"topic:       {row.topic or '-'}",
        f"schema:      {row.schema or '-'}",
        f"message id:  {row.message_id or '-'}",
        f"attempts:    {row.attempts}",
        f"parked at:   {row.dead_at:%Y-%m-%d %H:%M:%S} UTC",
        f"state:       {row.state}",
        f"reason:      {row.reason}",
        "body:",
    ]
    try:
        body: Any = json.loads(row.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        lines.append(f"  <not JSON: {len(row.body)} bytes>")
        return lines
    if not reveal and isinstance(body, dict) and isinstance(body.get("payload"), dict):
        body["payload"] = {
            k: MASKED_FIELDS[k](v) if k in MASKED_FIELDS else v for k, v in body["payload"].items()
        }
    lines.extend("  " + line for line in json.dumps(body, ensure_ascii=False, indent=2).splitlines())
    return lines


async def replay_command(settings: Settings, args: argparse.Namespace) -> int:
    if bool(args.ids) == bool(args.all):
        print("give dead-letter ids, or --all (optionally with --queue)")
        return 2
    engine = create_engine(settings.database.url)
    try:
        if args.all:
            count = await request_replay_all(engine, args.queue)
        else:
            count = await request_replay(engine, args.ids)
    finally:
        await engine.dispose()
    print(f"{count} dead letter(s) marked for replay; the running relay republishes them to their queue")
    return 0
