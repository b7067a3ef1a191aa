"""Delivery through the outbox, the in-process bus and a real SMTP server (aiosmtpd) in this process:
content, headers and encoding; 4xx then success; 5xx -> failed; server down then back (nothing lost)."""

from __future__ import annotations

import asyncio
import email
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.mail.smtp_server import Authenticator, ScriptedHandler, SmtpServer
from workflow.mail.compose import render_mail
from workflow.mail.delivery import requeue_deferred
from workflow.mail.queue import mail_envelope, queue_mail
from workflow.mail.service import MailService
from workflow.mail.tables import mail_messages
from workflow.mail.transport import SmtpTransport
from workflow.messaging.bus import Bus, RetryPolicy
from workflow.messaging.deadletters import SqlDeadLetterStore, list_dead_letters
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.relay import OutboxRelay
from workflow.settings import Settings, load_settings

WAIT_S = 60.0
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
NAME = "İsmail Çağrı Öztürk"
ADDRESS = "ismail.ozturk@muhtar.gov.tr"


async def wait_until(engine: AsyncEngine, mail_id: str, states: set[str], min_attempts: int = 1) -> dict:  # type: ignore[type-arg]
    """Poll the mail row until it reaches one of ``states``; the bound is for liveness, not speed."""

    async def row() -> dict | None:  # type: ignore[type-arg]
        async with engine.connect() as conn:
            found = (
                (await conn.execute(select(mail_messages).where(mail_messages.c.id == mail_id)))
                .mappings()
                .one()
            )
        return dict(found) if found["state"] in states and found["attempts"] >= min_attempts else None

    async def until() -> dict:  # type: ignore[type-arg]
        while (found := await row()) is None:  # noqa: ASYNC110 - the condition is in the database
            await asyncio.sleep(0.02)
        return found

    try:
        return await asyncio.wait_for(until(), WAIT_S)
    except TimeoutError:
        pytest.fail(f"mail {mail_id} never reached {states}")


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    async def until() -> None:
        while not await condition():  # noqa: ASYNC110 - the condition is in the database
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(until(), WAIT_S)
    except TimeoutError:
        pytest.fail(f"gave up waiting: {what}")


async def _dead_letters(engine: AsyncEngine, count: int) -> bool:
    return len(await list_dead_letters(engine)) == count


@dataclass
class Pipeline:
    engine: AsyncEngine
    bus: Bus
    relay: OutboxRelay
    service: MailService
    server: SmtpServer

    @property
    def handler(self) -> ScriptedHandler:
        return self.server.handler

    async def queue(self, dedupe: str = "test:1") -> str:
        rendered = render_mail(
            "request_concluded",
            name=NAME,
            number=1234,
            date="25.11.2026",
            note="Yolunuz onarılmıştır. Işıklandırma için İl Özel İdaresi'ne başvurunuz.",
            attachments=[
                {"name": "fotoğraf <1>.jpg", "url": "https://muhtar.example/talepler/1234/ekler/ab"}
            ],
            url="https://muhtar.example/talepler/1234",
        )
        async with self.engine.begin() as conn:
            mail_id = await queue_mail(
                conn,
                purpose="request_concluded",
                to_address=ADDRESS,
                to_name=NAME,
                rendered=rendered,
                dedupe_key=dedupe,
            )
        assert mail_id is not None
        return mail_id


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={}, var_dir=tmp_path)


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    smtp = SmtpServer(ScriptedHandler())
    smtp.start()
    yield smtp
    smtp.stop()


async def _pipeline(
    engine: AsyncEngine, settings: Settings, server: SmtpServer, policy_: RetryPolicy, **transport: str
) -> Pipeline:
    bus = InProcessBus(SqlDeadLetterStore(engine), policy_)
    await bus.start()
    smtp = SmtpTransport("127.0.0.1", server.port, "none", timeout_s=10.0, **transport)
    service = MailService(settings, engine, bus, smtp, sweep_interval_s=3600)
    await service.start()
    relay = OutboxRelay(engine, bus, poll_s=0.05)
    await relay.start()
    return Pipeline(engine, bus, relay, service, server)


