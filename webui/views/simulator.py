"""The SMSC simulator's page for staff (embedded default only): SMS traffic and "send an MO as a phone".

The view model and the form checks are gateway_sms.simulator.traffic's; this only serves them. Without a
simulator (production), the page does not exist.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway_sms.simulator import Simulator
from gateway_sms.simulator.traffic import send_mo, traffic
from webui import flash
from webui.forms import text_field
from webui.keys import SETTINGS, SIMULATOR
from webui.staff.guard import staff_only
from webui.staff.inbox_views import viewer
from webui.staff.presenters import staff_page
from workflow.mail.outbox_files import recent_mails
from workflow.mail.service import outbox_folder

MAILS_SHOWN = 20


def _simulator(request: web.Request) -> Simulator:
    sim = request.app.get(SIMULATOR)
    if sim is None:
        raise web.HTTPNotFound()
    return sim


async def _page(
    request: web.Request, user_id: str, values: dict[str, str], error: str | None, status: int = 200
) -> web.Response:
    action = request.app.router["simulator_send"].url_for().path
    mail = request.app[SETTINGS].mail
    # Without an SMTP server (the embedded default) mails land in the file outbox; show the newest here.
    mails = [] if mail.enabled else await asyncio.to_thread(recent_mails, outbox_folder(mail), MAILS_SHOWN)
    context = {
        "traffic": traffic(_simulator(request)),
        "mails": mails,
        "values": values,
        "error": error,
        "action": action,
    }
    me = await viewer(request, user_id)
    return await staff_page(request, "simulator.html", me, "simulator", context, status=status)


@staff_only
async def page(request: web.Request, user_id: str) -> web.Response:
    return await _page(request, user_id, {}, None)


@staff_only
async def send(request: web.Request, user_id: str) -> web.Response:
    data = await request.post()
    values = {"telefon": text_field(data, "telefon", 40), "metin": text_field(data, "metin", 2000)}
    sms = request.app[SETTINGS].sms
    error = await send_mo(_simulator(request), values["telefon"], values["metin"], sms.source_addr)
    if error:
        return await _page(request, user_id, values, error, status=400)
    await flash.add(request, "Mesaj simülatöre iletildi.", "success")
    raise web.HTTPSeeOther(request.app.router["simulator"].url_for())
