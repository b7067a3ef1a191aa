"""POST /ussd: the operator's USSD gateway calls this for every step of a session (docs/ussd.md).

    def add_ussd_routes(app: web.Application, services: Services, path: str = "/ussd") -> None
    async def ussd_handler(request: web.Request) -> web.Response

Fields (form-encoded, or a JSON object): ``sessionId``, ``serviceCode``, ``phoneNumber``, ``text`` (the
``*``-joined answers so far). The reply is ``text/plain``: ``CON <screen>`` to continue, ``END <screen>``
to finish.

Only the operator may call it: the caller's address must be in ``ussd.allow_from`` (when the list is not
empty) and, when ``ussd.secret`` is set, the ``X-USSD-Secret`` header must carry it. With neither
configured every call is refused. The endpoint carries no session cookie and no CSRF token: the web app
must exempt it from its CSRF check (``ussd_handler.csrf_exempt`` is True for that purpose).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from inbound.ussd import UssdRequest, handle_ussd
from workflow.bootstrap import Services
from workflow.settings import UssdSettings

logger = logging.getLogger(__name__)

USSD_SERVICES: Final = web.AppKey("inbound_ussd_services", Services)
SECRET_HEADER: Final = "X-USSD-Secret"
MAX_BODY: Final = 8 * 1024
MAX_SESSION_ID: Final = 100
MAX_TEXT: Final = 2000

BAD_REQUEST_TEXT: Final = "END İstek anlaşılamadı."
UNAVAILABLE_TEXT: Final = "END Hizmet şu anda kullanılamıyor. Lütfen daha sonra yeniden deneyin."


def add_ussd_routes(app: web.Application, services: Services, path: str = "/ussd") -> None:
    app[USSD_SERVICES] = services
    app.router.add_post(path, ussd_handler)


def _plain(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/plain", charset="utf-8")


def caller_allowed(settings: UssdSettings, remote: str | None, sent_secret: str | None) -> bool:
    """The allow-list and the shared secret, as configured; nothing configured refuses everyone."""
    if not settings.allow_from and not settings.secret:
        return False
    if settings.allow_from and not _address_allowed(settings.allow_from, remote):
        return False
    if settings.secret:
        return sent_secret is not None and hmac.compare_digest(
            sent_secret.encode("utf-8", "replace"), settings.secret.encode("utf-8")
        )
    return True


def _address_allowed(allow_from: tuple[str, ...], remote: str | None) -> bool:
    if remote is None:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(item, strict=False) for item in allow_from)


async def _fields(request: web.Request) -> Mapping[str, Any] | None:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    if request.content_type == "application/json":
        try:
            data = json.loads(await request.text())
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None
    return await request.post()


def _parse(fields: Mapping[str, Any]) -> UssdRequest | None:
    values = {name: fields.get(name) for name in ("sessionId", "serviceCode", "phoneNumber", "text")}
    if any(v is not None and not isinstance(v, str) for v in values.values()):
        return None
    session_id, phone = values["sessionId"] or "", values["phoneNumber"] or ""
    text = values["text"] or ""
    if not session_id or len(session_id) > MAX_SESSION_ID or not phone or len(phone) > 32:
        return None
    return UssdRequest(session_id, values["serviceCode"] or "", phone, text[:MAX_TEXT])


async def ussd_handler(request: web.Request) -> web.Response:
    services = request.app[USSD_SERVICES]
    if not caller_allowed(services.settings.ussd, request.remote, request.headers.get(SECRET_HEADER)):
        logger.warning("USSD call refused from %s: not an allowed gateway", request.remote)
        return _plain("Forbidden", status=403)
    fields = await _fields(request)
    req = _parse(fields) if fields is not None else None
    if req is None:
        logger.info("USSD call with missing or malformed fields")
        return _plain(BAD_REQUEST_TEXT, status=400)
    try:
        reply = await handle_ussd(services, req)
    except Exception as exc:  # the phone must get an END screen whatever failed
        logger.error("USSD step failed: %s", type(exc).__name__, exc_info=False)
        return _plain(UNAVAILABLE_TEXT, status=200)
    return _plain(reply.body)


# The web app's CSRF middleware must let the gateway's POST through (no browser session is involved).
ussd_handler.csrf_exempt = True  # type: ignore[attr-defined]