@pytest.fixture
async def pipeline(engine: AsyncEngine, settings: Settings, server: SmtpServer) -> AsyncIterator[Pipeline]:
    p = await _pipeline(engine, settings, server, RetryPolicy(delays_s=(0.05, 0.1, 0.2), max_attempts=6))
    yield p
    await p.relay.stop()
    await p.service.stop()
    await p.bus.stop()


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_content_headers_and_encoding(pipeline: Pipeline) -> None:
    mail_id = await pipeline.queue()
    row = await wait_until(pipeline.engine, mail_id, {"sent"})
    assert row["attempts"] == 1 and row["sent_at"] is not None and row["error"] is None
    [received] = pipeline.handler.received
    assert received.rcpt_tos == [ADDRESS]
    assert received.mail_from == "bildirim@muhtar.gov.tr"
    raw_headers = received.data.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()  # Turkish header text travels as RFC 2047 encoded words
    assert b"=?utf-8?" in raw_headers
    message = _parse(received.data)
    assert message["Subject"] == "Talebiniz sonuçlandı – Talep No: 1234"
    assert message["To"].addresses[0].display_name == NAME
    assert message["To"].addresses[0].addr_spec == ADDRESS
    assert message["From"].addresses[0].display_name == "Muhtar Bilgi Sistemi"
    assert message["Message-ID"] == f"<{mail_id}@muhtar.gov.tr>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    text, markup = plain.get_content(), html.get_content()
    assert "Sayın İsmail Çağrı Öztürk," in text
    assert "Işıklandırma için İl Özel İdaresi'ne" in text
    assert "- fotoğraf <1>.jpg: https://muhtar.example/talepler/1234/ekler/ab" in text
    assert "fotoğraf &lt;1&gt;.jpg" in markup and "fotoğraf <1>" not in markup  # escaped in HTML
    assert '<a href="https://muhtar.example/talepler/1234"' in markup


async def test_a_redelivered_message_is_not_sent_again(pipeline: Pipeline) -> None:
    mail_id = await pipeline.queue()
    await wait_until(pipeline.engine, mail_id, {"sent"})
    await pipeline.service.delivery.handle(mail_envelope(mail_id, mail_id))
    assert len(pipeline.handler.received) == 1


async def test_the_same_cause_queues_one_mail(pipeline: Pipeline) -> None:
    await pipeline.queue("event:x")
    async with pipeline.engine.begin() as conn:
        again = await queue_mail(
            conn,
            purpose="request_received",
            to_address=ADDRESS,
            to_name=NAME,
            rendered=render_mail("request_received", name=NAME, number=1, date="d", kind="İstek", url="u"),
            dedupe_key="event:x",
        )
    assert again is None


async def test_temporary_refusal_then_success(pipeline: Pipeline) -> None:
    pipeline.handler.replies.extend(["451 4.7.1 Greylisted, try again later", "421 4.3.2 Busy"])
    mail_id = await pipeline.queue()
    row = await wait_until(pipeline.engine, mail_id, {"sent"}, min_attempts=3)
    assert row["attempts"] == 3 and row["error"] is None
    assert len(pipeline.handler.received) == 1
    assert pipeline.handler.rcpt_commands == 3


async def test_permanent_refusal_marks_the_mail_failed(pipeline: Pipeline) -> None:
    pipeline.handler.replies.append("550 5.1.1 Mailbox unavailable")
    mail_id = await pipeline.queue()
    row = await wait_until(pipeline.engine, mail_id, {"failed"})
    assert row["attempts"] == 1 and "550" in row["error"] and "5.1.1" in row["error"]
    assert pipeline.handler.received == [] and pipeline.handler.rcpt_commands == 1
    assert await list_dead_letters(pipeline.engine) == []  # a refusal is not a poison message


