"""Pages anyone may read: home, KVKK aydınlatma metni, erişilebilirlik beyanı."""

from __future__ import annotations

from aiohttp import web

from webui.render import STATIC_DIR, render

# The SMS keywords a muhtar can send, as shown on the home page (the parser lives in inbound/).
SMS_COMMANDS = (
    ("TALEP 1234", "1234 numaralı talebinizin durumunu öğrenirsiniz."),
    ("TALEPLER", "Açık (sonuçlanmamış) taleplerinizin listesini alırsınız."),
    ("SIKAYET <metin>", "Kısa bir şikâyet başvurusu yaparsınız; başvuru numarası SMS ile gelir."),
    ("YARDIM", "Kullanabileceğiniz komutların listesini alırsınız."),
)


async def home(request: web.Request) -> web.Response:
    return await render(request, "home.html", {"sms_commands": SMS_COMMANDS})


async def kvkk(request: web.Request) -> web.Response:
    return await render(request, "kvkk.html")


async def accessibility(request: web.Request) -> web.Response:
    return await render(request, "accessibility.html")


async def favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "favicon.ico", headers={"Cache-Control": "public, max-age=86400"})
