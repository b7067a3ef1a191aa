"""Error pages, security headers and cache headers.

Every error a person can meet is a Turkish page with the same header and footer as the rest of the
site; a traceback never leaves the server (and the log line names the exception class and where it was
raised, not its text: SQL errors quote their parameters, which may be personal data).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from webui import csrf

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# status -> (title, explanation). Anything else >= 400 falls back to 400 or 500's text.
ERROR_PAGES: Final[dict[int, tuple[str, str]]] = {
    400: ("İstek anlaşılamadı", "Gönderilen bilgiler okunamadı. Lütfen sayfayı yenileyip tekrar deneyin."),
    403: ("Erişim engellendi", "Bu sayfayı görüntüleme ya da bu işlemi yapma yetkiniz yok."),
    404: (
        "Sayfa bulunamadı",
        "Aradığınız sayfa ya da talep bulunamadı. Adresi doğru yazdığınızdan emin olun.",
    ),
    405: ("İşlem desteklenmiyor", "Bu sayfada bu işlem yapılamaz. Lütfen sayfadaki düğmeleri kullanın."),
    413: (
        "Gönderilen dosyalar çok büyük",
        "Gönderdiğiniz dosyaların toplam boyutu sınırı aşıyor. Daha küçük ya da daha az dosya seçin.",
    ),
    429: ("Çok fazla deneme", "Kısa sürede çok fazla istek yapıldı. Lütfen biraz bekleyip tekrar deneyin."),
    500: (
        "Beklenmeyen bir hata oluştu",
        "İsteğiniz şu anda tamamlanamadı. Girdiğiniz bilgiler kaydedilmemiş olabilir; lütfen biraz sonra "
        "tekrar deneyin. Sorun sürerse muhtarlık destek hattına başvurun.",
    ),
}

CSRF_TEXT: Final = (
    "Güvenlik doğrulaması başarısız oldu: formun süresi dolmuş ya da form başka bir sayfadan gönderilmiş. "
    "Lütfen sayfayı yenileyip işleminizi tekrar yapın."
)

# No inline script or style anywhere: templates load /static files only.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
STATIC_PREFIX: Final = "/static/"

# When the app began handling the request (perf_counter), for the Server-Timing header.
STARTED: web.RequestKey[float] = web.RequestKey("started")


async def _error_page(request: web.Request, status: int, text: str | None = None) -> web.Response:
    from webui.render import render  # late: render imports the app keys, which import settings

    title, message = ERROR_PAGES.get(status) or ERROR_PAGES[500 if status >= 500 else 400]
    return await render(
        request, "error.html", {"title": title, "message": text or message, "status": status}, status=status
    )


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: notes when handling began; ``on_prepare_headers`` turns it into ``Server-Timing``."""
    request[STARTED] = time.perf_counter()
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except csrf.CsrfRefused as exc:
        logger.warning("CSRF check failed (%s) on %s %s", exc.why, request.method, request.path)
        return await _error_page(request, 403, CSRF_TEXT)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like pass through
        response = await _error_page(request, exc.status)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        # Frames only (file, line, function): no exception text, no source lines, no local values.
        where = " < ".join(
            f"{f.filename}:{f.lineno} {f.name}"
            for f in reversed(traceback.extract_tb(exc.__traceback__)[-4:])
        )
        logger.error(
            "unhandled %s on %s %s at %s", exc.__class__.__name__, request.method, request.path, where
        )
        try:
            return await _error_page(request, 500)
        except Exception:  # the error page itself failed (template, session): plain text, still Turkish
            return web.Response(status=500, text="Beklenmeyen bir hata oluştu.", charset="utf-8")


async def on_prepare_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Security headers on every response (errors too); long caching for versioned static files only."""
    headers = response.headers
    started = request.get(STARTED)
    if started is not None and request.method in ("GET", "HEAD"):
        # Server time of a page (middlewares, view, rendering; not the wait to be read off the socket), for
        # benchmarks and the browser's developer tools. Not on form posts: log-in timing stays unmeasured.
        headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith(STATIC_PREFIX) and response.status == 200:
        # static_url() adds ?v=<content hash>: a changed file gets a new URL, so a year is safe.
        versioned = "v" in request.query
        headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if versioned else "public, max-age=3600"
        )
    else:
        # Pages carry personal data: never stored by browsers or proxies.
        headers.setdefault("Cache-Control", "no-store")
