"""The unit of work: one transaction; rolls back unless committed; writes events to the outbox on commit."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from workflow.domain.model import Request
from workflow.domain.units import Actor, UnitRef


class DuplicateSubmission(Exception):
    """Another transaction committed a request with the same idempotency key first."""


class AbstractRequestRepository(abc.ABC):
    def __init__(self) -> None:
        self.seen: dict[str, Request] = {}
        self.idempotency_keys: dict[str, str] = {}

    def add(self, request: Request) -> None:
        self.seen[request.id] = request

    def remember_idempotency_key(self, request: Request, key: str) -> None:
        """Stored with the new request, so a double submission finds it (see FileRequest)."""
        self.idempotency_keys[request.id] = key

    async def get_by_number(self, number: int) -> Request | None:
        request = await self._get_by_number(number)
        if request is not None:
            self.seen[request.id] = request
        return request

    @abc.abstractmethod
    async def _get_by_number(self, number: int) -> Request | None: ...

    @abc.abstractmethod
    async def save(self, request: Request) -> None:
        """Persist the request; raise ConcurrencyConflict if someone else saved it since it was loaded."""

    @abc.abstractmethod
    async def next_number(self) -> int: ...

    @abc.abstractmethod
    async def number_for_idempotency_key(self, key: str, muhtar_id: str) -> int | None: ...


class AbstractDirectory(abc.ABC):
    """Who is who: units, staff users and muhtars, as the domain needs them."""

    @abc.abstractmethod
    async def unit(self, unit_id: int) -> UnitRef | None: ...

    async def units(self, unit_ids: Sequence[int]) -> dict[int, UnitRef]:
        found = {}
        for unit_id in unit_ids:
            unit = await self.unit(unit_id)
            if unit is not None:
                found[unit_id] = unit
        return found

    @abc.abstractmethod
    async def staff_actor(self, user_id: str) -> Actor | None: ...

    @abc.abstractmethod
    async def muhtar_actor(self, muhtar_id: str) -> Actor | None: ...


class AbstractUnitOfWork(abc.ABC):
    requests: AbstractRequestRepository
    directory: AbstractDirectory

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        """Save every touched request and its new events (as outbox rows) in one transaction."""
        await self._commit()

    @abc.abstractmethod
    async def _commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...

    @abc.abstractmethod
    async def log_access(
        self, viewer: Actor, request_id: str, action: str, at: datetime, source_addr: str | None
    ) -> None: ...


UnitOfWorkFactory = Callable[[], AbstractUnitOfWork]
