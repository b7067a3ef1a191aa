"""Table statistics where PostgreSQL's autovacuum is switched off.

The MO hot path and the report pages depend on the planner knowing how big the tables are: a table that was
empty when last analysed keeps the plans of an empty table (sequential scans, foreign-key checks included) while
it grows, and PostgreSQL's CPU per message grows with it (measured in docs/benchmarks.md, 2026-11-26). Autovacuum
normally keeps the statistics fresh; where an operator has turned it off, the workflow service's hourly chores
analyse (and, where autovacuum would, vacuum) the tables that changed a lot and say, once per process, that
autovacuum is off.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

#: PostgreSQL's own autovacuum defaults: a table needs ANALYZE when 50 rows + 10 % of its live rows changed since the
#: last one, and VACUUM when 50 + 20 % died or 1,000 + 20 % were inserted since the last vacuum (index-only scans,
#: which the report pages rely on, need the visibility map that VACUUM keeps).
_STALE_TABLES = text(
    "SELECT relname, (n_dead_tup > 50 + 0.2 * n_live_tup OR n_ins_since_vacuum > 1000 + 0.2 * n_live_tup) "
    "FROM pg_stat_user_tables WHERE schemaname = current_schema() "
    "AND (n_mod_since_analyze > 50 + 0.1 * n_live_tup OR n_dead_tup > 50 + 0.2 * n_live_tup "
    "OR n_ins_since_vacuum > 1000 + 0.2 * n_live_tup) ORDER BY relname"
)

_warned = False


async def autovacuum_on(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return str((await conn.execute(text("SHOW autovacuum"))).scalar_one()) == "on"


async def analyze_stale_tables(engine: AsyncEngine, autovacuum: bool | None = None) -> list[str]:
    """If autovacuum is off, ANALYZE (and VACUUM where due) the tables that changed a lot; their names.

    ``autovacuum`` overrides what the server says (tests); SQLite has no autovacuum and nothing is done there.
    """
    global _warned
    if engine.dialect.name != "postgresql":
        return []
    if autovacuum is None:
        autovacuum = await autovacuum_on(engine)
    if autovacuum:
        return []
    if not _warned:
        _warned = True
        logger.warning("PostgreSQL autovacuum is off: the workflow service vacuums and analyses changed tables "
                       "hourly; turn autovacuum on (postgresql.conf) to keep them fresh between those hours")
    # Autocommit: VACUUM cannot run inside a transaction block, and each table's lock is let go at once.
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        stale = [(str(name), bool(vacuum)) for name, vacuum in await conn.execute(_STALE_TABLES)]
        for table, vacuum in stale:
            await conn.execute(text(f'{"VACUUM (ANALYZE)" if vacuum else "ANALYZE"} "{table}"'))
    if stale:
        logger.info("analysed %d tables whose statistics were stale (%d also vacuumed)",
                    len(stale), sum(vacuum for _, vacuum in stale))
    return [table for table, _ in stale]
