"""Every URL of the site in one place, each with a name (templates and redirects use the names)."""

from __future__ import annotations

from aiohttp import web

from webui.render import STATIC_DIR
from webui.reports.routes import setup_report_routes
from webui.staff.routes import setup_staff_routes
from webui.views import login, public, requests, simulator


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", public.home, name="home")
    r.add_get("/favicon.ico", public.favicon, name="favicon")
    r.add_get("/kvkk-aydinlatma-metni", public.kvkk, name="kvkk")
    r.add_get("/erisilebilirlik-beyani", public.accessibility, name="accessibility")

    r.add_get("/giris", login.form, name="login")
    r.add_post("/giris", login.send_code, name="login_send")
    r.add_get("/giris/dogrulama-kodu.png", login.captcha_image, name="captcha_image")
    r.add_get("/giris/dogrulama-kodu.wav", login.captcha_audio, name="captcha_audio")
    r.add_get("/giris/onay", login.code_form, name="otp")
    r.add_post("/giris/onay", login.verify_code, name="otp_verify")
    r.add_post("/giris/yeniden-gonder", login.resend_code, name="otp_resend")
    r.add_post("/cikis", login.logout, name="logout")

    r.add_get("/basvuru", requests.new_form, name="request_new")
    r.add_post("/basvuru", requests.file, name="request_file")
    r.add_get("/basvuru/gonderildi/{number:\\d{1,12}}", requests.filed, name="request_filed")
    r.add_get("/talepler", requests.listing, name="requests")
    r.add_get("/talepler/{number:\\d{1,12}}", requests.detail, name="request_detail")
    r.add_get(
        "/talepler/{number:\\d{1,12}}/ekler/{attachment_id:[0-9a-f]{32}}",
        requests.attachment,
        name="request_attachment",
    )

    setup_staff_routes(app)  # /personel/…
    setup_report_routes(app)  # /personel/raporlar/…
    # The SMSC simulator's page exists only when the app was given one (embedded default, staff only).
    r.add_get("/personel/simulator", simulator.page, name="simulator")
    r.add_post("/personel/simulator", simulator.send, name="simulator_send")

    r.add_static("/static/", STATIC_DIR, name="static", append_version=False)
