"""The workflow service and the gateway running on one started bus, stopped in the order that loses nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.service import Gateway, start_gateway
from workflow.entrypoints.workflow_service import Stoppable, start_workflow_service
from workflow.messaging.bus import Bus
from workflow.settings import Settings


@asynccontextmanager
async def workflow_and_gateway(settings: Settings, engine: AsyncEngine, bus: Bus) -> AsyncIterator[Gateway]:
    """Start both on ``bus`` (already started); on the way out stop the gateway, the bus, then the workflow."""
    workflow: Stoppable | None = None
    gateway: Gateway | None = None
    try:
        workflow = await start_workflow_service(settings, engine, bus)
        gateway = await start_gateway(settings, bus)
        yield gateway
    finally:
        # The gateway first, so no new MO arrives; the bus before the workflow, so its in-flight handlers drain.
        if gateway is not None:
            await gateway.stop()
        await bus.stop()
        if workflow is not None:
            await workflow.stop()
