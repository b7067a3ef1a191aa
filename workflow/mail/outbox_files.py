"""Reading the embedded file outbox (``mail.outbox_dir``, written by ``FileTransport``) for the simulator
page: the newest mails first, each parsed back into what a person would see in a mail client.

Files that are not readable mails are skipped with a log line; temporary files (``.name.tmp``) are never
listed, so a half-written mail never shows.
"""

from __future__ import annotations

import email
import logging
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxMail:
    mail_id: str
    to: str
    subject: str
    date: datetime | None
    text: str
    html: str


def read_mail(path: Path) -> OutboxMail:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default always builds these
        raise ValueError("not an e-mail message")
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    return OutboxMail(
        mail_id=path.stem,
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        date=date,
        text=plain.get_content() if isinstance(plain, EmailMessage) else "",
        html=html.get_content() if isinstance(html, EmailMessage) else "",
    )


def recent_mails(folder: Path, limit: int = 50) -> list[OutboxMail]:
    """The ``limit`` newest mails in ``folder`` (by file time), newest first; [] if there is no folder."""
    try:
        paths = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    mails: list[OutboxMail] = []
    for path in paths[:limit]:
        try:
            mails.append(read_mail(path))
        except (OSError, ValueError, LookupError) as exc:
            logger.warning("mail outbox: %s skipped (%s)", path.name, exc.__class__.__name__)
    return mails
