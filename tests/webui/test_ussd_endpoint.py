"""POST /ussd is served by the web app itself: no CSRF token, its own shared-secret check."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.webui.conftest import Clock, World
from webui.app import init_app
from workflow.settings import Settings, UssdSettings

SECRET = "ussd-" + "s" * 30


async def _client(settings: Settings, engine: AsyncEngine, clock: Clock, tmp_path: Path) -> TestClient:
    settings = dataclasses.replace(settings, ussd=UssdSettings(secret=SECRET))
    app = init_app(settings, engine=engine, clock=clock, attachments_dir=tmp_path / "att")
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_operator_call_gets_the_main_menu(
    settings: Settings, engine: AsyncEngine, clock: Clock, tmp_path: Path, world: World
) -> None:
    client = await _client(settings, engine, clock, tmp_path)
    try:
        form = {"sessionId": "s-1", "serviceCode": "*4444#", "phoneNumber": "+905321234567", "text": ""}
        response = await client.post("/ussd", data=form, headers={"X-USSD-Secret": SECRET})
        body = await response.text()
        assert response.status == 200, body
        assert response.content_type == "text/plain"
        assert body.startswith("CON ") and "1" in body
        refused = await client.post("/ussd", data=form, headers={"X-USSD-Secret": "wrong"})
        assert refused.status in (401, 403)
    finally:
        await client.close()