async def test_server_down_then_back_loses_nothing(pipeline: Pipeline) -> None:
    pipeline.server.stop()
    first, second = await pipeline.queue("down:1"), await pipeline.queue("down:2")
    for mail_id in (first, second):
        row = await wait_until(pipeline.engine, mail_id, {"deferred"}, min_attempts=2)
        assert "Connect" in row["error"] or "Connection" in row["error"] or "refused" in row["error"]
    pipeline.server.start()
    for mail_id in (first, second):
        await wait_until(pipeline.engine, mail_id, {"sent"})
    assert sorted(r.rcpt_tos[0] for r in pipeline.handler.received) == [ADDRESS, ADDRESS]


async def test_after_the_bus_gives_up_the_sweep_queues_the_mail_again(
    engine: AsyncEngine, settings: Settings, server: SmtpServer
) -> None:
    p = await _pipeline(engine, settings, server, RetryPolicy(delays_s=(0.05,), max_attempts=2))
    try:
        server.stop()
        mail_id = await p.queue()
        await wait_until(engine, mail_id, {"deferred"}, min_attempts=2)
        await eventually(lambda: _dead_letters(engine, 1), "the bus parks the message")
        server.start()
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            again, gave_up = await requeue_deferred(conn, timedelta(0), timedelta(hours=72), now)
        assert (again, gave_up) == (1, 0)
        async with engine.begin() as conn:  # a second sweeper at the same moment finds nothing to claim
            assert await requeue_deferred(conn, timedelta(0), timedelta(hours=72), now) == (0, 0)
        row = await wait_until(engine, mail_id, {"sent"})
        assert row["attempts"] == 3
        assert len(server.handler.received) == 1
    finally:
        await p.relay.stop()
        await p.service.stop()
        await p.bus.stop()


async def test_deferred_too_long_is_given_up(pipeline: Pipeline) -> None:
    pipeline.server.stop()
    mail_id = await pipeline.queue()
    await wait_until(pipeline.engine, mail_id, {"deferred"})
    async with pipeline.engine.begin() as conn:
        later = datetime.now(UTC) + timedelta(hours=73)
        assert await requeue_deferred(conn, timedelta(0), timedelta(hours=72), later) == (0, 1)
    row = await wait_until(pipeline.engine, mail_id, {"failed"})
    assert row["error"].startswith("gave up")
    pipeline.server.start()


@pytest.fixture
def auth_server() -> Iterator[SmtpServer]:
    smtp = SmtpServer(ScriptedHandler(), auth=Authenticator("bildirim", "Gizli.Parola.1"))
    smtp.start()
    yield smtp
    smtp.stop()


async def test_login_by_setting(engine: AsyncEngine, settings: Settings, auth_server: SmtpServer) -> None:
    p = await _pipeline(
        engine,
        settings,
        auth_server,
        RetryPolicy(delays_s=(0.05,), max_attempts=2),
        username="bildirim",
        password="Gizli.Parola.1",
    )
    try:
        mail_id = await p.queue()
        await wait_until(engine, mail_id, {"sent"})
        assert [r.login for r in auth_server.handler.received] == ["bildirim"]
    finally:
        await p.relay.stop()
        await p.service.stop()
        await p.bus.stop()


async def test_a_wrong_password_is_retried_not_failed(
    engine: AsyncEngine, settings: Settings, auth_server: SmtpServer
) -> None:
    p = await _pipeline(
        engine,
        settings,
        auth_server,
        RetryPolicy(delays_s=(0.05,), max_attempts=2),
        username="bildirim",
        password="yanlis",
    )
    try:
        mail_id = await p.queue()
        row = await wait_until(engine, mail_id, {"deferred"}, min_attempts=2)
        assert "SMTPAuthenticationError" in row["error"] and "535" in row["error"]
    finally:
        await p.relay.stop()
        await p.service.stop()
        await p.bus.stop()


