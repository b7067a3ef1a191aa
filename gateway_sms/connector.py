"""The asyncio side of the SMPP connection: window, TPS, throttle pause, retries, MO and receipts.

``send`` submits every part of one SMS and returns only when each part has an answer that settles it:
accepted (``ESME_ROK``) or refused for good (a permanent SMPP status). Everything else — throttling, a full
queue, a temporary error, a missing response (timeout: "unknown, retry"), a lost connection — is retried:
throttling pauses the whole sending side first. At most ``window`` submit_sm are in flight at once, and no
more than ``tps`` per second leave. A duplicate can only come from a part that was answered by the SMSC but
whose answer we never read, so duplicates are bounded by the window.

Incoming deliver_sm are decoded here; the handler publishes them, and only then is deliver_sm_resp sent
(ESME_ROK), or ESME_RX_T_APPN when publishing failed so that the SMSC delivers again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway_sms import addresses
from gateway_sms.encoding import EncodingError, plan
from gateway_sms.link import LINK_LOST, LinkConfig, SmppLink
from gateway_sms.pdus import status as st
from gateway_sms.pdus.codec import Pdu
from gateway_sms.pdus.mo import Fragment, Receipt, Undecodable, inspect
from gateway_sms.pdus.reassembly import Deduper, MoMessage, Reassembler, content_key
from gateway_sms.ratelimit import TokenBucket

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectorConfig:
    link: LinkConfig
    source_addr: str = "MUHTAR"
    encoding: str = "gsm7"  # gsm7 | turkish_shift | ucs2_only
    concat: str = "udh8"  # udh8 | udh16 | sar
    window: int = 10
    tps: float = 0.0
    throttle_pause_s: float = 1.0
    retry_delay_s: float = 1.0
    max_temporary_attempts: int = 5  # per part; then SubmitDeferred (the bus redelivers later)
    registered_delivery: bool = True
    receipt_id_radix: int | None = None


@dataclass(frozen=True)
class PartResult:
    index: int  # 1-based
    count: int
    ok: bool
    smpp_status: str  # ESME_ROK, ESME_RINVDSTADR, …
    message_id: str | None
    error: str | None = None


class SubmitDeferred(Exception):
    """Temporary failures outlasted the in-process retries; the caller should retry the whole SMS later."""


class InboundHandler(Protocol):
    """Publishes what the SMSC delivered; raising means "not published" (the SMSC will redeliver)."""

    async def mo(self, message: MoMessage) -> None: ...
    async def receipt(self, receipt: Receipt) -> None: ...
    async def undecodable(self, item: Undecodable) -> None: ...


@dataclass(frozen=True)
class _Outcome:
    status: int
    message_id: str | None


_TIMED_OUT = _Outcome(st.ESME_RSYSERR, None)  # compared by identity: "no response within the timeout"


class Connector:
    def __init__(
        self, config: ConnectorConfig, handler: InboundHandler, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._handler = handler
        self._clock = clock
        self._tokens = itertools.count(1)
        # token -> (its response, deadline on the loop's clock); in token order, so deadlines ascend
        self._waiting: dict[int, tuple[asyncio.Future[_Outcome], float]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._window = asyncio.Semaphore(config.window)
        self._bucket = TokenBucket(config.tps)
        self._open = asyncio.Event()  # cleared while throttled
        self._open.set()
        self._bound = asyncio.Event()
        self._resume: asyncio.TimerHandle | None = None
        self._reassembler = Reassembler()
        self._deduper = Deduper()
        self._tasks: set[asyncio.Task[None]] = set()
        self._link: SmppLink | None = None
        self._closed = False
        self.in_flight = 0
        self._idle = asyncio.Event()  # set while nothing is in flight
        self._idle.set()
        self.stats = {
            "submitted": 0,
            "throttled": 0,
            "timeouts": 0,
            "lost": 0,
            "temporary": 0,
            "permanent": 0,
        }

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._link = SmppLink(self.config.link, self, loop)
        self._link.start()
        self._sweep()

    def _sweep(self) -> None:
        """Time out submits whose response is overdue: one timer for all of them, every tenth of the
        timeout, instead of a timer per submit_sm (a response may so take up to 10 % longer to time out)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        expired = []
        for future, deadline in self._waiting.values():
            if deadline > now:
                break
            expired.append(future)
        for future in expired:
            if not future.done():
                future.set_result(_TIMED_OUT)
        if not self._closed:
            tick = max(0.01, min(1.0, self.config.link.response_timeout_s / 10))
            self._sweeper = loop.call_later(tick, self._sweep)

    async def wait_bound(self, within_s: float = 10.0) -> None:
        async with asyncio.timeout(within_s):
            await self._bound.wait()

    @property
    def bound(self) -> bool:
        return self._bound.is_set()

    @property
    def link(self) -> SmppLink:
        assert self._link is not None, "start() first"
        return self._link

    async def drain(self, within_s: float) -> bool:
        """Wait until no submit_sm is in flight (bounded); True if the window emptied."""
        try:
            async with asyncio.timeout(within_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Unbind and stop the I/O thread. Callers stop feeding ``send`` and ``drain`` first."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._bound.set()  # wake every waiting sender: each sees _closed and gives up
        self._open.set()
        for future, _ in self._waiting.values():
            if not future.done():
                future.set_result(_Outcome(LINK_LOST, None))
        if self._link is not None:
            await asyncio.to_thread(self._link.stop)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- LinkEvents (called on the loop by the I/O thread) ------------------------------------

    def link_up(self, generation: int) -> None:
        self._bound.set()

    def link_down(self, reason: str) -> None:
        if not self._closed:
            self._bound.clear()

    def submit_done(self, token: int, status: int, message_id: str | None) -> None:
        entry = self._waiting.pop(token, None)
        if entry is not None and not entry[0].done():
            entry[0].set_result(_Outcome(status, message_id))

    def deliver(self, generation: int, bind: int, sequence: int, pdu: Pdu, raw: bytes) -> None:
        task = asyncio.ensure_future(self._on_deliver(generation, bind, sequence, pdu, raw))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def undecodable(self, raw: bytes, reason: str) -> None:
        task = asyncio.ensure_future(self._store_undecodable(Undecodable(raw, reason)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- outbound -----------------------------------------------------------------------------

    async def send(
        self, sms_id: str, to: str, text: str, *, skip: frozenset[int] | set[int] = frozenset()
    ) -> list[PartResult]:
        """Submit every part of one SMS (but the 1-based indexes in ``skip``, already accepted).

        See the module docstring for what "done" means. Raises ``SubmitDeferred`` when temporary errors
        persist or the connector is stopping.
        """
        try:
            ton, npi, digits = addresses.destination(to)
        except addresses.InvalidAddress as exc:
            return [PartResult(1, 1, False, "ESME_RINVDSTADR", None, str(exc))]
        # The concatenation reference follows from the SMS id, so a resent part still joins its siblings.
        ref = zlib.crc32(sms_id.encode())
        try:
            p = plan(text, self.config.encoding, concat=self.config.concat, ref=ref & 0xFFFF)
        except EncodingError as exc:  # more than 255 parts: no SMSC can take it, now or later
            return [PartResult(1, 1, False, "ESME_RINVMSGLEN", None, str(exc))]
        src_ton, src_npi, src = addresses.source(self.config.source_addr)
        common = {
            "source_addr_ton": src_ton,
            "source_addr_npi": src_npi,
            "source_addr": src,
            "dest_addr_ton": ton,
            "dest_addr_npi": npi,
            "destination_addr": digits,
            "data_coding": p.data_coding,
            "registered_delivery": 1 if self.config.registered_delivery else 0,
        }
        jobs = []
        for index, part in enumerate(p.parts, start=1):
            if index in skip:
                continue
            params: dict[str, Any] = {
                **common,
                "esm_class": part.esm_class,
                "short_message": part.short_message,
            }
            if part.sar is not None:
                params.update(
                    sar_msg_ref_num=part.sar[0],
                    sar_total_segments=part.sar[1],
                    sar_segment_seqnum=part.sar[2],
                )
            jobs.append(self._send_part(index, p.segments, params))
        if len(jobs) == 1:  # most SMS: no task and no gather future for one part
            return [await jobs[0]]
        return list(await asyncio.gather(*jobs))

    async def _send_part(self, index: int, count: int, params: dict[str, Any]) -> PartResult:
        temporary = 0
        while True:
            outcome = await self._submit_once(params)
            code = outcome.status
            if code == LINK_LOST:
                self.stats["lost"] += 1
                continue  # waits for the next bind in _submit_once; not the SMSC's fault
            s = st.status(code)
            if s.kind == "ok":
                return PartResult(index, count, True, s.name, outcome.message_id)
            if s.kind == "permanent":
                self.stats["permanent"] += 1
                return PartResult(index, count, False, s.name, None, f"SMSC refused: {s.name}")
            if s.kind == "throttle":
                self.stats["throttled"] += 1
                self._pause()
                continue
            temporary += 1
            self.stats["temporary"] += 1
            if temporary >= self.config.max_temporary_attempts:
                raise SubmitDeferred(f"part {index}/{count}: {s.name} after {temporary} attempts")
            await asyncio.sleep(self.config.retry_delay_s * random.uniform(0.5, 1.5) * temporary)

    async def _submit_once(self, params: dict[str, Any]) -> _Outcome:
        # ``_sending`` before each await skips a coroutine call when nothing is to wait for (nearly always).
        if not self._sending:
            await self._ready()
        if self._bucket.rate > 0:
            await self._bucket.acquire()
        async with self._window:
            # The link may have dropped, or a throttle arrived, while we waited for a slot.
            if not self._sending:
                await self._ready()
            token = next(self._tokens)
            loop = asyncio.get_running_loop()
            future: asyncio.Future[_Outcome] = loop.create_future()
            self._waiting[token] = (future, loop.time() + self.config.link.response_timeout_s)
            self.in_flight += 1
            self._idle.clear()
            try:
                self.link.submit(token, params)
                self.stats["submitted"] += 1
                outcome = await future  # answered, lost with the link, or timed out by ``_sweep``
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self._idle.set()
                self._waiting.pop(token, None)
        if outcome is _TIMED_OUT:
            self.stats["timeouts"] += 1
            logger.warning("submit_sm response timed out; resending (unknown outcome)")
            return _Outcome(st.ESME_RSYSERR, None)
        return outcome

    @property
    def _sending(self) -> bool:
        """Bound, not throttled and not stopped: ``_ready`` would return at once."""
        return not self._closed and self._bound.is_set() and self._open.is_set()

    async def _ready(self) -> None:
        await self._bound.wait()
        await self._open.wait()
        if self._closed:
            raise SubmitDeferred("connector stopped")

    def _pause(self) -> None:
        """ESME_RTHROTTLED / ESME_RMSGQFUL: stop every sender for ``throttle_pause_s``."""
        if self._open.is_set():
            logger.info("SMSC throttling: pausing submits for %.1fs", self.config.throttle_pause_s)
        self._open.clear()
        if self._resume is not None:
            self._resume.cancel()
        self._resume = asyncio.get_running_loop().call_later(self.config.throttle_pause_s, self._open.set)

    # --- inbound ------------------------------------------------------------------------------

    async def _on_deliver(self, generation: int, bind: int, sequence: int, pdu: Pdu, raw: bytes) -> None:
        item = inspect(pdu, raw, receipt_id_radix=self.config.receipt_id_radix)
        try:
            if isinstance(item, Undecodable):
                await self._store_undecodable(item)
            elif isinstance(item, Receipt):
                await self._handler.receipt(item)
            else:
                await self._on_fragment(item)
            code = st.ESME_ROK
        except Exception as exc:  # any publish failure means "deliver it again"
            logger.warning(
                "inbound deliver_sm not published (%s); answering ESME_RX_T_APPN", exc.__class__.__name__
            )
            code = st.ESME_RX_T_APPN
        self.link.respond(generation, bind, sequence, code)

    async def _on_fragment(self, fragment: Fragment) -> None:
        parts = self._reassembler.add(fragment, self._clock())
        if parts is None:
            return  # held until the other parts arrive
        first = parts[0]
        text = "".join(p.text for p in parts)
        key = content_key(first.source_addr, first.destination_addr, text)
        now = self._clock()
        mo_id, seen = self._deduper.mo_id(key, now)
        if seen:
            logger.info("MO %s redelivered by the SMSC; already published", mo_id)
            return
        message = MoMessage(
            mo_id, first.source_addr, first.source_ton, first.destination_addr, first.data_coding, text
        )
        try:
            await self._handler.mo(message)
        except Exception:
            self._reassembler.restore(parts, now)  # the SMSC's redelivery of the last part completes it again
            raise
        self._deduper.remember(key, mo_id, now)

    async def _store_undecodable(self, item: Undecodable) -> None:
        try:
            await self._handler.undecodable(item)
        except Exception:  # storage trouble must not stop the link
            logger.exception("could not store an undecodable PDU")
