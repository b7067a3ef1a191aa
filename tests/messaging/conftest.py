"""Messaging fixtures: a private RabbitMQ vhost per test, an in-memory dead-letter store, bus factories.

A RabbitMQ test creates its own vhost (``rabbitmqctl add_vhost``), lets guest use it and deletes it after.
Under CI (``CI=true``) an unreachable broker fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from urllib.parse import quote

import pytest

from tests.integration.world import MUHTARS
from workflow.messaging.bus import Bus, DeadLetter, RetryPolicy
from workflow.messaging.envelope import Envelope, Field, PayloadSpec, register_schema
from workflow.messaging.inprocess import InProcessBus
from workflow.messaging.rabbitmq import RabbitMQBus

AMQP_HOST = os.environ.get("MUHTAR_TEST_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("MUHTAR_TEST_AMQP_PORT", "5672"))
TEST_TOPOLOGY: Mapping[str, tuple[str, ...]] = {
    "t.work": ("work.#",),
    "t.other": ("work.special", "misc.*"),
}
FAST_POLICY = RetryPolicy(delays_s=(0.05, 0.1), max_attempts=3)
WAIT_S = 30.0  # liveness bound for waits, never an assertion on speed


def unreachable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"RabbitMQ is required in CI and cannot be used: {reason}")
    pytest.skip(f"RabbitMQ not available: {reason}")


def rabbitmqctl(*args: str) -> str:
    try:
        done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        unreachable(f"rabbitmqctl {args[0]}: {exc}")
        raise
    if done.returncode != 0:
        unreachable(f"rabbitmqctl {args[0]} failed: {done.stderr.strip()[:300]}")
    return done.stdout


def amqp_url(vhost: str) -> str:
    return f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{quote(vhost, safe='')}"


@pytest.fixture
def rabbit_vhost() -> Iterator[str]:
    name = f"muhtar-t-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60, check=False)


@pytest.fixture
def rabbit_url(rabbit_vhost: str) -> str:
    return amqp_url(rabbit_vhost)


class MemoryDeadLetters:
    """A fake of the dead-letter store: the same ``park`` interface, kept in a list."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []
        self._changed = asyncio.Event()

    async def park(self, letter: DeadLetter) -> None:
        self.letters.append(letter)
        self._changed.set()

    async def wait_for(self, count: int) -> list[DeadLetter]:
        async def until() -> None:
            while len(self.letters) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), WAIT_S)
        return self.letters


BusFactory = Callable[..., Awaitable[Bus]]


@pytest.fixture(params=["inprocess", "rabbitmq"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_bus(bus_kind: str, request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Build started buses of the parametrized kind on the test topology; all are stopped at the end."""
    url = request.getfixturevalue("rabbit_url") if bus_kind == "rabbitmq" else ""
    buses: list[Bus] = []

    async def factory(
        dead_letters: MemoryDeadLetters | None = None, policy: RetryPolicy = FAST_POLICY, prefetch: int = 10
    ) -> Bus:
        store = dead_letters or MemoryDeadLetters()
        bus: Bus
        if bus_kind == "inprocess":
            bus = InProcessBus(store, policy, topology=TEST_TOPOLOGY, prefetch=prefetch)
        else:
            bus = RabbitMQBus(
                url,
                exchange="t",
                policy=policy,
                dead_letters=store,
                topology=TEST_TOPOLOGY,
                prefetch=prefetch,
                reconnect_s=0.5,
            )
        await bus.start()
        buses.append(bus)
        return bus

    yield factory
    for bus in buses:
        await bus.stop()


register_schema("test.ping", 1, PayloadSpec({"n": Field((int,))}))


def ping(n: int) -> Envelope:
    return Envelope.new("test.ping", {"n": n})


OWNER_PHONE = MUHTARS[0][2]  # the phone of the first muhtar of tests/integration/world.py


def mo(mo_id: str, text: str) -> Envelope:
    """An ``sms.inbound`` message from that muhtar's phone, as the gateway publishes it."""
    return Envelope.new(
        "sms.inbound",
        {
            "mo_id": mo_id,
            "from": OWNER_PHONE,
            "to": "4444",
            "text": text,
            "data_coding": 0,
            "received_at": "2026-11-25T09:00:00+00:00",
        },
    )


class Recorder:
    """A handler that records what it saw; ``fail_first`` raises on the first k calls per message."""

    def __init__(self, fail_first: int = 0, exc: type[Exception] = RuntimeError) -> None:
        self.calls: list[Envelope] = []
        self.fail_first = fail_first
        self.exc = exc
        self._changed = asyncio.Event()

    async def __call__(self, envelope: Envelope) -> None:
        self.calls.append(envelope)
        self._changed.set()
        if sum(1 for e in self.calls if e.message_id == envelope.message_id) <= self.fail_first:
            raise self.exc("handler failure for the test")

    async def wait_for(self, count: int) -> list[Envelope]:
        async def until() -> None:
            while len(self.calls) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), WAIT_S)
        return self.calls


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll an async condition until it holds; the bound is for liveness, not speed."""

    async def until() -> None:
        while not await condition():  # noqa: ASYNC110 - the condition is in the database, not an event
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(until(), WAIT_S)
    except TimeoutError:
        pytest.fail(f"gave up waiting: {what}")
