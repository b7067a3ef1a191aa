"""Every staff URL (under /personel/), named; ``setup_staff_routes`` is called once by webui/routes.py."""

from __future__ import annotations

from aiohttp import web

from webui.staff import actions, admin_views, auth, inbox_views, request_views

NUMBER = "/personel/talepler/{number:\\d{1,12}}"


def setup_staff_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/personel", inbox_views.home, name="staff_home")
    r.add_get("/personel/giris", auth.form, name="staff_login")
    r.add_post("/personel/giris", auth.log_in, name="staff_login_post")
    r.add_post("/personel/cikis", auth.log_out, name="staff_logout")

    r.add_get("/personel/gelen-kutusu", inbox_views.inbox_page, name="staff_inbox")
    r.add_get("/personel/gorunumler", inbox_views.views_page, name="staff_views")
    r.add_get("/personel/ayarlar", inbox_views.settings_page, name="staff_settings")
    r.add_post("/personel/ayarlar", inbox_views.save_settings, name="staff_settings_save")

    r.add_get(NUMBER, request_views.request_page, name="staff_request")
    r.add_get(NUMBER + "/sonuc", request_views.conclude_page, name="staff_conclude_page")
    r.add_get(
        NUMBER + "/ekler/{attachment_id:[0-9a-f]{32}}", request_views.attachment, name="staff_attachment"
    )
    r.add_post(NUMBER + "/oncelik", actions.set_priority, name="staff_priority")
    r.add_post(NUMBER + "/yonlendir", actions.route, name="staff_route")
    r.add_post(NUMBER + "/iade-degerlendir", actions.review_handback, name="staff_review")
    r.add_post(NUMBER + "/uzerine-al", actions.take_on, name="staff_take_on")
    r.add_post(NUMBER + "/ilet", actions.forward, name="staff_forward")
    r.add_post(NUMBER + "/tamamla", actions.complete, name="staff_complete")
    r.add_post(NUMBER + "/iade", actions.hand_back, name="staff_hand_back")
    r.add_post(NUMBER + "/not", actions.add_note, name="staff_note")
    r.add_post(NUMBER + "/sonuclandir", actions.conclude, name="staff_conclude")
    r.add_get("/personel/birimler", inbox_views.unit_search, name="staff_unit_search")

    r.add_get("/personel/yonetim/kullanicilar", admin_views.users, name="staff_admin_users")
    r.add_post("/personel/yonetim/kullanicilar", admin_views.create_user, name="staff_admin_create")
    r.add_get(
        "/personel/yonetim/kullanicilar/{user_id:[0-9a-f]{32}}", admin_views.user, name="staff_admin_user"
    )
    r.add_post(
        "/personel/yonetim/kullanicilar/{user_id:[0-9a-f]{32}}",
        admin_views.change_user,
        name="staff_admin_change",
    )
    r.add_get("/personel/yonetim/birimler", admin_views.units, name="staff_admin_units")
    r.add_post(
        "/personel/yonetim/birimler/{unit_id:\\d{1,9}}", admin_views.change_unit, name="staff_admin_unit"
    )
