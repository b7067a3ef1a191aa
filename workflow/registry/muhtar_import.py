"""Import a muhtar list (CSV) into ``muhtars``: every bad row reported, good rows upserted by TCKN.

All good rows are written in ONE transaction: a crash or a database error writes nothing. Rules beyond the
row checks of ``muhtar_csv``:

- the muhtarlık code must exist in the registry (``muhtar registry load`` first);
- a muhtarlık has one muhtar: an active muhtar of a muhtarlık the file gives to someone else (and who is
  not in the file) is deactivated — the file is the newer list, e.g. after an election;
- a mobile number identifies its muhtar for SMS, so it may not belong to another muhtar who stays active.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.adapters.orm import muhtarliks, muhtars
from workflow.registry.muhtar_csv import MuhtarRow, ParsedFile, RowError

log = logging.getLogger(__name__)

BATCH = 2000


@dataclass(frozen=True, slots=True)
class Existing:
    id: str
    full_name: str
    phone_e164: str
    muhtarlik_id: int
    active: bool


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0: every row imported; 1: some rows were bad (the good ones were imported)."""
        return 1 if self.errors else 0

    def summary(self) -> str:
        return (f"{self.rows} rows: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
                f"{len(self.errors)} rejected; {self.deactivated} previous muhtars deactivated")


@dataclass(frozen=True, slots=True)
class _Plan:
    rows: list[tuple[MuhtarRow, int]]  # (row, muhtarlik_id)
    deactivate: set[str]  # ids of existing muhtars


async def _read_state(conn: AsyncConnection) -> tuple[dict[str, int], dict[str, Existing]]:
    codes = {code: mid for mid, code in await conn.execute(select(muhtarliks.c.id, muhtarliks.c.code))}
    cols = (muhtars.c.tckn, muhtars.c.id, muhtars.c.full_name, muhtars.c.phone_e164,
            muhtars.c.muhtarlik_id, muhtars.c.active)
    existing = {row[0]: Existing(*row[1:]) for row in await conn.execute(select(*cols))}
    return codes, existing


def _plan(parsed: ParsedFile, codes: dict[str, int], existing: dict[str, Existing],
          errors: list[RowError]) -> _Plan:
    rows: list[tuple[MuhtarRow, int]] = []
    hint = "" if codes else " (the registry is empty: run muhtar registry load first)"
    for row in parsed.rows:
        if row.muhtarlik_code in codes:
            rows.append((row, codes[row.muhtarlik_code]))
        else:
            errors.append(RowError(row.line, f"unknown muhtarlık code {row.muhtarlik_code}{hint}"))
    # Rejecting a row for its phone can keep another muhtar active, whose phone may then clash with a
    # further row: repeat until nothing changes (in practice one or two rounds).
    while True:
        in_file = {r.tckn for r, _ in rows}
        claimed = {mid for _, mid in rows}
        others = [e for t, e in existing.items() if e.active and t not in in_file]
        deactivate = {e.id for e in others if e.muhtarlik_id in claimed}
        taken = {e.phone_e164 for e in others if e.id not in deactivate}
        clash = [(r, m) for r, m in rows if r.phone_e164 in taken]
        if not clash:
            return _Plan(rows, deactivate)
        errors.extend(RowError(r.line, "mobile phone already registered to another active muhtar")
                      for r, _ in clash)
        rows = [(r, m) for r, m in rows if r.phone_e164 not in taken]


async def _executemany(conn: AsyncConnection, stmt: Any, params: list[dict[str, Any]]) -> None:
    for start in range(0, len(params), BATCH):
        await conn.execute(stmt, params[start:start + BATCH])


async def _write(conn: AsyncConnection, plan: _Plan, existing: dict[str, Existing], now: datetime,
                 report: ImportReport) -> None:
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row, mid in plan.rows:
        have = existing.get(row.tckn)
        values = {"full_name": row.full_name, "phone_e164": row.phone_e164, "muhtarlik_id": mid}
        if have is None:
            inserts.append({"id": uuid.uuid4().hex, "tckn": row.tckn, "active": True,
                            "created_at": now, "updated_at": now, **values})
        elif (have.full_name, have.phone_e164, have.muhtarlik_id, have.active) != (*values.values(), True):
            updates.append({"b_id": have.id, "b_full_name": row.full_name, "b_phone_e164": row.phone_e164,
                            "b_muhtarlik_id": mid, "b_active": True, "b_updated_at": now})
        else:
            report.unchanged += 1
    off = [{"b_id": i, "b_active": False, "b_updated_at": now} for i in sorted(plan.deactivate)]
    cols = ("full_name", "phone_e164", "muhtarlik_id", "active", "updated_at")
    set_all = (update(muhtars).where(muhtars.c.id == bindparam("b_id"))
               .values({c: bindparam(f"b_{c}") for c in cols}))
    set_off = (update(muhtars).where(muhtars.c.id == bindparam("b_id"))
               .values(active=bindparam("b_active"), updated_at=bindparam("b_updated_at")))
    # Deactivate first: a phone or muhtarlık moves to its new holder within the same transaction.
    await _executemany(conn, set_off, off)
    await _executemany(conn, set_all, updates)
    await _executemany(conn, muhtars.insert(), inserts)
    report.new, report.updated, report.deactivated = len(inserts), len(updates), len(off)


async def import_muhtars(engine: AsyncEngine, parsed: ParsedFile, now: datetime) -> ImportReport:
    """Write the good rows of ``parsed`` in one transaction; returns what happened, row errors included."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    report = ImportReport(rows=parsed.total, errors=list(parsed.errors))
    async with engine.begin() as conn:
        codes, existing = await _read_state(conn)
        plan = _plan(parsed, codes, existing, report.errors)
        await _write(conn, plan, existing, now, report)
    report.errors.sort(key=lambda e: e.line)
    log.info("muhtar import: %s", report.summary())
    return report
