"""The engine factory: one place that knows SQLite and PostgreSQL differ."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from workflow import paths


def resolve_url(url: str) -> str:
    """Relative SQLite paths are relative to the project root, so `make run` works from anywhere."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        db_path = paths.ROOT / parsed.database if not parsed.database.startswith("/") else None
        if db_path is not None:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            return str(parsed.set(database=str(db_path)))
    return url


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


READ_ONLY_OPTION = "muhtar_read_only"


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) for transactions that only read. On SQLite they begin DEFERRED instead of
    IMMEDIATE, so they do not take the write lock; writing through it may fail with SQLITE_BUSY at once, so
    never write through it. On PostgreSQL nothing changes."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """``pre_ping`` (PostgreSQL): test each pooled connection when it is checked out, so a connection the
    server dropped is replaced before use. With asyncpg that costs three round trips per checkout (BEGIN,
    an empty query, ROLLBACK). A service whose every transaction is retried on failure (the workflow
    service: the bus redelivers) turns it off: the first statement on a dropped connection fails, SQLAlchemy
    then discards every connection of the pool opened before the failure, and the retry gets fresh ones."""
    url = resolve_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if make_url(url).get_backend_name() == "postgresql":
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=pre_ping)
        engine = create_async_engine(url, **kwargs)
    else:
        kwargs["connect_args"] = {"timeout": 30}
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE below is what opens it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            # Reads only: a deferred transaction is a WAL snapshot and takes no lock, so a long export or
            # report does not hold up every writer for its whole duration.
            conn.exec_driver_sql("BEGIN")
            return
        # A deferred transaction that later writes can fail with SQLITE_BUSY without waiting;
        # IMMEDIATE takes the write lock up front and waits for it (busy_timeout) instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
