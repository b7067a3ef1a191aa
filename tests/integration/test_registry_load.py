"""Loading the registry into SQLite and PostgreSQL: the full data once, then idempotence and updates."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from tests.registry.helpers import filter_csv
from tests.registry.helpers import small_registry as make_small_registry
from workflow.adapters.orm import muhtarliks, units
from workflow.registry.data import PROVINCES_FILE, TOWNS_FILE
from workflow.registry.load import load_registry

pytestmark = pytest.mark.integration


async def _counts(engine: AsyncEngine) -> dict[tuple[str, str | None], int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(units.c.kind, units.c.belediye_kind, func.count())
            .group_by(units.c.kind, units.c.belediye_kind))
        return {(kind, bk): n for kind, bk, n in rows}


async def test_full_registry_loads_with_the_acceptance_figures_and_reloads_as_a_no_op(
    engine: AsyncEngine,
) -> None:
    calls: list[tuple[str, int, int]] = []
    report = await load_registry(engine, lambda stage, done, total: calls.append((stage, done, total)))

    assert report.units.new == 4068 and report.muhtarliks.new == 50369
    assert await _counts(engine) == {
        ("migm", None): 1, ("valilik", None): 81, ("il_mudurlugu", None): 1620,
        ("il_ozel_idaresi", None): 51, ("kaymakamlik", None): 922, ("belediye", "buyuksehir"): 30,
        ("belediye", "il"): 51, ("belediye", "ilce"): 922, ("belediye", "belde"): 390,
    }
    parent = aliased(units)
    async with engine.connect() as conn:
        kinds = dict((await conn.execute(
            select(muhtarliks.c.kind, func.count()).group_by(muhtarliks.c.kind))).all())
        assert kinds == {"mahalle": 32186, "koy": 18183}
        orphans = await conn.scalar(
            select(func.count()).select_from(units.outerjoin(parent, units.c.parent_id == parent.c.id))
            .where(units.c.parent_id.is_not(None), parent.c.kind != "valilik"))
        assert orphans == 0
        cankaya = (await conn.execute(
            select(units.c.code, parent.c.code, units.c.active)
            .join(parent, units.c.parent_id == parent.c.id)
            .where(units.c.name == "Çankaya Kaymakamlığı"))).one()
        assert cankaya[1] == "VAL-06" and cankaya[2] is True

    # progress ends at the total of each stage, never goes backwards
    for stage, total in (("units", 4068), ("muhtarliks", 50369)):
        done = [d for s, d, t in calls if s == stage and t == total]
        assert done == sorted(done) and done[-1] == total

    again = await load_registry(engine)
    assert (again.new, again.updated) == (0, 0)
    assert again.units.unchanged == 4068 and again.muhtarliks.unchanged == 50369


@pytest.fixture
def small_registry(tmp_path: Path) -> Path:
    """Two provinces only: Ankara (metropolitan, 06) and Bolu (not, 14)."""
    return make_small_registry(tmp_path / "registry")


def _rename_province(reg: Path, old: str, new: str) -> None:
    path = reg / PROVINCES_FILE
    path.write_text(path.read_text(encoding="utf-8").replace(f",{old},", f",{new},"), encoding="utf-8")


async def test_changes_in_the_registry_update_rows_in_place_and_keep_ids_and_active(
    engine: AsyncEngine, small_registry: Path
) -> None:
    first = await load_registry(engine, directory=small_registry)
    assert first.units.new > 0 and first.muhtarliks.new > 0
    async with engine.begin() as conn:
        ids_before = dict((await conn.execute(select(units.c.code, units.c.id))).all())
        # an administrator switched one unit off; a reload must not switch it back on
        await conn.execute(update(units).where(units.c.code == "IOI-14").values(active=False))

    _rename_province(small_registry, "Bolu", "Bolu Yeni")
    bolu_beldes = sum(1 for line in (small_registry / TOWNS_FILE).read_text().splitlines() if ",14," in line)
    filter_csv(small_registry / TOWNS_FILE, lambda r: r[1] != "14")  # Bolu's belde left the registry
    second = await load_registry(engine, directory=small_registry)

    async with engine.connect() as conn:
        rows = {code: (uid, name, active) for code, uid, name, active in await conn.execute(
            select(units.c.code, units.c.id, units.c.name, units.c.active))}
        bolu_muhtarlik = (await conn.execute(
            select(muhtarliks.c.province_name).where(muhtarliks.c.province_id == 14).limit(1))).scalar_one()
    assert rows["VAL-14"][1] == "Bolu Yeni Valiliği"
    assert rows["IOI-14"] == (ids_before["IOI-14"], "Bolu Yeni İl Özel İdaresi", False)
    assert rows["VAL-06"][1] == "Ankara Valiliği"
    assert {code: uid for code, (uid, _, _) in rows.items()} == ids_before  # nothing re-created or deleted
    assert bolu_muhtarlik == "Bolu Yeni"
    # Valilik, İl Özel İdaresi, il belediyesi and the 20 il müdürlükleri carry the province name
    assert second.units.new == 0 and second.units.updated == 3 + 20
    assert second.units.not_in_registry == bolu_beldes > 0
    assert second.muhtarliks.new == 0 and second.muhtarliks.updated > 0

    third = await load_registry(engine, directory=small_registry)
    assert (third.new, third.updated) == (0, 0)
