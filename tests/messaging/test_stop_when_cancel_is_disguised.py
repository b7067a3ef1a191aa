"""Background loops stop when cancelled even if the cancellation reaches their ``except Exception`` disguised
as another error (SQLAlchemy raises PendingRollbackError when a cancel lands inside a transaction). Before the
fix the loop logged it and slept on, so ``stop()`` waited for it forever."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.messaging.conftest import WAIT_S, MemoryDeadLetters
from workflow.adapters.db import create_engine
from workflow.cancellation import reraise_if_stopping, stop_requested
from workflow.entrypoints import workflow_service
from workflow.mail.service import MailService
from workflow.messaging.inprocess import InProcessBus
from workflow.settings import Settings, load_settings


class DisguisedCancel(Exception):
    """Stands in for PendingRollbackError: what a cancelled transaction raises instead of CancelledError."""


async def stops(stop: Any) -> None:
    """``stop()`` finishes on its own; not ``wait_for``, whose cancel on timeout the stop would swallow."""
    task = asyncio.ensure_future(stop)
    done, _ = await asyncio.wait({task}, timeout=WAIT_S)
    if not done:
        task.cancel()
        pytest.fail("stop() did not return: the loop swallowed its cancellation")


async def _in_transaction(entered: asyncio.Event) -> None:
    entered.set()
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        raise DisguisedCancel("rollback failed") from None


async def test_reraise_if_stopping_only_when_the_task_is_cancelled() -> None:
    reraise_if_stopping(DisguisedCancel())  # not cancelled: nothing happens
    assert not stop_requested()
    entered = asyncio.Event()
    seen: list[str] = []

    async def loop() -> None:
        while True:
            try:
                await _in_transaction(entered)
            except Exception as exc:
                seen.append(exc.__class__.__name__)
                reraise_if_stopping(exc)

    task = asyncio.create_task(loop())
    await asyncio.wait_for(entered.wait(), WAIT_S)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, WAIT_S)
    assert seen == ["DisguisedCancel"]


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, InProcessBus, Settings]]:
    """An SQLite engine, a started in-process bus and settings; stopped and disposed after the test."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'sweep.sqlite'}")
    bus = InProcessBus(MemoryDeadLetters())
    await bus.start()
    yield engine, bus, load_settings(env={}, var_dir=tmp_path)
    await bus.stop()
    await engine.dispose()


async def test_mail_service_stops_while_its_sweep_is_inside_a_transaction(
    parts: tuple[AsyncEngine, InProcessBus, Settings],
) -> None:
    entered = asyncio.Event()

    class Sweeping(MailService):
        async def sweep(self) -> None:
            await _in_transaction(entered)

    engine, bus, settings = parts
    service = Sweeping(settings, engine, bus, sweep_interval_s=3600)
    await service.start()
    await asyncio.wait_for(entered.wait(), WAIT_S)
    await stops(service.stop())


async def test_workflow_service_stops_while_its_receipt_sweep_is_inside_a_transaction(
    parts: tuple[AsyncEngine, InProcessBus, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    entered = asyncio.Event()

    async def purge(_conn: Any) -> int:
        await _in_transaction(entered)
        return 0

    monkeypatch.setattr(workflow_service, "purge_pending_receipts", purge)
    engine, bus, settings = parts
    service = workflow_service.WorkflowService(settings, engine, bus, services=None)  # type: ignore[arg-type]
    service._sweeper = asyncio.create_task(service._sweep())
    await asyncio.wait_for(entered.wait(), WAIT_S)
    await stops(service.stop())
