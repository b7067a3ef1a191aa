"""A real SMTP server (aiosmtpd) in the test process, with scripted refusals.

``replies`` is a list of RCPT replies used one per RCPT command, in order; when it is empty every RCPT is
accepted. So ``["451 4.7.1 Greylisted, try again"]`` refuses the first attempt and accepts the next.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None


@dataclass
class ScriptedHandler:
    replies: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    rcpt_commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            self.rcpt_commands += 1
            if self.replies:
                return self.replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.auth_data is not None else None
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
            )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Authenticator:
    def __init__(self, login: str, password: str) -> None:
        self.login, self.password = login.encode(), password.encode()

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.login,
            self.password,
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class SmtpServer:
    """Start/stop/restart on one fixed port, like a mail server going down and coming back.

    ``tls``: "none", "starttls" (STARTTLS required before MAIL) or "tls" (TLS from the first byte), with
    ``tls_context`` holding the server's certificate.
    """

    def __init__(
        self,
        handler: ScriptedHandler,
        auth: Authenticator | None = None,
        *,
        tls: str = "none",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.port = free_port()
        self.auth = auth
        self.tls = tls
        self.tls_context = tls_context
        self._controller: Controller | None = None

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.auth is not None:
            # aiosmtpd only knows about TLS it negotiated itself (STARTTLS): with implicit TLS it would hide
            # AUTH, so it is told not to insist there (the channel is encrypted all the same).
            kwargs = {
                "authenticator": self.auth,
                "auth_require_tls": self.tls == "starttls",
                "auth_required": True,
            }
        if self.tls == "starttls":
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        elif self.tls == "tls":
            kwargs.update(ssl_context=self.tls_context)
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
