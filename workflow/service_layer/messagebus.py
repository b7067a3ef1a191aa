"""Dispatches commands to their handlers, each with a fresh unit of work."""

from __future__ import annotations

from typing import Any

from workflow.domain.commands import Command
from workflow.service_layer.handlers import Context, Handler
from workflow.service_layer.unit_of_work import UnitOfWorkFactory


class MessageBus:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, handlers: dict[type[Command], Handler], ctx: Context
    ) -> None:
        self.uow_factory = uow_factory
        self.handlers = handlers
        self.ctx = ctx

    async def handle(self, command: Command) -> Any:
        handler = self.handlers[type(command)]
        return await handler(command, self.uow_factory(), self.ctx)
