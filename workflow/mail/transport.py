"""Where a built message goes: an SMTP server (aiosmtplib) or, without one, ``.eml`` files in a folder.

A transport either returns (the server accepted the message) or raises ``TemporaryFailure`` (try again
later: 4xx replies, connection problems, timeouts, and problems of our own configuration such as a refused
login, which no single message can fix) or ``PermanentFailure`` (a 5xx refusal of this message or
recipient: retrying cannot help). The reason text is English and goes to the mail's record, not the log.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from workflow.settings import MailSettings


class TemporaryFailure(Exception):
    """Delivery may succeed later."""


class PermanentFailure(Exception):
    """The server refused this message for good."""


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


# Replies about this one message or recipient: a 5xx here is permanent. Any other SMTP reply concerns the
# server or our settings (HELO, AUTH, MAIL FROM, STARTTLS) and is retried whatever its code.
MESSAGE_REPLIES: tuple[type[aiosmtplib.SMTPResponseException], ...] = (
    aiosmtplib.SMTPRecipientRefused,
    aiosmtplib.SMTPDataError,
)


def classify(exc: BaseException) -> TemporaryFailure | PermanentFailure:
    """Turn an aiosmtplib/OS error into one of the two outcomes."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refusals = exc.recipients
        codes = ", ".join(f"{r.code} {r.message}" for r in refusals)
        if refusals and all(500 <= r.code < 600 for r in refusals):
            return PermanentFailure(f"recipient refused: {codes}")
        return TemporaryFailure(f"recipient deferred: {codes}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reason = f"{type(exc).__name__}: {exc.code} {exc.message}"
        if isinstance(exc, MESSAGE_REPLIES) and 500 <= exc.code < 600:
            return PermanentFailure(reason)
        return TemporaryFailure(reason)
    return TemporaryFailure(f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    tls: str  # none | starttls | tls
    username: str = ""
    password: str = ""
    timeout_s: float = 30.0
    ca_file: str = ""  # PEM bundle to verify the server's certificate; empty: the system's CAs

    @classmethod
    def from_settings(cls, mail: MailSettings) -> SmtpTransport:
        return cls(
            mail.smtp_host,
            mail.smtp_port,
            mail.smtp_tls,
            mail.username,
            mail.password,
            mail.timeout_s,
            mail.smtp_ca_file,
        )

    async def send(self, message: EmailMessage) -> None:
        try:
            _responses, _ = await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                use_tls=self.tls == "tls",
                start_tls=self.tls == "starttls",
                username=self.username or None,
                password=self.password or None,
                timeout=self.timeout_s,
                cert_bundle=self.ca_file or None,
            )
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise classify(exc) from None


@dataclass(frozen=True)
class FileTransport:
    """Writes each message as ``<folder>/<Message-ID local part>.eml`` (the embedded default; the simulator
    page lists the folder). Written to a temporary name and renamed, so a reader never sees half a file;
    a redelivery overwrites the same file."""

    folder: Path

    async def send(self, message: EmailMessage) -> None:
        name = str(message["Message-ID"]).strip("<>").split("@", 1)[0]
        data = bytes(message)
        try:
            await asyncio.to_thread(self._write, name, data)
        except OSError as exc:
            raise TemporaryFailure(f"cannot write the mail file: {type(exc).__name__}") from None

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.folder / f"{name}.eml")
