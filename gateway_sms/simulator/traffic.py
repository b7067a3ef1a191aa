"""What the simulator web page shows and does (embedded default only, staff only).

Pure functions over a running ``Simulator``: the page's view model (the simulated phones' traffic, newest
first, times in Europe/Istanbul) and "send an MO as this number" with the form checks in Turkish. The web
area wires them to a staff-only route and renders ``templates/web/simulator.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway_sms.pdus import status as st
from gateway_sms.simulator.server import Simulator
from workflow.identity import InvalidPhone, normalize_tr_mobile

ISTANBUL = ZoneInfo("Europe/Istanbul")
MAX_MO_LENGTH = 480
CODINGS = {0: "GSM 7-bit", 1: "ASCII", 3: "Latin-1", 8: "UCS-2"}


@dataclass(frozen=True)
class Row:
    at: str  # DD.MM.YYYY SS:DD, Istanbul time
    phone: str  # +90…
    text: str
    detail: str  # coding and parts, or the SMSC's answers


@dataclass(frozen=True)
class Traffic:
    outgoing: list[Row]
    incoming: list[Row]
    binds: int
    bound_sessions: int


def _when(at: datetime) -> str:
    return at.astimezone(ISTANBUL).strftime("%d.%m.%Y %H:%M:%S")


def traffic(sim: Simulator, limit: int = 50) -> Traffic:
    outgoing = [
        Row(
            _when(m.at),
            "+" + m.destination_addr if m.destination_addr.isdigit() else m.destination_addr,
            m.text,
            f"{CODINGS.get(m.data_coding, hex(m.data_coding))}, {len(m.message_ids)} parça",
        )
        for m in reversed(sim.messages[-limit:])
    ]
    incoming = [
        Row(
            _when(r.at),
            "+" + r.source_addr,
            r.text,
            ", ".join(st.status(code).name for code in r.statuses),
        )
        for r in reversed(sim.mo[-limit:])
    ]
    return Traffic(outgoing, incoming, sim.binds, sim.bound_sessions)


async def send_mo(sim: Simulator, phone: str, text: str, to: str) -> str | None:
    """Send ``text`` as an MO from ``phone`` to our number ``to``; a Turkish error for the form, or None."""
    try:
        e164 = normalize_tr_mobile(phone)
    except InvalidPhone as exc:
        return exc.message
    text = text.strip()
    if not text:
        return "Mesaj metni boş olamaz."
    if len(text) > MAX_MO_LENGTH:
        return f"Mesaj en fazla {MAX_MO_LENGTH} karakter olabilir."
    if sim.bound_sessions == 0:
        return "SMS ağ geçidi simülatöre bağlı değil; birkaç saniye sonra yeniden deneyin."
    try:
        await sim.inject_mo(e164[1:], to, text, mode="turkish_shift")
    except (TimeoutError, ConnectionError):
        return "Mesaj iletilemedi: SMS ağ geçidi yanıt vermedi."
    return None
