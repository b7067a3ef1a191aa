"""The gateway process: ``sms.outbound`` → SMSC, and SMSC → ``sms.inbound`` / ``sms.status``.

An outbound message is acked (the handler returns) only after every part's submit_sm_resp is OK or a
permanent failure has been published as ``sms.status``. Temporary trouble raises, so the bus redelivers
later; parts the SMSC already accepted are remembered for a while and not sent again on such a retry.
Results leave in batches (``StatusBatcher``: one ``sms.status`` message per event-loop turn), and so do MOs
(``MoBatcher``: one ``sms.inbound`` message for the MOs read meanwhile).

Crash: at most W (the window) outbound messages are unacked at any moment — the consumer's prefetch — so
the broker redelivers at most W SMS the SMSC may already have taken: duplicates are bounded by W.

Stopping (SIGTERM): stop taking outbound messages (a delivery that arrives now goes back to the bus), wait
for the window to drain (bounded by ``smpp.drain_timeout_s``), unbind, stop the I/O thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from gateway_sms.addresses import to_e164
from gateway_sms.connector import Connector, ConnectorConfig, PartResult
from gateway_sms.link import LinkConfig
from gateway_sms.pdus.mo import Receipt, Undecodable, normalise_id
from gateway_sms.pdus.reassembly import MoMessage
from gateway_sms.simulator import Simulator
from workflow.messaging.bus import Bus, DeadLetter, DeadLetterStore, Reject
from workflow.messaging.envelope import Envelope
from workflow.settings import Settings

logger = logging.getLogger(__name__)

RECEIPT_RADIX = {"same": None, "decimal": 10, "hex": 16}
DONE_PARTS_KEPT = 10_000  # sms ids whose accepted parts we remember across a bus retry
MO_BATCH_MAX = 100  # MOs per sms.inbound message at most (the workflow takes up to 50 messages at once)


class GatewayStopping(Exception):
    """A delivery arrived while stopping: the bus gets it back and redelivers it later."""


def connector_config(settings: Settings) -> ConnectorConfig:
    s = settings.smpp
    return ConnectorConfig(
        link=LinkConfig(
            host=s.host,
            port=s.port,
            system_id=s.system_id,
            password=s.password,
            system_type=s.system_type,
            address_range=s.address_range,
            bind_mode=s.bind_mode,
            response_timeout_s=float(s.response_timeout_s),
            enquire_link_s=float(s.enquire_link_s),
            reconnect_min_s=s.reconnect_min_s,
            reconnect_max_s=s.reconnect_max_s,
        ),
        source_addr=settings.sms.source_addr,
        encoding=settings.sms.encoding,
        concat=s.concat,
        window=s.window,
        tps=s.tps,
        throttle_pause_s=s.throttle_pause_s,
        max_temporary_attempts=s.max_temporary_attempts,
        registered_delivery=s.registered_delivery,
        receipt_id_radix=RECEIPT_RADIX[s.receipt_ids],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


class StatusBatcher:
    """``sms.status`` items out in batches: everything added during one event-loop turn (a burst of
    submit_sm_resp read together, receipts) leaves as one message (schema version 2), and each ``add``
    returns once that message is confirmed by the bus — or raises ``PublishFailed`` with every other
    caller of the batch. One message per SMS cost the broker, both processes and the database more than
    the SMS itself."""

    def __init__(self, bus: Bus, *, max_items: int = 500, max_in_flight: int = 1) -> None:
        """``max_in_flight`` > 0: while that many messages wait for their confirm, new items gather
        instead (larger batches, less CPU per item); 0: a message every loop turn. One in flight (the
        default) costs no throughput: the items gathered meanwhile leave as soon as the confirm is in,
        and against a message per loop turn it cut the whole path's CPU per SMS by a quarter to a third
        (fewer messages for the broker, the gateway and the workflow service; docs/benchmarks.md)."""
        self._bus = bus
        self._max_items = max_items
        self._max_in_flight = max_in_flight
        self._items: list[dict[str, Any]] = []
        self._sent: asyncio.Future[None] | None = None  # the batch being filled
        self._publishing: set[asyncio.Task[None]] = set()

    async def add(self, items: list[dict[str, Any]]) -> None:
        if self._sent is None:
            self._sent = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._flush)
        sent = self._sent
        self._items.extend(items)
        if len(self._items) >= self._max_items:
            self._flush(full=True)
        # Shielded: a cancelled caller must not cancel the batch its neighbours wait for.
        await asyncio.shield(sent)

    def _flush(self, *, full: bool = False) -> None:
        sent, items = self._sent, self._items
        if sent is None:
            return  # already flushed when it grew full
        if not full and 0 < self._max_in_flight <= len(self._publishing):
            return  # ``_published`` sends it
        self._sent, self._items = None, []
        task = asyncio.ensure_future(self._publish(items, sent))
        self._publishing.add(task)
        task.add_done_callback(self._published)

    def _published(self, task: asyncio.Task[None]) -> None:
        self._publishing.discard(task)
        self._flush()

    def _message(self, items: list[dict[str, Any]]) -> tuple[str, Envelope]:
        """The (topic, envelope) that carries ``items``."""
        return "sms.status", Envelope.new("sms.status", {"items": items}, version=2)

    async def _publish(self, items: list[dict[str, Any]], sent: asyncio.Future[None]) -> None:
        topic, envelope = self._message(items)
        try:
            await self._bus.publish(topic, envelope)
        except asyncio.CancelledError:
            sent.cancel()
            raise
        except Exception as exc:
            sent.set_exception(exc)
            sent.exception()  # retrieved: no "never retrieved" warning when every caller has gone
        else:
            sent.set_result(None)


class MoBatcher(StatusBatcher):
    """``sms.inbound`` MOs out in batches, as ``StatusBatcher`` does for status items: the MOs read in one
    event-loop turn (and those read while the previous message awaits its confirm) leave as one message,
    schema version 2; a lone MO leaves as version 1 (its message id is its ``mo_id``). ``add`` returns
    once that message is confirmed, or raises with every other MO of the batch: the connector answers
    each deliver_sm only then (ESME_ROK, or ESME_RX_T_APPN so that the SMSC delivers it again)."""

    @property
    def gathering(self) -> int:
        """MOs waiting for the next message (while the previous one awaits its confirm)."""
        return len(self._items)

    def _message(self, items: list[dict[str, Any]]) -> tuple[str, Envelope]:
        if len(items) == 1:
            [mo] = items
            return "sms.inbound", Envelope.new("sms.inbound", mo, message_id=str(mo["mo_id"]))
        return "sms.inbound", Envelope.new("sms.inbound", {"items": items}, version=2)


class Gateway:
    """What ``start_gateway`` returns: ``stop()`` drains and unbinds."""

    def __init__(
        self,
        config: ConnectorConfig,
        bus: Bus,
        *,
        dead_letters: DeadLetterStore | None = None,
        drain_timeout_s: float = 10.0,
        status_in_flight: int = 1,
    ) -> None:
        self._bus = bus
        self._dead_letters = dead_letters
        self._drain_timeout_s = drain_timeout_s
        self.connector = Connector(config, self)
        self._stopping = False
        self._active = 0
        self._idle = asyncio.Event()  # set while no outbound message is being handled
        self._idle.set()
        self._done_parts: OrderedDict[str, dict[int, PartResult]] = OrderedDict()
        self._statuses = StatusBatcher(bus, max_in_flight=status_in_flight)
        self._mos = MoBatcher(bus, max_items=MO_BATCH_MAX)

    async def start(self, *, prefetch: int | None = None) -> None:
        """Consume ``sms.outbound`` with at most ``prefetch`` (default: the window W) messages unacked.

        That bound is what limits duplicates after a crash: the broker redelivers only unacked messages,
        so with W of them at most W SMS are sent twice, whatever state the gateway died in. Every SMS has
        at least one part, so W messages in hand still fill a window of W submit_sm.
        """
        await self.connector.start()
        await self._bus.consume(
            "sms.outbound", self.on_outbound, prefetch=prefetch or self.connector.config.window
        )

    async def stop(self) -> None:
        self._stopping = True
        try:
            async with asyncio.timeout(self._drain_timeout_s):
                await self._idle.wait()
        except TimeoutError:
            logger.warning(
                "gateway stopping with %d SMS unfinished (%d submit_sm in flight); the bus redelivers them",
                self._active,
                self.connector.in_flight,
            )
        await self.connector.stop()
        logger.info("gateway stopped")

    # --- sms.outbound -------------------------------------------------------------------------

    async def on_outbound(self, envelope: Envelope) -> None:
        if self._stopping:
            raise GatewayStopping("gateway is stopping")
        self._idle.clear()
        payload = envelope.payload
        sms_id, to, text = str(payload["sms_id"]), str(payload["to"]), str(payload["text"])
        if not text:
            raise Reject("sms.outbound with an empty text")
        self._active += 1
        try:
            done = self._done_parts.get(sms_id, {})
            results = await self.connector.send(sms_id, to, text, skip=set(done))
            for result in results:
                if result.ok:
                    done[result.index] = result
            self._remember(sms_id, done)
            # Earlier accepted parts are published again: recording the same result twice changes nothing.
            settled = sorted([*done.values(), *(r for r in results if not r.ok)], key=lambda r: r.index)
            await self._statuses.add([_part_item(sms_id, r) for r in settled])
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    def _remember(self, sms_id: str, done: dict[int, PartResult]) -> None:
        self._done_parts[sms_id] = done
        self._done_parts.move_to_end(sms_id)
        while len(self._done_parts) > DONE_PARTS_KEPT:
            self._done_parts.popitem(last=False)

    # --- InboundHandler (from the connector) --------------------------------------------------

    async def mo(self, message: MoMessage) -> None:
        payload = {
            "mo_id": message.mo_id,
            "from": to_e164(message.source_addr, message.source_ton),
            "to": message.destination_addr,
            "text": message.text,
            "data_coding": message.data_coding,
            "received_at": _now(),
        }
        await self._mos.add([payload])  # deliver_sm_resp goes out only after this returns

    async def receipt(self, receipt: Receipt) -> None:
        item = {
            "sms_id": None,
            "kind": "dlr",
            "part_index": None,
            "part_count": None,
            "smsc_message_id": receipt.message_id,
            "smpp_status": None,
            "dlr_state": receipt.state,
            "error": receipt.error,
            "at": _now(),
        }
        await self._statuses.add([item])  # deliver_sm_resp goes out only after this returns

    async def undecodable(self, item: Undecodable) -> None:
        logger.warning("undecodable deliver_sm kept (%d octets): %s", len(item.raw), item.reason)
        if self._dead_letters is not None:
            await self._dead_letters.park(
                DeadLetter("sms.inbound", item.raw, item.reason, 0, "smpp.deliver_sm")
            )


def _part_item(sms_id: str, r: PartResult) -> dict[str, Any]:
    return {
        "sms_id": sms_id,
        "kind": "submit_ok" if r.ok else "submit_failed",
        "part_index": r.index,
        "part_count": r.count,
        "smsc_message_id": normalise_id(r.message_id) if r.message_id else None,
        "smpp_status": r.smpp_status,
        "error": r.error,
        "at": _now(),
    }


async def start_gateway(
    settings: Settings, bus: Bus, *, dead_letters: DeadLetterStore | None = None
) -> Gateway:
    """Start the connector and consume ``sms.outbound``; the link binds in the background."""
    gateway = Gateway(
        connector_config(settings),
        bus,
        dead_letters=dead_letters,
        drain_timeout_s=settings.smpp.drain_timeout_s,
    )
    await gateway.start()
    return gateway


async def start_simulator(settings: Settings) -> Simulator:
    """The built-in SMSC on smpp.host:smpp.port, accepting our own account (embedded default)."""
    simulator = Simulator(
        {settings.smpp.system_id: settings.smpp.password}, host=settings.smpp.host, port=settings.smpp.port
    )
    await simulator.start()
    return simulator


async def run_until(gateway: Gateway, stopping: asyncio.Event) -> None:
    await stopping.wait()
    await gateway.stop()
