"""The in-process bus: asyncio queues with RabbitMQ's routing, retry and dead-letter behaviour.

It is the embedded default for one machine (`make run`), not a broker; production uses RabbitMQ.
Messages travel as encoded bytes so that consumers see exactly what they would see from RabbitMQ.

Durability: messages live in memory between publish and ack. On a clean stop, whatever is still queued or
waiting for a retry is written to the dead-letter store marked for replay, so the next start delivers it.
A crash (kill -9) loses those in-memory messages; the outbox rows that produced them are already marked
sent. That is the documented limit of the embedded mode.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import FrameType

from workflow.messaging.bus import (
    QUEUES,
    Ack,
    BatchHandler,
    Bus,
    Dead,
    DeadLetter,
    DeadLetterStore,
    Handler,
    Outcome,
    PublishFailed,
    Retry,
    RetryPolicy,
    route,
    run_batch,
    run_handler,
)
from workflow.messaging.envelope import Envelope

logger = logging.getLogger(__name__)

PARK_RETRY_DELAY_S = 1.0
# How long stop() lets in-flight handlers finish before cancelling them; their messages are kept for replay.
DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class _Delivery:
    body: bytes
    topic: str | None
    attempt: int


_Process = Callable[[list[_Delivery]], Awaitable[list[Outcome]]]


class InProcessBus(Bus):
    def __init__(
        self,
        dead_letters: DeadLetterStore,
        policy: RetryPolicy | None = None,
        *,
        topology: Mapping[str, tuple[str, ...]] = QUEUES,
        prefetch: int = 10,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
    ) -> None:
        self._dead_letters = dead_letters
        self._policy = policy or RetryPolicy()
        self._topology = dict(topology)
        self._prefetch = prefetch
        self._drain_timeout_s = drain_timeout_s
        self._queues: dict[str, asyncio.Queue[_Delivery]] = {q: asyncio.Queue() for q in self._topology}
        self._workers: set[asyncio.Task[None]] = set()
        self._busy: dict[asyncio.Task[None], tuple[str, list[_Delivery]]] = {}
        self._timers: dict[asyncio.TimerHandle, tuple[str, _Delivery]] = {}
        self._running = False

    @property
    def queues(self) -> frozenset[str]:
        return frozenset(self._topology)

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False
        for task in self._workers - self._busy.keys():
            task.cancel()  # idle: waiting on an empty queue, nothing in flight
        stuck: list[tuple[str, _Delivery]] = []
        if self._workers:
            _, pending = await asyncio.wait(set(self._workers), timeout=self._drain_timeout_s)
            for task in pending:
                # A handler that does not finish must not hold shutdown forever: cancel it and keep its
                # messages for replay (at-least-once; the consumers' idempotency absorbs a repeat).
                queue, items = self._busy.get(task, ("", []))
                stuck.extend((queue, item) for item in items)
                logger.warning(
                    "in-process bus: handler on %s still busy after %.0f s, cancelling it; it waits at %s",
                    queue or "?",
                    self._drain_timeout_s,
                    _where(task),
                )
                task.cancel()
            if pending:
                logger.warning("in-process bus: %d handlers still busy at stop were cancelled", len(pending))
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        await self._spill(stuck)

    async def publish(self, topic: str, envelope: Envelope) -> None:
        if not self._running:
            raise PublishFailed("in-process bus is not running")
        queues = route(self._topology, topic)
        if not queues:
            raise PublishFailed(f"unroutable topic {topic!r}")
        body = envelope.encode()
        for queue in queues:
            self._queues[queue].put_nowait(_Delivery(body, topic, 1))

    async def requeue(self, queue: str, body: bytes) -> None:
        if not self._running:
            raise PublishFailed("in-process bus is not running")
        if queue not in self._queues:
            raise PublishFailed(f"unknown queue {queue!r}")
        self._queues[queue].put_nowait(_Delivery(body, None, 1))

    async def consume(self, queue: str, handler: Handler, *, prefetch: int | None = None) -> None:
        async def process(items: list[_Delivery]) -> list[Outcome]:
            [item] = items
            return [await run_handler(queue, handler, item.body, item.attempt, self._policy)]

        self._add_workers(queue, process, 1, prefetch or self._prefetch)

    async def consume_batches(
        self, queue: str, handler: BatchHandler, *, max_batch: int = 50, prefetch: int | None = None
    ) -> None:
        async def process(items: list[_Delivery]) -> list[Outcome]:
            return await run_batch(queue, handler, [(i.body, i.attempt) for i in items], self._policy)

        self._add_workers(queue, process, max_batch, max(1, (prefetch or self._prefetch) // max_batch))

    def _add_workers(self, queue: str, process: _Process, max_batch: int, count: int) -> None:
        if queue not in self._queues:
            raise ValueError(f"unknown queue {queue!r}")
        for _ in range(count):
            task = asyncio.create_task(self._worker(queue, process, max_batch), name=f"bus-worker-{queue}")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    def pending(self, queue: str) -> int:
        """Messages waiting in ``queue`` (not counting those in a retry delay); for tests and benches."""
        return self._queues[queue].qsize()

    async def _worker(self, queue: str, process: _Process, max_batch: int) -> None:
        source = self._queues[queue]
        task = asyncio.current_task()
        assert task is not None
        while self._running:
            items = [await source.get()]
            while len(items) < max_batch and not source.empty():
                items.append(source.get_nowait())
            self._busy[task] = (queue, items)
            try:
                outcomes = await process(items)
                for item, outcome in zip(items, outcomes, strict=True):
                    await self._settle(queue, item, outcome)
            finally:
                self._busy.pop(task, None)
                for _ in items:
                    source.task_done()

    async def _settle(self, queue: str, delivery: _Delivery, outcome: Outcome) -> None:
        if isinstance(outcome, Ack):
            return
        if isinstance(outcome, Retry):
            self._later(
                outcome.delay_s, queue, _Delivery(delivery.body, delivery.topic, delivery.attempt + 1)
            )
            return
        assert isinstance(outcome, Dead)
        letter = DeadLetter(queue, delivery.body, outcome.reason, delivery.attempt, delivery.topic)
        try:
            await self._dead_letters.park(letter)
        except Exception as exc:
            # Not parked means not handled: keep it in memory and try the whole delivery again.
            logger.error("queue %s: cannot park dead letter (%s); retrying", queue, exc.__class__.__name__)
            self._later(PARK_RETRY_DELAY_S, queue, delivery)

    def _later(self, delay_s: float, queue: str, delivery: _Delivery) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.pop(handle, None)
            self._queues[queue].put_nowait(delivery)

        handle = loop.call_later(delay_s, fire)
        self._timers[handle] = (queue, delivery)

    async def _spill(self, stuck: list[tuple[str, _Delivery]]) -> None:
        """Write undelivered messages to the dead-letter store, marked for replay at the next start."""
        leftovers: list[tuple[str, _Delivery]] = [item for item in stuck if item[0]]
        for handle, item in list(self._timers.items()):
            handle.cancel()
            leftovers.append(item)
        self._timers.clear()
        for queue, source in self._queues.items():
            while not source.empty():
                leftovers.append((queue, source.get_nowait()))
        for queue, delivery in leftovers:
            letter = DeadLetter(
                queue,
                delivery.body,
                "in-process bus stopped before delivery",
                delivery.attempt - 1,
                delivery.topic,
                replay=True,
            )
            try:
                await self._dead_letters.park(letter)
            except Exception as exc:
                logger.error("queue %s: message lost at shutdown (%s)", queue, exc.__class__.__name__)
        if leftovers:
            logger.info("in-process bus stopped; %d undelivered messages kept for replay", len(leftovers))


def _where(task: asyncio.Task[None]) -> str:
    """The innermost frames a task is suspended in (file:line function), for the shutdown warning."""
    frames = [f"{f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}" for f in _awaited_frames(task)]
    return " <- ".join(reversed(frames[-4:])) or "unknown"


def _awaited_frames(task: asyncio.Task[None]) -> list[FrameType]:
    frames: list[FrameType] = []
    awaitable: object = task.get_coro()
    while awaitable is not None and len(frames) < 64:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return frames
