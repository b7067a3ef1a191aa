"""Table statistics where PostgreSQL's autovacuum is switched off.

The MO hot path and the report pages depend on the planner knowing how big the tables are: a table that was
empty when last analysed keeps the plans of an empty table (sequential scans, foreign-key checks included) while
it grows, and PostgreSQL's CPU per message grows with it (measured in docs/benchmarks.md, 2026-11-26). Autovacuum
normally keeps the statistics fresh; where an operator has turned it off, the workflow service's hourly chores
analyse the tables that changed a lot since their last ANALYZE and say, once per process, that autovacuum is off.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

#: A table is stale when this many rows plus this share of its live rows changed since its last ANALYZE —
#: PostgreSQL's own defaults for autovacuum_analyze_threshold / autovacuum_analyze_scale_factor.
STALE_ROWS = 50
STALE_SHARE = 0.1

_STALE_TABLES = text(
    "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
    "AND n_mod_since_analyze > :rows + :share * n_live_tup ORDER BY relname"
)

_warned = False


async def autovacuum_on(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return str((await conn.execute(text("SHOW autovacuum"))).scalar_one()) == "on"


async def analyze_stale_tables(engine: AsyncEngine, autovacuum: bool | None = None) -> list[str]:
    """ANALYZE the tables that changed a lot since their last ANALYZE, if autovacuum is off; their names.

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
        logger.warning("PostgreSQL autovacuum is off: the workflow service analyses changed tables hourly; "
                       "turn autovacuum on (postgresql.conf) so that tables are also vacuumed")
    # Autocommit: each ANALYZE commits on its own instead of holding its lock until the last one is done.
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        stale = list((await conn.execute(_STALE_TABLES, {"rows": STALE_ROWS, "share": STALE_SHARE})).scalars())
        for table in stale:
            await conn.execute(text(f'ANALYZE "{table}"'))
    if stale:
        logger.info("analysed %d tables whose statistics were stale", len(stale))
    return stale
