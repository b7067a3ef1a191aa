"""Load the registry (units and muhtarlıks) into the database: an idempotent upsert by ``code``.

Existing rows are read once, compared, and only the differences are written with batched executemany
statements, one transaction per table. Re-running on an up-to-date database writes nothing and reports
0 new, 0 updated. Rows the registry no longer lists are left alone (requests may point at them); they are
only counted. ``active`` is never touched, so a unit an administrator switched off stays off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.adapters.orm import muhtarliks, units
from workflow.registry.data import (
    DEFAULT_REGISTRY_DIR,
    MuhtarlikRecord,
    UnitRecord,
    iter_muhtarliks,
    iter_units,
    read_source,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stage is "units" or "muhtarliks"."""

BATCH = 2000

UNIT_FIELDS = ("kind", "belediye_kind", "name", "parent_id", "province_id", "district_id")
MUHTARLIK_FIELDS = ("kind", "name", "province_id", "district_id", "province_name", "district_name")


@dataclass(frozen=True, slots=True)
class TableReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    not_in_registry: int = 0  # rows in the database the registry no longer lists (kept)


@dataclass(frozen=True, slots=True)
class LoadReport:
    units: TableReport
    muhtarliks: TableReport

    @property
    def new(self) -> int:
        return self.units.new + self.muhtarliks.new

    @property
    def updated(self) -> int:
        return self.units.updated + self.muhtarliks.updated

    def summary(self) -> str:
        parts = []
        for label, rep in (("units", self.units), ("muhtarliks", self.muhtarliks)):
            parts.append(f"{label}: {rep.new} new, {rep.updated} updated, {rep.unchanged} unchanged"
                         + (f", {rep.not_in_registry} not in registry (kept)" if rep.not_in_registry else ""))
        return "; ".join(parts)


def _batches(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start:start + BATCH]


async def _existing(conn: AsyncConnection, table: Table, fields: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """code -> (id, *fields) of every row already in ``table``."""
    cols = [table.c.code, table.c.id, *(table.c[f] for f in fields)]
    result = await conn.execute(select(*cols))
    return {row[0]: tuple(row[1:]) for row in result}


class _Writer:
    """Inserts and updates one table in batches, reporting progress over the whole registry size."""

    def __init__(self, conn: AsyncConnection, table: Table, fields: Sequence[str],
                 stage: str, total: int, progress: Progress | None) -> None:
        self.conn, self.table, self.fields = conn, table, fields
        self.stage, self.total, self.progress = stage, total, progress
        self.done = 0

    def tick(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.stage, self.done, self.total)

    async def insert(self, rows: Sequence[dict[str, Any]]) -> None:
        for batch in _batches(rows):
            await self.conn.execute(self.table.insert(), list(batch))
            self.tick(len(batch))

    async def update(self, rows: Sequence[dict[str, Any]]) -> None:
        stmt = (update(self.table).where(self.table.c.code == bindparam("b_code"))
                .values({f: bindparam(f"b_{f}") for f in self.fields}))
        for batch in _batches(rows):
            await self.conn.execute(stmt, [{f"b_{k}": v for k, v in row.items() if k != "id"}
                                           for row in batch])
            self.tick(len(batch))


def _split(wanted: Sequence[dict[str, Any]], existing: dict[str, tuple[Any, ...]],
           fields: Sequence[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows to insert, rows to update); unchanged rows are in neither."""
    new, changed = [], []
    for row in wanted:
        have = existing.get(row["code"])
        if have is None:
            new.append(row)
        elif tuple(have[1:]) != tuple(row[f] for f in fields):
            changed.append(row)
    return new, changed


def _unit_row(u: UnitRecord, parent_id: int | None) -> dict[str, Any]:
    return {"code": u.code, "kind": u.kind, "belediye_kind": u.belediye_kind, "name": u.name,
            "parent_id": parent_id, "province_id": u.province_id, "district_id": u.district_id}


async def _load_units(engine: AsyncEngine, records: Sequence[UnitRecord],
                      progress: Progress | None) -> TableReport:
    """Two passes: units without a parent first, then the rest with parent codes resolved to ids."""
    async with engine.begin() as conn:
        existing = await _existing(conn, units, UNIT_FIELDS)
        writer = _Writer(conn, units, UNIT_FIELDS, "units", len(records), progress)
        counts = [0, 0]
        for with_parent in (False, True):
            ids = {code: have[0] for code, have in existing.items()}
            wanted = [_unit_row(u, ids[u.parent_code] if u.parent_code else None)
                      for u in records if (u.parent_code is not None) == with_parent]
            new, changed = _split(wanted, existing, UNIT_FIELDS)
            await writer.insert(new)
            await writer.update(changed)
            writer.tick(len(wanted) - len(new) - len(changed))
            counts[0] += len(new)
            counts[1] += len(changed)
            if not with_parent and new:
                existing = await _existing(conn, units, UNIT_FIELDS)  # learn the new parents' ids
    codes = {u.code for u in records}
    return TableReport(counts[0], counts[1], len(records) - sum(counts),
                       sum(code not in codes for code in existing))


async def _load_muhtarliks(engine: AsyncEngine, records: Sequence[MuhtarlikRecord],
                           progress: Progress | None) -> TableReport:
    wanted = [dict(zip(("code", *MUHTARLIK_FIELDS), astuple(m), strict=True)) for m in records]
    async with engine.begin() as conn:
        existing = await _existing(conn, muhtarliks, MUHTARLIK_FIELDS)
        writer = _Writer(conn, muhtarliks, MUHTARLIK_FIELDS, "muhtarliks", len(records), progress)
        new, changed = _split(wanted, existing, MUHTARLIK_FIELDS)
        await writer.insert(new)
        await writer.update(changed)
        writer.tick(len(wanted) - len(new) - len(changed))
    codes = {m.code for m in records}
    return TableReport(len(new), len(changed), len(records) - len(new) - len(changed),
                       sum(code not in codes for code in existing))


async def load_registry(engine: AsyncEngine, progress: Progress | None = None,
                        directory: Path = DEFAULT_REGISTRY_DIR) -> LoadReport:
    """Upsert every unit and muhtarlık of the registry in ``directory``; idempotent."""
    source = read_source(directory)
    unit_records = list(iter_units(source))
    muhtarlik_records = list(iter_muhtarliks(source))
    unit_report = await _load_units(engine, unit_records, progress)
    muhtarlik_report = await _load_muhtarliks(engine, muhtarlik_records, progress)
    report = LoadReport(unit_report, muhtarlik_report)
    log.info("registry loaded: %s", report.summary())
    return report