async def test_embedded_default_writes_eml_files(engine: AsyncEngine, tmp_path: Path) -> None:
    from workflow.mail.service import start_mail_service

    settings = load_settings(env={"MUHTAR_MAIL_OUTBOX_DIR": str(tmp_path / "mail")}, var_dir=tmp_path)
    bus = InProcessBus(SqlDeadLetterStore(engine), RetryPolicy(delays_s=(0.05,), max_attempts=2))
    await bus.start()
    service = await start_mail_service(settings, engine, bus)
    relay = OutboxRelay(engine, bus, poll_s=0.05)
    await relay.start()
    try:
        p = Pipeline(engine, bus, relay, service, SmtpServer(ScriptedHandler()))
        mail_id = await p.queue()
        await wait_until(engine, mail_id, {"sent"})
        parsed = _parse((tmp_path / "mail" / f"{mail_id}.eml").read_bytes())
        assert parsed["Subject"] == "Talebiniz sonuçlandı – Talep No: 1234"
    finally:
        await relay.stop()
        await service.stop()
        await bus.stop()


async def test_over_rabbitmq_temporary_refusal_then_success(
    pg_engine: AsyncEngine, settings: Settings, server: SmtpServer, rabbit_url: str
) -> None:
    """The real topology (QUEUES with mail.outbound, delay queues for the back-off) on RabbitMQ."""
    from workflow.messaging.rabbitmq import RabbitMQBus

    bus = RabbitMQBus(
        rabbit_url,
        exchange="m",
        policy=RetryPolicy(delays_s=(0.1,), max_attempts=4),
        dead_letters=SqlDeadLetterStore(pg_engine),
        reconnect_s=0.5,
    )
    await bus.start()
    smtp = SmtpTransport("127.0.0.1", server.port, "none", timeout_s=10.0)
    service = MailService(settings, pg_engine, bus, smtp, sweep_interval_s=3600)
    await service.start()
    relay = OutboxRelay(pg_engine, bus, poll_s=0.05)
    await relay.start()
    try:
        server.handler.replies.append("451 4.7.1 Greylisted, try again later")
        p = Pipeline(pg_engine, bus, relay, service, server)
        mail_id = await p.queue()
        row = await wait_until(pg_engine, mail_id, {"sent"}, min_attempts=2)
        assert row["attempts"] == 2
        assert len(server.handler.received) == 1
    finally:
        await relay.stop()
        await service.stop()
        await bus.stop()


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_tls_modes_with_login_verify_the_server(
    engine: AsyncEngine, settings: Settings, tmp_path: Path, certificate_authority: trustme.CA, mode: str
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(ca_file))
    server = SmtpServer(
        ScriptedHandler(),
        auth=Authenticator("bildirim", "Gizli.Parola.1"),
        tls=mode,
        tls_context=server_context,
    )
    server.start()
    bus = InProcessBus(SqlDeadLetterStore(engine), RetryPolicy(delays_s=(0.05,), max_attempts=2))
    await bus.start()
    trusted = SmtpTransport("127.0.0.1", server.port, mode, "bildirim", "Gizli.Parola.1", 10.0, str(ca_file))
    service = MailService(settings, engine, bus, trusted, sweep_interval_s=3600)
    await service.start()
    relay = OutboxRelay(engine, bus, poll_s=0.05)
    await relay.start()
    try:
        p = Pipeline(engine, bus, relay, service, server)
        mail_id = await p.queue()
        first = await wait_until(engine, mail_id, {"sent", "deferred", "failed"})
        assert first["state"] == "sent", first["error"]
        assert [r.login for r in server.handler.received] == ["bildirim"]
        # Without the CA the certificate is not trusted: retried, never sent in clear.
        service.delivery.transport = SmtpTransport(
            "127.0.0.1", server.port, mode, "bildirim", "Gizli.Parola.1", 10.0, ""
        )
        second = await p.queue("tls:2")
        row = await wait_until(engine, second, {"deferred"})
        assert "SSL" in row["error"] or "certificate" in row["error"].lower()
        assert len(server.handler.received) == 1
    finally:
        await relay.stop()
        await service.stop()
        await bus.stop()
        server.stop()
