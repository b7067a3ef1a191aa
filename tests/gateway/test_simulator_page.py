"""The simulator page's view model and its "send an MO" form, against a real connector over TCP."""

from __future__ import annotations

import jinja2
import pytest

from gateway_sms.simulator import Simulator
from gateway_sms.simulator.traffic import send_mo, traffic
from tests.gateway.conftest import ConnectorFactory
from workflow.paths import TEMPLATES_DIR

pytestmark = pytest.mark.timeout(60)


async def test_traffic_shows_both_directions(sim: Simulator, make_connector: ConnectorFactory) -> None:
    connector, handler = await make_connector()
    [result] = await connector.send("p1", "+905321234567", "Talebiniz sonuçlandı.")
    assert result.ok
    assert await send_mo(sim, "0532 123 45 67", "  TALEP 1234 ", "4567") is None
    await sim.wait_until(lambda: len(handler.mos) == 1 and len(sim.messages) == 1)
    view = traffic(sim)
    [out] = view.outgoing
    assert (out.phone, out.text, out.detail) == (
        "+905321234567",
        "Talebiniz sonuçlandı.",
        "GSM 7-bit, 1 parça",
    )
    [inc] = view.incoming
    assert (inc.phone, inc.text, inc.detail) == ("+905321234567", "TALEP 1234", "ESME_ROK")
    assert len(out.at) == len("25.11.2026 21:00:00")
    assert view.bound_sessions == 1


# (phone, text, words of the Turkish error)
FORM_ERRORS = [
    ("", "TALEP 1", "boş"),
    ("0212 123 45 67", "TALEP 1", "cep"),
    ("abc", "TALEP 1", ""),
    ("05321234567", "   ", "Mesaj metni boş"),
    ("05321234567", "x" * 481, "en fazla 480"),
]


@pytest.mark.parametrize(("phone", "text", "words"), FORM_ERRORS)
async def test_send_mo_form_errors(sim: Simulator, phone: str, text: str, words: str) -> None:
    error = await send_mo(sim, phone, text, "4567")
    assert error is not None and words.lower() in error.lower()
    assert sim.mo == []


async def test_send_mo_without_a_bound_gateway(sim: Simulator) -> None:
    error = await send_mo(sim, "05321234567", "TALEP 1", "4567")
    assert error is not None and "bağlı değil" in error


def test_template_compiles() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)
    env.get_template("web/simulator.html")
