"""The one place that builds the service layer; adapters come in as parameters, nothing at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.adapters.db import create_engine
from workflow.adapters.unit_of_work import SqlAlchemyUnitOfWork
from workflow.service_layer.handlers import COMMAND_HANDLERS, Context
from workflow.service_layer.messagebus import MessageBus
from workflow.service_layer.unit_of_work import AbstractUnitOfWork, UnitOfWorkFactory
from workflow.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    uow_factory: UnitOfWorkFactory
    commands: MessageBus
    clock: Callable[[], datetime]

    def uow(self) -> AbstractUnitOfWork:
        return self.uow_factory()


def utc_now() -> datetime:
    return datetime.now(UTC)


def bootstrap(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    uow_factory: UnitOfWorkFactory | None = None,
    clock: Callable[[], datetime] = utc_now,
    after_commit: Callable[[], None] | None = None,
) -> Services:
    """Build the service layer. ``after_commit`` wakes the outbox relay when a commit wrote outbox rows."""
    if engine is None:
        engine = create_engine(
            settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size
        )
    if uow_factory is None:
        bound_engine = engine

        def uow_factory() -> AbstractUnitOfWork:
            return SqlAlchemyUnitOfWork(bound_engine, after_commit=after_commit)

    ctx = Context(clock=clock, due_days=settings.workflow.default_due_days)
    return Services(
        settings=settings,
        engine=engine,
        uow_factory=uow_factory,
        commands=MessageBus(uow_factory, COMMAND_HANDLERS, ctx),
        clock=clock,
    )
