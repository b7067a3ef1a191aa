"""Report fixtures: the hand-computed world of fixture.py on both databases, and the web app over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.reports.fixture import ReportWorld, build_report_world
from tests.staff.conftest import Browsers, StepClock
from webui.app import init_app
from workflow.settings import load_settings


@pytest.fixture
async def rw(engine: AsyncEngine) -> ReportWorld:
    return await build_report_world(engine)


@pytest.fixture
async def server(engine: AsyncEngine, rw: ReportWorld, tmp_path: Path) -> AsyncIterator[TestServer]:
    # Real time (after the accounts were made), so sessions are newer than passwords.
    settings = load_settings(env={}, var_dir=tmp_path / "var")
    app = init_app(settings, engine=engine, clock=StepClock(), attachments_dir=tmp_path / "attachments")
    async with TestServer(app) as srv:
        yield srv


@pytest.fixture
async def browsers(server: TestServer) -> AsyncIterator[Browsers]:
    opened = Browsers(server)
    yield opened
    await opened.close()
