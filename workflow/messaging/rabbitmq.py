"""The RabbitMQ bus (aio-pika): the production implementation of ``workflow.messaging.bus.Bus``.

Topology, declared idempotently by ``start`` (``X`` is the configured exchange name):
- ``X`` topic exchange; one durable quorum queue per consumer (``QUEUES``), bound to its topics and to
  ``queue.<name>`` (its private key for retries and replays).
- ``X.delay.<ms>``: one fanout exchange + quorum queue per retry step, ``x-message-ttl`` = the step; expired
  messages dead-letter back to ``X`` with their routing key ``queue.<name>``, i.e. to the one queue that failed.
- ``X.dead``: fanout exchange + quorum queue where parked messages wait (with their reason in headers) until
  the dead-letter sink (the process given a ``DeadLetterStore``: the workflow service) writes them to the
  ``dead_letters`` table. The consumer queues also dead-letter there themselves when a message exceeds
  ``x-delivery-limit`` (a poison message that kills its consumer process again and again).
Quorum queues use ``x-dead-letter-strategy: at-least-once`` so dead-lettering itself loses nothing.

Publishing: persistent messages, publisher confirms, ``mandatory`` with ``on_return_raises=True``; any failure
(nack, unroutable, connection lost, timeout) raises ``PublishFailed`` to the caller, who retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from workflow.messaging.amqp_headers import (
    H_ATTEMPT,
    H_QUEUE,
    H_REASON,
    H_TOPIC,
    dead_letter_from,
    int_header,
    original_topic,
)
from workflow.messaging.bus import (
    QUEUES,
    Ack,
    BatchHandler,
    Bus,
    Dead,
    DeadLetterStore,
    Handler,
    Outcome,
    PublishFailed,
    Retry,
    RetryPolicy,
    direct_key,
    run_batch,
    run_handler,
)
from workflow.messaging.envelope import Envelope

logger = logging.getLogger(__name__)

SINK_RETRY_PAUSE_S = 1.0

# Publish failures the caller can retry: broker refusals, lost connections, timeouts.
PUBLISH_ERRORS: tuple[type[BaseException], ...] = (
    aio_pika.exceptions.AMQPError,
    ConnectionError,
    OSError,
    RuntimeError,
    asyncio.TimeoutError,
)


def quorum(**extra: Any) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        **extra,
    }


class RabbitMQBus(Bus):
    def __init__(
        self,
        url: str,
        *,
        exchange: str = "muhtar",
        policy: RetryPolicy | None = None,
        dead_letters: DeadLetterStore | None = None,
        topology: Mapping[str, tuple[str, ...]] = QUEUES,
        prefetch: int = 100,
        publish_timeout_s: float = 10.0,
        reconnect_s: float = 2.0,
        delivery_limit: int = 20,
    ) -> None:
        self._url = url
        self._name = exchange
        self._policy = policy or RetryPolicy()
        self._dead_letters = dead_letters
        self._topology = dict(topology)
        self._prefetch = prefetch
        self._timeout = publish_timeout_s
        self._reconnect_s = reconnect_s
        self._delivery_limit = delivery_limit
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._workers: set[asyncio.Task[None]] = set()  # batch workers
        self._busy: set[asyncio.Task[None]] = set()  # batch workers handling a batch now
        self._accepting = False

    # --- life cycle ---------------------------------------------------------------------------------

    @property
    def queues(self) -> frozenset[str]:
        return frozenset(self._topology)

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._url, reconnect_interval=self._reconnect_s)
        try:
            self._publish_channel = await self._connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            await self._declare(self._publish_channel)
            self._accepting = True
            if self._dead_letters is not None:
                await self._consume_queue(f"{self._name}.dead", self._sink, self._prefetch)
        except BaseException:
            self._accepting = False
            await self._connection.close()  # a caller retrying start() must not leak connections
            self._connection = None
            raise

    async def stop(self) -> None:
        self._accepting = False
        for queue, tag in self._consumers:
            try:
                async with asyncio.timeout(self._timeout):  # during an outage a robust channel would wait
                    await queue.cancel(tag)
            except (Exception, TimeoutError) as exc:  # a dead connection cancelled them already
                logger.info("cancel consumer on %s: %s", queue.name, exc.__class__.__name__)
        self._consumers.clear()
        for task in self._workers - self._busy:
            task.cancel()  # idle; prefetched messages it never took return to the queue at close
        if self._in_flight or self._workers:
            await asyncio.gather(*self._in_flight, *self._workers, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()
        self._connection = None

    async def _declare(self, channel: AbstractChannel) -> None:
        main = await channel.declare_exchange(self._name, aio_pika.ExchangeType.TOPIC, durable=True)
        dead = await channel.declare_exchange(
            f"{self._name}.dead", aio_pika.ExchangeType.FANOUT, durable=True
        )
        dead_queue = await channel.declare_queue(f"{self._name}.dead", durable=True, arguments=quorum())
        await dead_queue.bind(dead, routing_key="#")
        self._exchanges = {"main": main, "dead": dead}
        for delay_ms in sorted({self._delay_ms(d) for d in self._policy.delays_s}):
            name = f"{self._name}.delay.{delay_ms}"
            exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.FANOUT, durable=True)
            queue = await channel.declare_queue(
                name,
                durable=True,
                arguments=quorum(**{"x-message-ttl": delay_ms, "x-dead-letter-exchange": self._name}),
            )
            await queue.bind(exchange, routing_key="#")
            self._exchanges[name] = exchange
        for queue_name, patterns in self._topology.items():
            queue = await channel.declare_queue(
                queue_name,
                durable=True,
                arguments=quorum(
                    **{
                        "x-dead-letter-exchange": f"{self._name}.dead",
                        "x-delivery-limit": self._delivery_limit,
                    }
                ),
            )
            for pattern in (*patterns, direct_key(queue_name)):
                await queue.bind(main, routing_key=pattern)

    @staticmethod
    def _delay_ms(delay_s: float) -> int:
        return max(1, round(delay_s * 1000))

    # --- publishing ---------------------------------------------------------------------------------

    async def publish(self, topic: str, envelope: Envelope) -> None:
        if not self._accepting:
            raise PublishFailed("RabbitMQ bus is not running")
        await self._send("main", topic, envelope.encode(), {}, envelope.message_id)

    async def requeue(self, queue: str, body: bytes) -> None:
        if queue not in self._topology:
            raise PublishFailed(f"unknown queue {queue!r}")
        await self._send("main", direct_key(queue), body, {H_ATTEMPT: 1}, None)

    async def _send(
        self, exchange: str, routing_key: str, body: bytes, headers: dict[str, Any], message_id: str | None
    ) -> None:
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            headers=headers,
        )
        try:
            # A robust channel waits for reconnection without limit; the timeout turns that into a failure.
            async with asyncio.timeout(self._timeout):  # no extra task per publish, unlike wait_for
                await self._exchanges[exchange].publish(message, routing_key=routing_key, mandatory=True)
        except PUBLISH_ERRORS as exc:
            raise PublishFailed(
                f"publish to {routing_key!r} failed: {exc.__class__.__name__}: {exc}"
            ) from exc

    # --- consuming ----------------------------------------------------------------------------------

    async def consume(self, queue: str, handler: Handler, *, prefetch: int | None = None) -> None:
        if queue not in self._topology:
            raise ValueError(f"unknown queue {queue!r}")

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._deliver(queue, handler, message)

        await self._consume_queue(queue, on_message, prefetch or self._prefetch)

    async def consume_batches(
        self, queue: str, handler: BatchHandler, *, max_batch: int = 50, prefetch: int | None = None
    ) -> None:
        if queue not in self._topology:
            raise ValueError(f"unknown queue {queue!r}")
        prefetch = prefetch or self._prefetch
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        for _ in range(max(1, prefetch // max_batch)):
            task = asyncio.create_task(
                self._batch_worker(queue, handler, inbox, max_batch), name=f"batch-{queue}"
            )
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

        async def on_message(message: AbstractIncomingMessage) -> None:
            inbox.put_nowait(message)

        await self._consume_queue(queue, on_message, prefetch)

    async def _batch_worker(
        self, queue: str, handler: BatchHandler, inbox: asyncio.Queue[AbstractIncomingMessage], max_batch: int
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        while self._accepting:
            messages = [await inbox.get()]
            while len(messages) < max_batch and not inbox.empty():
                messages.append(inbox.get_nowait())
            self._busy.add(task)
            try:
                attempts = [int_header(m.headers, H_ATTEMPT, 1) for m in messages]
                items = [(m.body, a) for m, a in zip(messages, attempts, strict=True)]
                outcomes = await run_batch(queue, handler, items, self._policy)
                for message, attempt, outcome in zip(messages, attempts, outcomes, strict=True):
                    await self._settle_or_requeue(queue, message, attempt, outcome)
            finally:
                self._busy.discard(task)

    async def _consume_queue(self, name: str, callback: Any, prefetch: int) -> None:
        assert self._connection is not None, "start() the bus first"
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.get_queue(name, ensure=True)

        async def tracked(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._in_flight.add(task)
            try:
                await callback(message)
            finally:
                self._in_flight.discard(task)

        tag = await queue.consume(tracked)
        self._consumers.append((queue, tag))

    async def _deliver(self, queue: str, handler: Handler, message: AbstractIncomingMessage) -> None:
        attempt = int_header(message.headers, H_ATTEMPT, 1)
        outcome = await run_handler(queue, handler, message.body, attempt, self._policy)
        await self._settle_or_requeue(queue, message, attempt, outcome)

    async def _settle_or_requeue(
        self, queue: str, message: AbstractIncomingMessage, attempt: int, outcome: Outcome
    ) -> None:
        try:
            await self._settle(queue, message, attempt, outcome)
        except Exception as exc:
            # Not acked: the broker redelivers it (on this channel's death at the latest); handlers are idempotent.
            logger.warning("queue %s: settling a delivery failed (%s)", queue, exc.__class__.__name__)
            await _quietly(message.nack(requeue=True))

    async def _settle(
        self, queue: str, message: AbstractIncomingMessage, attempt: int, outcome: Outcome
    ) -> None:
        topic = message.routing_key or ""
        if isinstance(outcome, Retry):
            delay = f"{self._name}.delay.{self._delay_ms(outcome.delay_s)}"
            headers = {H_ATTEMPT: attempt + 1, H_TOPIC: original_topic(message)}
            await self._send(delay, direct_key(queue), message.body, headers, message.message_id)
        elif isinstance(outcome, Dead):
            headers = {
                H_ATTEMPT: attempt,
                H_QUEUE: queue,
                H_REASON: outcome.reason,
                H_TOPIC: original_topic(message),
            }
            await self._send("dead", queue, message.body, headers, message.message_id)
        else:
            assert isinstance(outcome, Ack), topic
        await message.ack()

    async def _sink(self, message: AbstractIncomingMessage) -> None:
        """Move one parked message from the broker's dead queue into the operator's dead-letter store."""
        assert self._dead_letters is not None
        letter = dead_letter_from(message.headers or {}, message.body)
        try:
            await self._dead_letters.park(letter)
        except Exception as exc:
            logger.error("dead-letter sink: cannot store (%s); will retry", exc.__class__.__name__)
            await asyncio.sleep(SINK_RETRY_PAUSE_S)
            await _quietly(message.nack(requeue=True))
            return
        await message.ack()


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as exc:
        logger.info("ignored on a closing channel: %s", exc.__class__.__name__)
