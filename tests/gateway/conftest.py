"""Fixtures for the gateway: a simulator on a free port and a connector bound to it, both torn down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from gateway_sms.connector import Connector, ConnectorConfig
from gateway_sms.link import LinkConfig
from gateway_sms.pdus.mo import Receipt, Undecodable
from gateway_sms.pdus.reassembly import MoMessage
from gateway_sms.simulator import Simulator


class RecordingHandler:
    """A fake publisher of the same interface: records, and fails on demand."""

    def __init__(self) -> None:
        self.mos: list[MoMessage] = []
        self.receipts: list[Receipt] = []
        self.undecodables: list[Undecodable] = []
        self.fail_next = 0

    def _maybe_fail(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("broker unavailable")

    async def mo(self, message: MoMessage) -> None:
        self._maybe_fail()
        self.mos.append(message)

    async def receipt(self, receipt: Receipt) -> None:
        self._maybe_fail()
        self.receipts.append(receipt)

    async def undecodable(self, item: Undecodable) -> None:
        self.undecodables.append(item)


def fast_config(port: int, **overrides: Any) -> ConnectorConfig:
    link_fields = {k: overrides.pop(k) for k in list(overrides) if k in LinkConfig.__dataclass_fields__}
    link = LinkConfig(
        host="127.0.0.1",
        port=port,
        system_id="muhtar",
        password="secret",
        response_timeout_s=3.0,
        enquire_link_s=5.0,
        reconnect_min_s=0.05,
        reconnect_max_s=0.3,
    )
    return ConnectorConfig(
        link=replace(link, **link_fields),
        encoding="turkish_shift",
        throttle_pause_s=0.05,
        retry_delay_s=0.02,
        **overrides,
    )


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    s = Simulator({"muhtar": "secret"}, dlr_delay_s=0.0)
    await s.start()
    yield s
    await s.stop()


ConnectorFactory = Callable[..., Awaitable[tuple[Connector, RecordingHandler]]]


@pytest.fixture
async def make_connector(sim: Simulator) -> AsyncIterator[ConnectorFactory]:
    made: list[Connector] = []

    async def make(**overrides: Any) -> tuple[Connector, RecordingHandler]:
        handler = RecordingHandler()
        connector = Connector(fast_config(sim.port, **overrides), handler)
        made.append(connector)
        await connector.start()
        await connector.wait_bound(10)
        return connector, handler

    yield make
    for connector in made:
        await connector.stop()


# The messaging area's RabbitMQ fixtures (a private vhost per test), shared rather than copied.
from tests.messaging.conftest import MemoryDeadLetters, rabbit_url, rabbit_vhost  # noqa: E402,F401
