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
import contextlib
import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
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
    BATCH_LINGER_S,
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

# Queues consumed through aiormq directly (``_consume_lean``) instead of aio-pika's per-message objects: the
# gateway's sms.outbound, where aio-pika's IncomingMessage and its extra task per delivery cost a tenth of
# the gateway's CPU per SMS. Same delivery rules (``run_handler``, ``_settle``, coalesced acks).
LEAN_QUEUES = frozenset({"sms.outbound"})

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
        lean_queues: frozenset[str] = LEAN_QUEUES,
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
        self._lean: list[_LeanConsumer] = []
        self._lean_queues = lean_queues
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._workers: set[asyncio.Task[None]] = set()  # batch workers
        self._busy: set[asyncio.Task[None]] = set()  # batch workers handling a batch now
        self._accepting = False
        self._acks: dict[int, _Acks] = {}  # per consumer channel (by id; a reconnect brings a new one)

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
        for lean in self._lean:
            await lean.cancel(self._timeout)
        self._lean.clear()
        for task in self._workers - self._busy:
            task.cancel()  # idle; prefetched messages it never took return to the queue at close
        if self._in_flight or self._workers:
            await asyncio.gather(*self._in_flight, *self._workers, return_exceptions=True)
        for acks in list(self._acks.values()):  # handled messages are acked before the connection closes
            await acks.flush_now()
        self._acks.clear()
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
        properties = aiormq.spec.Basic.Properties(
            content_type="application/json",
            delivery_mode=2,  # persistent
            message_id=message_id,
            headers=headers,
        )
        target = self._exchanges[exchange]
        try:
            # A robust channel waits for reconnection without limit; the timeout turns that into a failure.
            async with asyncio.timeout(self._timeout):  # no extra task per publish, unlike wait_for
                assert self._publish_channel is not None  # every exchange was declared on it
                channel = await self._publish_channel.get_underlay_channel()
                # wait=False: queue the frames and wait only for the confirm. With aio-pika's default each
                # publish holds the channel lock until its bytes are written, so concurrent publishers go
                # one per event-loop turn; this way many are in flight and their confirms arrive together.
                # A nack or a return (mandatory, unroutable) still raises: the channel has on_return_raises.
                await channel.basic_publish(  # type: ignore[call-arg]  # aiormq's abc lacks `wait`
                    body,
                    exchange=target.name,
                    routing_key=routing_key,
                    properties=properties,
                    mandatory=True,
                    wait=False,
                )
        except PUBLISH_ERRORS as exc:
            raise PublishFailed(
                f"publish to {routing_key!r} failed: {exc.__class__.__name__}: {exc}"
            ) from exc

    # --- consuming ----------------------------------------------------------------------------------

    async def consume(self, queue: str, handler: Handler, *, prefetch: int | None = None) -> None:
        if queue not in self._topology:
            raise ValueError(f"unknown queue {queue!r}")

        if queue in self._lean_queues:
            await self._consume_lean(queue, handler, prefetch or self._prefetch)
            return

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._deliver(queue, handler, message)

        await self._consume_queue(queue, on_message, prefetch or self._prefetch)

    async def _consume_lean(self, queue: str, handler: Handler, prefetch: int) -> None:
        """``consume`` on aiormq's channel: the handler runs in the task aiormq starts per delivery.

        The robust channel reopens after a reconnect; ``reopen_callbacks`` then sets the prefetch and
        consumes again on the new underlying channel (aio-pika restores only consumers it made itself).
        """
        assert self._connection is not None, "start() the bus first"
        channel = await self._connection.channel()
        assert isinstance(channel, AbstractRobustChannel)

        async def on_delivery(delivered: aiormq.abc.DeliveredMessage) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._in_flight.add(task)
            try:
                await self._deliver(queue, handler, _Delivery(delivered))
            finally:
                self._in_flight.discard(task)

        lean = _LeanConsumer(channel, queue, prefetch, on_delivery)
        await lean.subscribe()
        channel.reopen_callbacks.add(lean.resubscribe)
        self._lean.append(lean)

    async def consume_batches(
        self, queue: str, handler: BatchHandler, *, max_batch: int = 50, prefetch: int | None = None
    ) -> None:
        if queue not in self._topology:
            raise ValueError(f"unknown queue {queue!r}")
        prefetch = prefetch or self._prefetch
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        gathering = asyncio.Lock()  # one worker at a time fills its batch (see BATCH_LINGER_S)
        for _ in range(max(1, prefetch // max_batch)):
            task = asyncio.create_task(
                self._batch_worker(queue, handler, inbox, max_batch, gathering), name=f"batch-{queue}"
            )
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

        async def on_message(message: AbstractIncomingMessage) -> None:
            inbox.put_nowait(message)

        await self._consume_queue(queue, on_message, prefetch)

    async def _batch_worker(
        self,
        queue: str,
        handler: BatchHandler,
        inbox: asyncio.Queue[AbstractIncomingMessage],
        max_batch: int,
        gathering: asyncio.Lock,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        linger = BATCH_LINGER_S.get(queue, 0.0)
        while self._accepting:
            if linger:
                # While one worker waits for its batch to fill, the others must not take the messages
                # one by one; they take the next batch once this one is gathered.
                async with gathering:
                    messages = [await inbox.get()]
                    self._busy.add(task)  # from here on, stop() waits for this batch
                    if inbox.qsize() < max_batch - 1:
                        await asyncio.sleep(linger)
                    while len(messages) < max_batch and not inbox.empty():
                        messages.append(inbox.get_nowait())
            else:
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

    async def _deliver(self, queue: str, handler: Handler, message: _Message) -> None:
        attempt = int_header(message.headers, H_ATTEMPT, 1)
        outcome = await run_handler(queue, handler, message.body, attempt, self._policy)
        await self._settle_or_requeue(queue, message, attempt, outcome)

    async def _settle_or_requeue(self, queue: str, message: _Message, attempt: int, outcome: Outcome) -> None:
        try:
            await self._settle(queue, message, attempt, outcome)
        except Exception as exc:
            # Not acked: the broker redelivers it (on this channel's death at the latest); handlers are idempotent.
            logger.warning("queue %s: settling a delivery failed (%s)", queue, exc.__class__.__name__)
            await _quietly(message.nack(requeue=True))
            with contextlib.suppress(Exception):  # the channel is gone: nothing left to account for
                self._acks_for(message).skip(_tag(message))

    async def _settle(self, queue: str, message: _Message, attempt: int, outcome: Outcome) -> None:
        topic = message.routing_key or ""
        if isinstance(outcome, Retry):
            delay = f"{self._name}.delay.{self._delay_ms(outcome.delay_s)}"
            headers = {H_ATTEMPT: attempt + 1, H_TOPIC: original_topic(message.headers, message.routing_key)}
            await self._send(delay, direct_key(queue), message.body, headers, message.message_id)
        elif isinstance(outcome, Dead):
            headers = {
                H_ATTEMPT: attempt,
                H_QUEUE: queue,
                H_REASON: outcome.reason,
                H_TOPIC: original_topic(message.headers, message.routing_key),
            }
            await self._send("dead", queue, message.body, headers, message.message_id)
        else:
            assert isinstance(outcome, Ack), topic
        self._acks_for(message).ack(_tag(message))

    def _acks_for(self, message: _Message) -> _Acks:
        channel = message.channel  # raises when the channel has closed: the broker redelivers
        acks = self._acks.get(id(channel))
        if acks is None or acks.channel is not channel:
            self._acks = {k: a for k, a in self._acks.items() if not a.channel.is_closed}
            acks = self._acks[id(channel)] = _Acks(channel)
        return acks

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


def _tag(message: _Message) -> int:
    assert message.delivery_tag is not None, "consumers here never use no_ack"
    return int(message.delivery_tag)


class _Message(Protocol):
    """What settling needs of a delivery: aio-pika's ``IncomingMessage`` or a lean ``_Delivery``."""

    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> Any: ...
    @property
    def routing_key(self) -> str | None: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def delivery_tag(self) -> int | None: ...
    @property
    def channel(self) -> aiormq.abc.AbstractChannel: ...
    def nack(self, multiple: bool = False, requeue: bool = True) -> Awaitable[None]: ...


class _Delivery:
    """An aiormq delivery seen through ``_Message``; no copy of the body or the properties."""

    __slots__ = ("_m",)

    def __init__(self, delivered: aiormq.abc.DeliveredMessage) -> None:
        self._m = delivered

    @property
    def body(self) -> bytes:
        return self._m.body

    @property
    def headers(self) -> Any:
        return self._m.header.properties.headers

    @property
    def routing_key(self) -> str | None:
        return self._m.routing_key

    @property
    def message_id(self) -> str | None:
        return self._m.header.properties.message_id

    @property
    def delivery_tag(self) -> int | None:
        return self._m.delivery_tag

    @property
    def channel(self) -> aiormq.abc.AbstractChannel:
        channel = self._m.channel
        if channel.is_closed:  # like aio-pika: settling on a closed channel fails, the broker redelivers
            raise aiormq.exceptions.ChannelInvalidStateError("channel closed")
        return channel

    def nack(self, multiple: bool = False, requeue: bool = True) -> Awaitable[None]:
        tag = self.delivery_tag
        assert tag is not None
        return self._m.channel.basic_nack(tag, multiple=multiple, requeue=requeue)


class _LeanConsumer:
    """One ``_consume_lean`` subscription: (re)subscribes on the robust channel's current aiormq channel."""

    def __init__(self, channel: AbstractRobustChannel, queue: str, prefetch: int, callback: Any) -> None:
        self.channel = channel
        self.queue = queue
        self.prefetch = prefetch
        self.callback = callback
        self.tag: str | None = None

    async def subscribe(self) -> None:
        underlay = await self.channel.get_underlay_channel()
        await underlay.basic_qos(prefetch_count=self.prefetch)
        ok = await underlay.basic_consume(self.queue, self.callback)
        self.tag = ok.consumer_tag

    async def resubscribe(self, *_: Any) -> None:
        await self.subscribe()

    async def cancel(self, timeout_s: float) -> None:
        self.channel.reopen_callbacks.discard(self.resubscribe)
        try:
            async with asyncio.timeout(timeout_s):  # during an outage a robust channel would wait
                underlay = await self.channel.get_underlay_channel()
                if self.tag is not None:
                    await underlay.basic_cancel(self.tag)
        except (Exception, TimeoutError) as exc:  # a dead connection cancelled it already
            logger.info("cancel consumer on %s: %s", self.queue, exc.__class__.__name__)


class _Acks:
    """Acks of one consumer channel, coalesced: one ``basic.ack`` (``multiple``) per event-loop turn for the
    run of consecutive delivery tags that are all settled, single acks only for those settled out of order.

    A message is acked only once its own handler is done (it is put here after that): ``multiple`` covers
    exactly the tags from the last acked one up to the highest of an unbroken run of settled tags, never a
    tag still being handled, and it names a tag not acked yet (re-acking one closes the channel). Delivery tags are consecutive per channel (one consumer channel per queue);
    a tag given back with ``nack`` is ``skip``ped. If the channel closes first, the broker redelivers the
    unacked messages: duplicates, never losses, and no more than were being handled at that moment.
    """

    def __init__(self, channel: aiormq.abc.AbstractChannel) -> None:
        self.channel = channel
        self._through = 0  # every tag <= this one is settled
        self._ready: set[int] = set()  # settled, to be acked
        self._out_of_order: set[int] = set()  # settled above a gap (acked singly or nacked)
        self._scheduled = False
        self._writing: asyncio.Task[None] | None = None

    def ack(self, tag: int) -> None:
        self._ready.add(tag)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def skip(self, tag: int) -> None:
        self._out_of_order.add(tag)

    def _plan(self) -> list[tuple[int, bool]]:
        self._scheduled = False
        if not self._ready:
            return []
        frames: list[tuple[int, bool]] = []
        target = 0  # the highest tag of the run still to ack: ``multiple`` must name an unacked tag
        while True:
            following = self._through + 1
            if following in self._ready:
                self._ready.discard(following)
                target = following
            elif following in self._out_of_order:
                self._out_of_order.discard(following)  # acked singly earlier, or nacked
            else:
                break
            self._through = following
        if target:
            frames.append((target, True))
        for tag in sorted(self._ready):  # above a gap: ack singly, remember for the watermark
            frames.append((tag, False))
            self._out_of_order.add(tag)
        self._ready.clear()
        return frames

    def _flush(self) -> None:
        frames = self._plan()
        if frames:
            previous = self._writing
            self._writing = asyncio.ensure_future(self._write(frames, previous))

    async def _write(self, frames: list[tuple[int, bool]], previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)  # keep ack frames in order
        last = len(frames) - 1
        for index, (tag, multiple) in enumerate(frames):
            try:
                # The last one waits until the writer has sent it (and so everything queued before it):
                # ``flush_now`` before closing the connection must not leave acks in the write queue.
                await self.channel.basic_ack(tag, multiple=multiple, wait=index == last)
            except Exception as exc:  # a closed channel: the broker redelivers, the handlers are idempotent
                logger.info("ack on a closing channel: %s", exc.__class__.__name__)
                return

    async def flush_now(self) -> None:
        self._flush()
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as exc:
        logger.info("ignored on a closing channel: %s", exc.__class__.__name__)
