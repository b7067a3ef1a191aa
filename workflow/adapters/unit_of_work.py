"""The SQLAlchemy unit of work: one connection, one transaction, events to the outbox on commit."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import uuid4

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from workflow.adapters import orm
from workflow.adapters.repository import SqlDirectory, SqlRequestRepository
from workflow.domain.events import Event
from workflow.domain.units import Actor
from workflow.service_layer.unit_of_work import AbstractUnitOfWork, DuplicateSubmission

logger = logging.getLogger(__name__)


def event_payload(event: Event) -> dict[str, Any]:
    payload = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        payload[f.name] = value
    return payload


def outbox_row(event: Event, correlation_id: str | None = None) -> dict[str, Any]:
    message_id = uuid4().hex
    return {
        "message_id": message_id,
        "topic": f"events.{event.schema}",
        "schema": event.schema,
        "schema_version": event.version,
        "payload": json.dumps(event_payload(event), ensure_ascii=False),
        "correlation_id": correlation_id or message_id,
        "ordering_key": event.request_id,
        "created_at": event.at,
        "attempts": 0,
    }


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    """``conn`` is open between ``async with`` and its end; other areas may run their own statements on it."""

    def __init__(self, engine: AsyncEngine, after_commit: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.after_commit = after_commit
        self.correlation_id: str | None = None

    async def __aenter__(self) -> Self:
        self.conn: AsyncConnection = await self.engine.connect()
        self.tx: AsyncTransaction = await self.conn.begin()
        self.requests = SqlRequestRepository(self.conn)
        self.directory = SqlDirectory(self.conn)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.rollback()
        finally:
            await self.conn.close()

    async def _commit(self) -> None:
        rows: list[dict[str, Any]] = []
        try:
            for request in self.requests.seen.values():
                await self.requests.save(request)
                rows.extend(outbox_row(e, self.correlation_id) for e in request.events)
            if rows:
                await self.conn.execute(insert(orm.outbox), rows)
            await self.tx.commit()
        except IntegrityError as exc:
            if self.requests.idempotency_keys:
                raise DuplicateSubmission() from exc
            raise
        for request in self.requests.seen.values():
            request.events.clear()
        if rows and self.after_commit is not None:
            self.after_commit()

    async def rollback(self) -> None:
        if self.tx.is_active:
            await self.tx.rollback()

    async def log_access(
        self, viewer: Actor, request_id: str, action: str, at: datetime, source_addr: str | None
    ) -> None:
        await self.conn.execute(
            insert(orm.data_access_log).values(
                at=at,
                viewer_kind=viewer.kind.value,
                viewer_id=viewer.id,
                unit_id=viewer.unit.id if viewer.unit else None,
                request_id=request_id,
                action=action,
                source_addr=source_addr,
            )
        )
