"""Report fixtures: the hand-computed world of fixture.py on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.reports.fixture import ReportWorld, build_report_world


@pytest.fixture
async def rw(engine: AsyncEngine) -> ReportWorld:
    return await build_report_world(engine)
