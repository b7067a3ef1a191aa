"""Failure classification (table), the .eml file transport, and the message built from templates."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import aiosmtplib
import jinja2
import pytest

from workflow.mail.compose import RenderedMail, Sender, build_message, render_mail
from workflow.mail.service import outbox_folder, sender_for, transport_for
from workflow.mail.transport import FileTransport, PermanentFailure, SmtpTransport, TemporaryFailure, classify
from workflow.settings import load_settings

RCPT = aiosmtplib.SMTPRecipientRefused

CASES = [
    (RCPT(550, "5.1.1 no such user", "a@b"), PermanentFailure),
    (RCPT(553, "mailbox name not allowed", "a@b"), PermanentFailure),
    (RCPT(450, "mailbox busy", "a@b"), TemporaryFailure),
    (aiosmtplib.SMTPRecipientsRefused([RCPT(550, "x", "a@b")]), PermanentFailure),
    (aiosmtplib.SMTPRecipientsRefused([RCPT(451, "greylisted", "a@b")]), TemporaryFailure),
    (aiosmtplib.SMTPRecipientsRefused([RCPT(550, "x", "a@b"), RCPT(451, "y", "c@d")]), TemporaryFailure),
    (aiosmtplib.SMTPRecipientsRefused([]), TemporaryFailure),
    (aiosmtplib.SMTPDataError(554, "5.6.0 message content rejected"), PermanentFailure),
    (aiosmtplib.SMTPDataError(452, "4.3.1 insufficient storage"), TemporaryFailure),
    # Our settings or the server, never this one message: retried even with a 5xx code.
    (aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"), TemporaryFailure),
    (aiosmtplib.SMTPSenderRefused(550, "sender not allowed", "x@y"), TemporaryFailure),
    (aiosmtplib.SMTPHeloError(501, "bad helo"), TemporaryFailure),
    (aiosmtplib.SMTPConnectResponseError(554, "no service"), TemporaryFailure),
    (aiosmtplib.SMTPNotSupported("STARTTLS not supported"), TemporaryFailure),
    (aiosmtplib.SMTPServerDisconnected("lost"), TemporaryFailure),
    (aiosmtplib.SMTPConnectError("refused"), TemporaryFailure),
    (aiosmtplib.SMTPReadTimeoutError("slow"), TemporaryFailure),
    (ConnectionRefusedError(111, "refused"), TemporaryFailure),
    (TimeoutError(), TemporaryFailure),
]


@pytest.mark.parametrize(("exc", "kind"), CASES)
def test_classify(exc: BaseException, kind: type) -> None:
    assert type(classify(exc)) is kind


def _message(mail_id: str = "0123456789abcdef0123456789abcdef") -> email.message.EmailMessage:
    rendered = render_mail(
        "request_received",
        name="Işıl Irmak",
        number=1001,
        date="25.11.2026",
        kind="Şikâyet",
        url="http://x/1",
    )
    return build_message(
        mail_id=mail_id,
        to_address="isil.irmak@muhtar.gov.tr",
        to_name="Işıl Irmak",
        rendered=rendered,
        sender=Sender("bildirim@muhtar.gov.tr", "Muhtar Bilgi Sistemi", "muhtar.gov.tr"),
        created_at=datetime(2026, 11, 25, 18, 30, tzinfo=UTC),
    )


async def test_file_transport_writes_a_readable_eml_once_per_mail(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    transport = FileTransport(folder)
    await transport.send(_message())
    await transport.send(_message())  # a redelivery overwrites the same file
    [path] = list(folder.iterdir())
    assert path.name == "0123456789abcdef0123456789abcdef.eml"
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Talebiniz alındı – Talep No: 1001"
    assert parsed["Date"] == "Wed, 25 Nov 2026 21:30:00 +0300"  # Europe/Istanbul
    assert parsed["Content-Language"] == "tr"
    body = parsed.get_body(("plain",))
    assert body is not None and "şikâyet başvurunuz 1001 numarasıyla" in body.get_content()


async def test_file_transport_reports_an_unwritable_folder_as_temporary(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TemporaryFailure):
        await FileTransport(blocker / "mail").send(_message())


def test_every_template_needs_its_context() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_mail("request_received", name="A", number=1, date="d", url="u")  # no kind


def test_subjects_are_one_line() -> None:
    rendered = render_mail(
        "staff_digest",
        name="A",
        unit="Çankaya\nBelediyesi",
        date="d",
        new_tasks=[],
        overdue_tasks=[],
        url="u",
    )
    assert rendered.subject == "Günlük görev özeti – Çankaya Belediyesi – d"


def test_transport_follows_the_settings(tmp_path: Path) -> None:
    embedded = load_settings(env={}, var_dir=tmp_path)
    assert isinstance(transport_for(embedded.mail), FileTransport)
    assert outbox_folder(embedded.mail).parts[-2:] == ("var", "mail")
    assert sender_for(embedded.mail).address == "bildirim@muhtar.gov.tr"
    smtp = load_settings(
        env={
            "MUHTAR_MAIL_ENABLED": "true",
            "MUHTAR_MAIL_SMTP_HOST": "smtp.example.gov.tr",
            "MUHTAR_MAIL_SMTP_PORT": "465",
            "MUHTAR_MAIL_SMTP_TLS": "tls",
            "MUHTAR_MAIL_SENDER": "noreply@muhtar.gov.tr",
        },
        var_dir=tmp_path,
    )
    transport = transport_for(smtp.mail)
    assert transport == SmtpTransport("smtp.example.gov.tr", 465, "tls", "", "", 30.0, "")
    assert sender_for(smtp.mail).address == "noreply@muhtar.gov.tr"


def test_stored_texts_round_trip_into_the_message() -> None:
    message = build_message(
        mail_id="m1",
        to_address="a@b.tr",
        to_name="Ümit Ilgaz",
        rendered=RenderedMail("Konu: ğüşıöç İĞÜŞÖÇ", "düz metin\n", "<p>html</p>"),
        sender=Sender("x@b.tr", "Muhtar Bilgi Sistemi", "b.tr"),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    data = bytes(message)
    assert b"\r\n" in data and data.split(b"\r\n\r\n", 1)[0].isascii()
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert parsed["Subject"] == "Konu: ğüşıöç İĞÜŞÖÇ"
    assert parsed["To"].addresses[0].display_name == "Ümit Ilgaz"


async def test_the_outbox_reader_lists_newest_first_and_skips_junk(tmp_path: Path) -> None:
    import os

    from workflow.mail.outbox_files import recent_mails

    folder = tmp_path / "mail"
    assert recent_mails(folder) == []
    transport = FileTransport(folder)
    await transport.send(_message("a" * 32))
    await transport.send(_message("b" * 32))
    os.utime(folder / f"{'a' * 32}.eml", (1_000_000_000, 1_000_000_000))  # older
    (folder / ".c.tmp").write_bytes(b"half")
    (folder / "broken.eml").write_bytes(b"\xff\xfe not a mail")
    os.utime(folder / "broken.eml", (0, 0))
    mails = recent_mails(folder, limit=10)
    assert [m.mail_id for m in mails][:2] == ["b" * 32, "a" * 32]
    first = mails[0]
    assert first.subject == "Talebiniz alındı – Talep No: 1001"
    assert first.to == "Işıl Irmak <isil.irmak@muhtar.gov.tr>"
    assert "numarasıyla kaydedilmiştir" in first.text and "<strong>1001</strong>" in first.html
    assert first.date is not None and first.date.utcoffset() is not None
    assert len(recent_mails(folder, limit=1)) == 1
