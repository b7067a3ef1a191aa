"""Upgrading a database that already holds requests fills report_requests with the same figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import create_pg_database, drop_pg_database, pg_url
from tests.reports.fixture import NOW, build_report_world
from workflow.adapters.db import create_engine
from workflow.adapters.migrate import migrate
from workflow.reports.filters import Filters
from workflow.reports.queries import Section, section_tables
from workflow.reports.scope import Scope

DAY = 86400


@pytest.fixture(params=["sqlite", "postgres"])
async def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A database migrated only up to the revision before the reports."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
        await migrate(engine, "0007_mail")
        yield engine
        await engine.dispose()
        return
    name = await create_pg_database()
    engine = create_engine(pg_url(name))
    try:
        await migrate(engine, "0007_mail")
        yield engine
    finally:
        await engine.dispose()
        await drop_pg_database(name)


async def test_upgrade_fills_the_summary(old_engine: AsyncEngine):
    await build_report_world(old_engine)  # rows written before the triggers exist
    await migrate(old_engine)
    tables = await section_tables(old_engine, Scope(None), Filters(), NOW, Section.DURATIONS)
    by_name = {t.name: {r.values["province"]: (r.values["n"], round(r.values["median"] / DAY, 3))
                        for r in t.rows} for t in tables if t.columns[0].key == "province"}
    assert by_name["sure-yonlendirme"] == {"Ankara": (4, 2), "İzmir": (2, 1)}
    assert by_name["sure-sonuclandirma"] == {"Ankara": (2, 1), "İzmir": (1, 1)}
    assert by_name["sure-toplam"] == {"Ankara": (2, 6), "İzmir": (1, 30)}
    # 0010_report_summaries fills report_work from the completed assignments (fixture.py: 1v, 1s, 2b, 5b).
    per_unit = next(t for t in tables if t.name == "sure-birim")
    assert {r.values["unit"]: (r.values["n"], round(r.values["median"] / DAY, 3)) for r in per_unit.rows} == {
        "Ankara Valiliği": (1, 5), "Ankara İl Sağlık Müdürlüğü": (1, 3), "Çankaya Belediyesi": (1, 1),
        "İzmir Büyükşehir Belediyesi": (1, 28),
    }
    volumes = await section_tables(old_engine, Scope(None), Filters(), NOW, Section.VOLUMES)
    days = next(t for t in volumes if t.name == "hacim-donem")
    assert {r.values["period"]: r.values["count"] for r in days.rows} == {"2026-05-01": 2, "2026-06-01": 5}


async def test_upgrade_fills_the_counts(old_engine: AsyncEngine):
    """0011_report_counts counts the rows already there; the pages read the same figures as from the base
    tables, and the hand-computed ones (fixture.py)."""
    from tests.reports.test_counts import from_base, recount

    await build_report_world(old_engine)
    await migrate(old_engine)
    await recount(old_engine)
    for section in (Section.VOLUMES, Section.BOTTLENECKS):
        tables = await section_tables(old_engine, Scope(None), Filters(), NOW, section)
        assert {t.name: [(r.values, r.link) for r in t.rows] for t in tables} == await from_base(
            old_engine, Scope(None), Filters(), NOW, section)
    bottlenecks = await section_tables(old_engine, Scope(None), Filters(), NOW, Section.BOTTLENECKS)
    ages = next(t for t in bottlenecks if t.name == "darbogaz-yas")
    # 3v (18 days, overdue), 4v (5 days), 7b (51 days, overdue); fixture.py.
    assert {r.values["unit"]: (r.values["b0"], r.values["b2"], r.values["b3"], r.values["overdue"])
            for r in ages.rows} == {"Ankara Valiliği": (0, 1, 0, 1), "İzmir Valiliği": (1, 0, 0, 0),
                                    "Çankaya Belediyesi": (0, 0, 1, 1)}


async def _downgrade(engine: AsyncEngine, target: str) -> None:
    from alembic import command

    from workflow.adapters.migrate import alembic_config

    def run(connection: Any) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, target)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_keyed_counts_upgrade_and_downgrade(old_engine: AsyncEngine):
    """0012_report_keyed_counts counts the rows already there (hand-computed figures of a kind-filtered page),
    goes down to 0011 cleanly and up again with the same figures."""
    from tests.reports.test_counts import recount
    from workflow.domain.vocabulary import RequestKind

    await build_report_world(old_engine)
    await migrate(old_engine, "0011_report_counts")
    await migrate(old_engine)
    await recount(old_engine)
    f = Filters(kind=RequestKind.SIKAYET)

    async def figures() -> dict[str, Any]:
        tables = await section_tables(old_engine, Scope(None), f, NOW, Section.VOLUMES)
        tables += await section_tables(old_engine, Scope(None), f, NOW, Section.DURATIONS)
        return {t.name: [r.values for r in t.rows] for t in tables}

    before = await figures()
    # Şikâyet: requests 1, 3, 6 (fixture.py); 1 reached the Valilik and Sağlık, 3 the Valilik and the Belediye.
    assert {v["unit"]: v["count"] for v in before["hacim-birim"]} == {
        "Ankara Valiliği": 2, "Ankara İl Sağlık Müdürlüğü": 1, "Çankaya Belediyesi": 1}
    assert {v["unit"]: v["median"] // DAY for v in before["sure-birim"]} == {
        "Ankara Valiliği": 5, "Ankara İl Sağlık Müdürlüğü": 3}
    await _downgrade(old_engine, "0011_report_counts")
    async with old_engine.connect() as conn:
        names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        work_columns = {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("report_work"))}
    assert not {n for n in names if n.endswith("_keyed") or n.endswith("_keyed_delta")}
    assert "request_kcs" not in work_columns
    await migrate(old_engine)
    await recount(old_engine)
    assert await figures() == before
