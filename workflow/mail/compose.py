"""E-mail texts from the Jinja2 templates under ``templates/mail/`` and the MIME message built from them.

Each mail ``NAME`` has three templates: ``NAME.subject.txt`` (one line), ``NAME.txt`` (plain text) and
``NAME.html`` (extends ``_layout.html``; HTML-escaped). Texts are rendered once, when the mail is queued, and
stored with it; ``build_message`` turns a stored mail into an ``EmailMessage`` under ``policy.SMTP``, which
encodes Turkish header text (subject, display names) as RFC 2047 words and bodies as UTF-8 with CRLF lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

import jinja2

from workflow.identity import turkish_lower
from workflow.paths import TEMPLATES_DIR

MAIL_TEMPLATES_DIR: Final = TEMPLATES_DIR / "mail"
ISTANBUL: Final = ZoneInfo("Europe/Istanbul")


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=2)
def _environment(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(MAIL_TEMPLATES_DIR),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["lower_tr"] = turkish_lower
    return env


def render_mail(template: str, /, **context: Any) -> RenderedMail:
    """Render ``TEMPLATE.subject.txt``, ``TEMPLATE.txt`` and ``TEMPLATE.html`` with the same context."""
    text_env, html_env = _environment(False), _environment(True)
    subject = " ".join(text_env.get_template(f"{template}.subject.txt").render(**context).split())
    text = text_env.get_template(f"{template}.txt").render(**context)
    html = html_env.get_template(f"{template}.html").render(subject=subject, **context)
    return RenderedMail(subject, _tidy(text), html)


def _tidy(text: str) -> str:
    # Template comments and conditionals leave blank lines behind; keep at most one in a row.
    lines: list[str] = []
    for line in text.strip().splitlines():
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines) + "\n"


def local_date(at: datetime) -> str:
    """DD.MM.YYYY in Europe/Istanbul (SQLite hands datetimes back naive; they are UTC)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ISTANBUL).strftime("%d.%m.%Y")


@dataclass(frozen=True)
class Sender:
    address: str
    name: str
    domain: str  # right-hand side of Message-IDs


def build_message(
    *,
    mail_id: str,
    to_address: str,
    to_name: str,
    rendered: RenderedMail,
    sender: Sender,
    created_at: datetime,
) -> EmailMessage:
    """A multipart/alternative message (plain text first, then HTML) ready for SMTP or an .eml file."""
    message = EmailMessage(policy=policy.SMTP)
    from_user, _, from_domain = sender.address.partition("@")
    to_user, _, to_domain = to_address.partition("@")
    message["From"] = Address(display_name=sender.name, username=from_user, domain=from_domain)
    message["To"] = Address(display_name=to_name, username=to_user, domain=to_domain)
    message["Subject"] = rendered.subject
    at = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    message["Date"] = format_datetime(at.astimezone(ISTANBUL))
    # Stable per stored mail: a retried delivery that reached the server twice can be recognised.
    message["Message-ID"] = f"<{mail_id}@{sender.domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = "tr"  # after set_content, which resets Content-* headers
    return message
