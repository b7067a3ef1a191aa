"""Building the bus from settings: every process (workflow, gateway, web, `muhtar run`) calls ``create_bus``."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from workflow.messaging.bus import Bus, RetryPolicy
from workflow.messaging.deadletters import SqlDeadLetterStore
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.rabbitmq import RabbitMQBus
from workflow.settings import BusSettings

logger = logging.getLogger(__name__)


def retry_policy(settings: BusSettings) -> RetryPolicy:
    return RetryPolicy(
        delays_s=tuple(float(d) for d in settings.retry_delays_s), max_attempts=settings.max_attempts
    )


def create_bus(settings: BusSettings, engine: AsyncEngine | None, *, dead_letter_sink: bool = True) -> Bus:
    """The configured bus. With RabbitMQ, ``dead_letter_sink`` makes this process move parked messages
    from the broker into the ``dead_letters`` table (needs ``engine``); one such process is enough."""
    policy = retry_policy(settings)
    if settings.kind == "inprocess":
        if engine is None:
            raise ValueError("the in-process bus parks dead letters in the database: pass the engine")
        return InProcessBus(SqlDeadLetterStore(engine), policy, prefetch=settings.prefetch)
    return RabbitMQBus(
        settings.amqp_url,
        exchange=settings.exchange,
        policy=policy,
        dead_letters=SqlDeadLetterStore(engine) if engine is not None and dead_letter_sink else None,
        prefetch=settings.prefetch,
        publish_timeout_s=settings.publish_timeout_s,
        reconnect_s=settings.reconnect_s,
        delivery_limit=settings.delivery_limit,
    )


async def start_with_retry(bus: Bus, reconnect_s: float, stopping: asyncio.Event) -> bool:
    """Start the bus, retrying while the broker is unreachable; False if ``stopping`` was set first."""
    while not stopping.is_set():
        try:
            await bus.start()
            return True
        except Exception as exc:  # aio-pika raises connection errors of many kinds at start-up
            logger.warning("bus start failed (%s); retrying in %.1fs", exc.__class__.__name__, reconnect_s)
            try:
                await asyncio.wait_for(stopping.wait(), reconnect_s)
            except TimeoutError:
                pass
    return False
