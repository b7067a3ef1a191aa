"""The message bus interface and the delivery rules both implementations share.

Semantics (identical for the in-process bus and RabbitMQ):
- ``publish(topic, envelope)`` returns once the bus has accepted the message (RabbitMQ: publisher confirm) or
  raises ``PublishFailed``; an unroutable topic raises too. Nothing is buffered: the caller retries.
- ``consume(queue, handler)`` delivers at least once. A message is acked only after ``handler`` returns,
  i.e. after the handler's own database commit. Handlers must be idempotent (see ``idempotency.py``).
- A handler that raises gets the message again after a back-off (``RetryPolicy.delays_s``); after
  ``max_attempts`` the message is parked as a dead letter with the reason. ``Reject`` parks at once.
- A body that is not a valid envelope is parked at once with the reason; the consumer keeps running.

All of that decision-making lives here (``run_handler``); the implementations only move bytes.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from workflow.messaging.envelope import Envelope, MalformedMessage, decode, peek_ids

logger = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]
# Handles several messages in one transaction (throughput); see ``run_batch`` for the failure rule.
BatchHandler = Callable[[Sequence[Envelope]], Awaitable[None]]

# Queue -> the topic patterns bound to it (AMQP topic syntax: `*` one word, `#` zero or more).
QUEUES: Mapping[str, tuple[str, ...]] = {
    "sms.outbound": ("sms.outbound",),  # consumed by gateway_sms
    "sms.inbound": ("sms.inbound",),  # consumed by the workflow service
    "sms.status": ("sms.status",),  # consumed by the workflow service
    "events": ("events.#",),  # domain events, consumed by the workflow service
    "mail.outbound": ("mail.outbound",),  # e-mails, consumed by the workflow service (workflow/mail/)
}

# How long a batch consumer waits, after the first message of a batch, for more to join it (queue -> s).
# sms.status: the gateway sends a message per event-loop turn, each with a few results; one transaction for
# many of them costs the workflow service and the database far less per SMS, and a state recorded a few
# milliseconds later changes nothing. Other queues (MO replies) take what is there at once.
BATCH_LINGER_S: Mapping[str, float] = {"sms.status": 0.005}

# Every queue is also bound to ``queue.<name>``: retries and replays go to that one queue only,
# never to the other queues bound to the original topic.
DIRECT_PREFIX = "queue."
MAX_REASON_LENGTH = 2000


def direct_key(queue: str) -> str:
    return DIRECT_PREFIX + queue


class PublishFailed(Exception):
    """The bus did not accept the message (broker down, nack, unroutable). Nothing was buffered."""


class Reject(Exception):
    """Raised by a handler for a message that can never succeed: park it now, without retries."""


@dataclass(frozen=True)
class RetryPolicy:
    delays_s: tuple[float, ...] = (1.0, 10.0, 60.0)
    max_attempts: int = 4

    def delay_after(self, attempt: int) -> float | None:
        """Back-off before attempt ``attempt + 1``; None when ``attempt`` was the last one."""
        if attempt >= self.max_attempts or not self.delays_s:
            return None
        return self.delays_s[min(attempt, len(self.delays_s)) - 1]


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    body: bytes
    reason: str
    attempts: int
    topic: str | None = None
    # True: not a failure, just not delivered yet (in-process bus stopping); replay at the next start.
    replay: bool = False


class DeadLetterStore(Protocol):
    """Where parked messages go: a place an operator can list from another process (see deadletters.py)."""

    async def park(self, letter: DeadLetter) -> None: ...


@dataclass(frozen=True)
class Ack:
    pass


@dataclass(frozen=True)
class Retry:
    delay_s: float
    reason: str


@dataclass(frozen=True)
class Dead:
    reason: str


Outcome = Ack | Retry | Dead


async def run_handler(
    queue: str, handler: Handler, body: bytes, attempt: int, policy: RetryPolicy
) -> Outcome:
    """Decode, call the handler, and decide what happens to the message. Never raises."""
    envelope = _decode(queue, body)
    if isinstance(envelope, Dead):
        return envelope
    return await _call(queue, handler, envelope, attempt, policy)


async def run_batch(
    queue: str, handler: BatchHandler, items: Sequence[tuple[bytes, int]], policy: RetryPolicy
) -> list[Outcome]:
    """Like ``run_handler`` for several (body, attempt) pairs: one call of ``handler`` (one transaction) for
    all valid messages; if that fails, each message on its own, so one poison message cannot hold back the
    rest and gets its own retries. Never raises; returns one outcome per item, in order."""
    outcomes: list[Outcome] = [Ack()] * len(items)
    valid: list[tuple[int, Envelope]] = []
    for index, (body, _attempt) in enumerate(items):
        decoded = _decode(queue, body)
        if isinstance(decoded, Dead):
            outcomes[index] = decoded
        else:
            valid.append((index, decoded))
    if len(valid) > 1:
        try:
            await handler([envelope for _, envelope in valid])
            return outcomes
        except Exception as exc:
            logger.info(
                "queue %s: batch of %d failed (%s); one by one", queue, len(valid), exc.__class__.__name__
            )

    async def single(envelope: Envelope) -> None:
        await handler([envelope])

    for index, envelope in valid:
        outcomes[index] = await _call(queue, single, envelope, items[index][1], policy)
    return outcomes


def _decode(queue: str, body: bytes) -> Envelope | Dead:
    try:
        return decode(body)
    except MalformedMessage as exc:
        message_id, _ = peek_ids(body)
        logger.warning("queue %s: malformed message %s dead-lettered: %s", queue, message_id, exc)
        return Dead(f"malformed: {exc}")


async def _call(
    queue: str, handler: Handler, envelope: Envelope, attempt: int, policy: RetryPolicy
) -> Outcome:
    try:
        await handler(envelope)
    except Reject as exc:
        logger.warning("queue %s: message %s rejected by handler", queue, envelope.message_id)
        return Dead(_truncate(f"rejected: {exc}"))
    except Exception as exc:
        # Exception text may quote personal data (SQL parameters); it goes to the dead-letter row,
        # the log line only names the exception class.
        reason = _truncate(f"attempt {attempt}: {exc.__class__.__name__}: {exc}")
        delay = policy.delay_after(attempt)
        if delay is None:
            logger.error(
                "queue %s: message %s failed %d times (%s); dead-lettered",
                queue,
                envelope.message_id,
                attempt,
                exc.__class__.__name__,
            )
            return Dead(reason)
        logger.warning(
            "queue %s: message %s failed attempt %d (%s); retry in %.1fs",
            queue,
            envelope.message_id,
            attempt,
            exc.__class__.__name__,
            delay,
        )
        return Retry(delay, reason)
    return Ack()


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_REASON_LENGTH else text[: MAX_REASON_LENGTH - 1] + "…"


def topic_matches(pattern: str, topic: str) -> bool:
    """AMQP topic-exchange matching, so the in-process bus routes exactly like RabbitMQ."""
    return _match(pattern.split("."), topic.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match(rest, words[1:])


def route(topology: Mapping[str, tuple[str, ...]], topic: str) -> list[str]:
    """The queues a topic reaches (including the private ``queue.<name>`` binding)."""
    return [
        queue
        for queue, patterns in topology.items()
        if topic == direct_key(queue) or any(topic_matches(p, topic) for p in patterns)
    ]


class Bus(abc.ABC):
    """What producers and consumers depend on; built by ``workflow.messaging.factory.create_bus``."""

    @property
    @abc.abstractmethod
    def queues(self) -> frozenset[str]:
        """The consumer queues this bus knows (the keys of its topology)."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and declare the topology (idempotent)."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop taking new deliveries, let in-flight handlers finish and ack, then disconnect."""

    @abc.abstractmethod
    async def publish(self, topic: str, envelope: Envelope) -> None:
        """Hand one message to the bus, confirmed; raise ``PublishFailed`` otherwise."""

    @abc.abstractmethod
    async def requeue(self, queue: str, body: bytes) -> None:
        """Put a raw body back on one queue as a first attempt (dead-letter replay)."""

    @abc.abstractmethod
    async def consume(self, queue: str, handler: Handler, *, prefetch: int | None = None) -> None:
        """Start delivering ``queue`` to ``handler``, at most ``prefetch`` messages in flight."""

    @abc.abstractmethod
    async def consume_batches(
        self, queue: str, handler: BatchHandler, *, max_batch: int = 50, prefetch: int | None = None
    ) -> None:
        """Like ``consume``, but hands over whatever has arrived (up to ``max_batch``) in one call."""
