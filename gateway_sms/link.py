"""The SMPP link: smpplib's blocking client in its own thread, bridged to asyncio.

smpplib's ``listen()`` is not used: its default error handler raises out of the loop on the first
ESME_RTHROTTLED, it never answers an SMSC ``unbind``, it cannot time out a single request, and it has no
reconnection. This thread owns the sockets: it connects and binds (smpplib), reads whole PDUs itself and
parses them with our codec (a malformed PDU is reported with its raw bytes, never raised), writes PDUs built
by smpplib (submit_sm, the hot path, by our codec), sends enquire_link on a timer, and on any failure reconnects forever with exponential back-off
and jitter. The asyncio side talks to it through a queue plus a wake-up socket; the thread talks back with
``loop.call_soon_threadsafe``. Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from gateway_sms.pdus import status as st
from gateway_sms.pdus.codec import (
    MAX_PDU_LEN,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    Pdu,
    PduError,
    command_id,
    decode,
    encode,
    int_tlv,
    peek_header,
)

logger = logging.getLogger(__name__)
# smpplib logs every PDU in hex at debug level, bind (with the password) included: its logger stays at INFO.
_SMPPLIB_LOGGER = "gateway_sms.link.smpplib"
logging.getLogger(_SMPPLIB_LOGGER).setLevel(logging.INFO)

LINK_LOST = -1  # pseudo status for a submit whose connection went away before its response
_DELIVER_SM = command_id("deliver_sm")
_SUBMIT_SM_RESP = command_id("submit_sm_resp")


@dataclass(frozen=True)
class LinkConfig:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    address_range: str = ""
    bind_mode: str = "transceiver"  # or "pair": a transmitter and a receiver
    response_timeout_s: float = 30.0
    enquire_link_s: float = 30.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0

    def __repr__(self) -> str:  # the password never reaches a log line through repr
        return f"LinkConfig({self.host}:{self.port}, system_id={self.system_id}, bind_mode={self.bind_mode})"


class LinkEvents(Protocol):
    """Called on the event loop, never in the I/O thread."""

    def link_up(self, generation: int) -> None: ...
    def link_down(self, reason: str) -> None: ...
    def submit_done(self, token: int, status: int, message_id: str | None) -> None: ...
    def deliver(self, generation: int, bind: int, sequence: int, pdu: Pdu, raw: bytes) -> None: ...
    def undecodable(self, raw: bytes, reason: str) -> None: ...


class LinkDown(Exception):
    """The connection is unusable; the session ends and the link reconnects."""


class _Bind:
    """One bound smpplib client and its keep-alive state."""

    def __init__(self, client: smpplib.client.Client, can_send: bool) -> None:
        self.client = client
        self.can_send = can_send
        self.last_activity = time.monotonic()
        self.enquire_sent_at: float | None = None
        self._out = bytearray()
        self._in = bytearray()

    @property
    def sock(self) -> socket.socket:
        sock = self.client._socket
        if sock is None:
            raise LinkDown("socket closed")
        return sock  # type: ignore[no-any-return]

    def send(self, command: str, sequence: int | None = None, **params: Any) -> int:
        """Build a PDU with smpplib and queue its bytes; ``flush`` writes everything queued at once."""
        pdu = smpplib.smpp.make_pdu(command, client=self.client, **params)
        if sequence is not None:
            pdu.sequence = sequence
        try:
            raw = pdu.generate()
        except Exception as exc:  # smpplib refuses a value (too long, wrong type): a bug, not a link fault
            raise ValueError(f"cannot build {command}: {exc.__class__.__name__}") from None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(">> %s %s", command, raw.hex())
        self._out += raw
        return int(pdu.sequence)

    def send_submit(self, params: dict[str, Any]) -> int:
        """Queue a submit_sm built by our codec (``pdus.codec``, checked against the SMPP 3.4 specification's
        byte strings) rather than smpplib: its PDU objects cost more CPU than the rest of a submit together.
        The sequence number still comes from smpplib's client, the one sequence space of this bind."""
        fields = dict(params)
        tlvs: dict[int, bytes] = {}
        if "sar_msg_ref_num" in fields:
            tlvs[TAG_SAR_MSG_REF_NUM] = int_tlv(int(fields.pop("sar_msg_ref_num")), 2)
            tlvs[TAG_SAR_TOTAL_SEGMENTS] = int_tlv(int(fields.pop("sar_total_segments")), 1)
            tlvs[TAG_SAR_SEGMENT_SEQNUM] = int_tlv(int(fields.pop("sar_segment_seqnum")), 1)
        sequence = int(self.client.next_sequence())
        try:
            raw = encode(Pdu("submit_sm", sequence, 0, fields, tlvs))
        except (ValueError, OverflowError) as exc:  # PduError and UnicodeEncodeError are ValueErrors
            raise ValueError(f"cannot build submit_sm: {exc.__class__.__name__}") from None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(">> submit_sm %s", raw.hex())
        self._out += raw
        return sequence

    def flush(self) -> None:
        if not self._out:
            return
        try:
            self.sock.sendall(self._out)
        except OSError as exc:
            raise LinkDown(f"write: {exc.__class__.__name__}") from None
        self._out.clear()
        self.last_activity = time.monotonic()

    def read_available(self) -> list[bytes]:
        """Every whole PDU the socket has for us now (called when select says it is readable)."""
        try:
            chunk = self.sock.recv(65536)
        except OSError as exc:  # socket.timeout included
            raise LinkDown(f"read: {exc.__class__.__name__}") from None
        if not chunk:
            raise LinkDown("connection closed by the SMSC")
        self._in += chunk
        self.last_activity = time.monotonic()
        frames: list[bytes] = []
        while len(self._in) >= 4:
            (length,) = struct.unpack_from(">L", self._in)
            if not 16 <= length <= MAX_PDU_LEN:
                raise LinkDown(f"command_length {length} out of range")
            if len(self._in) < length:
                break
            frames.append(bytes(self._in[:length]))
            del self._in[:length]
        return frames

    def close(self) -> None:
        # We read responses ourselves, so smpplib's state still says "bound": reset it to keep its
        # disconnect() from warning about every ordinary close.
        self.client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN
        try:
            self.client.disconnect()
        except Exception:  # closing a broken socket must not stop the reconnect loop
            pass


class SmppLink:
    def __init__(self, config: LinkConfig, events: LinkEvents, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self._events = events
        self._loop = loop
        self._commands: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smpp-link", daemon=True)
        self._binds: list[_Bind] = []
        self._generation = 0
        self._inflight: dict[int, tuple[int, float]] = {}  # sequence -> (token, sent at)
        self.attempts = 0  # connection attempts since the last successful bind (for logs and tests)
        self._wake_pending = False
        self._posts: list[tuple[str, tuple[Any, ...]]] = []
        self._batch: list[tuple[Any, ...]] = []  # commands issued in this event-loop turn

    # --- called from the event loop -----------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, token: int, params: dict[str, Any]) -> None:
        self._later(("submit", token, time.monotonic(), params))

    def respond(self, generation: int, bind: int, sequence: int, status: int) -> None:
        self._later(("respond", generation, bind, sequence, status))

    def _later(self, command: tuple[Any, ...]) -> None:
        """Hand commands over once per event-loop turn: every hand-off wakes the I/O thread, and each
        wake-up is a GIL exchange between the two threads that costs more than building a PDU. Whatever the
        loop issues in one turn (a window's worth of submits after a batch of responses) goes together."""
        self._batch.append(command)
        if len(self._batch) == 1:
            self._loop.call_soon(self._hand_over)

    def _hand_over(self) -> None:
        batch, self._batch = self._batch, []
        for command in batch:
            self._commands.put(command)
        if batch:
            self._wake()

    def stop(self, within_s: float = 5.0) -> None:
        """Ask the thread to unbind and exit, and wait for it (blocking: call via ``asyncio.to_thread``)."""
        self._stopping.set()
        self._put(("stop",))
        self._thread.join(within_s)
        self._wake_r.close()
        self._wake_w.close()

    def _put(self, command: tuple[Any, ...]) -> None:
        self._commands.put(command)
        self._wake()

    def _wake(self) -> None:
        # One wake-up byte per batch, not per command: every write to the socket pair hands the GIL to
        # the I/O thread, and doing that per submit costs more than the submit itself.
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            self._wake_w.send(b"\x00")
        except (BlockingIOError, OSError):
            pass  # the wake-up buffer is full (the thread will wake anyway) or closed (stopping)

    def _post(self, method: str, *args: Any) -> None:
        """Queue an event for the loop; ``_flush_posts`` hands the whole batch over in one call."""
        self._posts.append((method, args))

    def _flush_posts(self) -> None:
        if not self._posts:
            return
        batch, self._posts = self._posts, []
        try:
            self._loop.call_soon_threadsafe(self._dispatch, batch)
        except RuntimeError:
            pass  # the loop is closed: the process is shutting down

    def _dispatch(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        """On the event loop: deliver a batch of events in order."""
        for method, args in batch:
            getattr(self._events, method)(*args)

    # --- the I/O thread -----------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.config.reconnect_min_s
        while not self._stopping.is_set():
            self.attempts += 1
            try:
                self._session()
            except LinkDown as exc:
                logger.warning(
                    "SMPP link %s:%d down (%s); reconnect attempt %d",
                    self.config.host,
                    self.config.port,
                    exc,
                    self.attempts,
                )
                self._post("link_down", str(exc))
            except Exception:
                logger.exception("SMPP link: unexpected error; reconnecting")
                self._post("link_down", "unexpected error")
            finally:
                self._teardown()
                self._flush_posts()
            if self.attempts == 0:
                delay = self.config.reconnect_min_s  # the last session was bound: start the back-off over
            if self._stopping.is_set():
                break
            self._pause(delay * random.uniform(0.5, 1.5))
            delay = min(self.config.reconnect_max_s, delay * 2)

    def _pause(self, seconds: float) -> None:
        """Back-off sleep that fails queued submits at once and wakes up for stop."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            select.select([self._wake_r], [], [], remaining)
            self._drain_commands(bound=False)
            self._flush_posts()

    def _session(self) -> None:
        self._binds = self._open_binds()
        self._generation += 1
        self.attempts = 0
        logger.info("SMPP link %s:%d bound (%s)", self.config.host, self.config.port, self.config.bind_mode)
        self._post("link_up", self._generation)
        self._flush_posts()
        while not self._stopping.is_set():
            socks = [b.sock for b in self._binds]
            readable, _, _ = select.select([*socks, self._wake_r], [], [], self._tick())
            for index, bind in enumerate(self._binds):
                if bind.sock in readable:
                    for raw in bind.read_available():
                        self._handle(index, bind, raw)
            self._drain_commands(bound=True)  # also when not woken: cheap, and robust
            self._keepalive()
            for bind in self._binds:
                bind.flush()
            self._flush_posts()
        self._unbind()

    def _open_binds(self) -> list[_Bind]:
        kinds = [("bind_transceiver", True)]
        if self.config.bind_mode == "pair":
            kinds = [("bind_transmitter", True), ("bind_receiver", False)]
        binds: list[_Bind] = []
        try:
            for command, can_send in kinds:
                binds.append(self._bind(command, can_send))
        except LinkDown:
            for b in binds:
                b.close()
            raise
        return binds

    def _bind(self, command: str, can_send: bool) -> _Bind:
        cfg = self.config
        client = smpplib.client.Client(
            cfg.host,
            cfg.port,
            timeout=cfg.response_timeout_s,
            logger_name=_SMPPLIB_LOGGER,
            allow_unknown_opt_params=True,
        )
        bind = _Bind(client, can_send)
        try:
            client.connect()
            # Small PDUs both ways (submit_sm, deliver_sm_resp): without this, Nagle plus delayed ACKs
            # stall each exchange for tens of milliseconds.
            bind.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            getattr(client, command)(
                system_id=cfg.system_id,
                password=cfg.password,
                system_type=cfg.system_type,
                address_range=cfg.address_range,
            )
        except smpplib.exceptions.PDUError as exc:
            bind.close()
            code = exc.args[1] if len(exc.args) > 1 else st.ESME_RBINDFAIL
            raise LinkDown(f"{command} refused: {st.status(int(code)).name}") from None
        except (smpplib.exceptions.ConnectionError, OSError) as exc:
            bind.close()
            raise LinkDown(f"{command}: {exc.__class__.__name__}") from None
        return bind

    def _tick(self) -> float:
        return max(0.05, min(1.0, self.config.enquire_link_s / 2, self.config.response_timeout_s / 2))

    def _keepalive(self) -> None:
        now = time.monotonic()
        for bind in self._binds:
            if bind.enquire_sent_at is not None:
                if now - bind.enquire_sent_at > self.config.response_timeout_s:
                    raise LinkDown("enquire_link unanswered")
            elif now - bind.last_activity >= self.config.enquire_link_s:
                bind.send("enquire_link")
                bind.enquire_sent_at = now
        stale = [s for s, (_, at) in self._inflight.items() if now - at > 2 * self.config.response_timeout_s]
        for sequence in stale:  # the asyncio side gave up on these long ago
            del self._inflight[sequence]

    def _drain_commands(self, *, bound: bool) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        # After emptying the socket pair and before reading the queue: a command queued from now on sends
        # a fresh byte, so a wake-up is never lost.
        self._wake_pending = False
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            kind = command[0]
            if kind == "submit":
                self._submit(*command[1:], bound=bound)
            elif kind == "respond" and bound:
                self._respond(*command[1:])
            elif kind == "stop":
                self._stopping.set()

    def _submit(self, token: int, queued_at: float, params: dict[str, Any], *, bound: bool) -> None:
        if time.monotonic() - queued_at > self.config.response_timeout_s:
            return  # the caller has already timed out and will resend: sending now would only duplicate
        sender = next((b for b in self._binds if b.can_send), None) if bound else None
        if sender is None:
            self._post("submit_done", token, LINK_LOST, None)
            return
        try:
            sequence = sender.send_submit(params)
        except ValueError as exc:
            logger.error("submit_sm not sent: %s", exc)
            self._post("submit_done", token, st.ESME_RINVMSGLEN, None)
            return
        self._inflight[sequence] = (token, time.monotonic())

    def _respond(self, generation: int, bind: int, sequence: int, status: int) -> None:
        if generation != self._generation or bind >= len(self._binds):
            return  # that connection is gone; the SMSC will redeliver
        self._binds[bind].send("deliver_sm_resp", sequence=sequence, status=status)

    def _handle(self, index: int, bind: _Bind, raw: bytes) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("<< %s", raw.hex())
        try:
            pdu = decode(raw)
        except PduError as exc:
            self._unreadable(index, bind, raw, str(exc))
            return
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack"):
            entry = self._inflight.pop(pdu.sequence, None)
            if entry is not None:
                code = pdu.status if pdu.status or command == "submit_sm_resp" else st.ESME_RSYSERR
                self._post("submit_done", entry[0], code, pdu.text("message_id") or None)
            elif command == "generic_nack":
                logger.warning(
                    "SMPP generic_nack %s for sequence %d", st.status(pdu.status).name, pdu.sequence
                )
        elif command == "deliver_sm":
            self._post("deliver", self._generation, index, pdu.sequence, pdu, raw)
        elif command == "enquire_link":
            bind.send("enquire_link_resp", sequence=pdu.sequence)
        elif command == "enquire_link_resp":
            bind.enquire_sent_at = None
        elif command == "unbind":
            bind.send("unbind_resp", sequence=pdu.sequence)
            bind.flush()
            raise LinkDown("unbind from the SMSC")
        elif not command.endswith("_resp"):
            bind.send("generic_nack", sequence=pdu.sequence, status=st.ESME_RINVCMDID)

    def _unreadable(self, index: int, bind: _Bind, raw: bytes, reason: str) -> None:
        _, cid, code, sequence = peek_header(raw)
        logger.warning("SMPP: unreadable PDU 0x%08x (%s)", cid, reason)
        if cid == _DELIVER_SM:
            # Kept with its raw bytes by the asyncio side; answered so the SMSC does not loop on it.
            self._post("undecodable", raw, f"deliver_sm: {reason}")
            bind.send("deliver_sm_resp", sequence=sequence, status=st.ESME_ROK)
        elif cid == _SUBMIT_SM_RESP:
            entry = self._inflight.pop(sequence, None)
            if entry is not None:
                self._post("submit_done", entry[0], code, None)
        elif not cid & 0x80000000:
            bind.send("generic_nack", sequence=sequence, status=st.ESME_RINVCMDLEN)

    def _unbind(self) -> None:
        """Graceful end: unbind each bind and wait briefly for unbind_resp."""
        for bind in self._binds:
            try:
                bind.send("unbind")
                bind.flush()
                deadline = time.monotonic() + min(2.0, self.config.response_timeout_s)
                while time.monotonic() < deadline:
                    readable, _, _ = select.select([bind.sock], [], [], deadline - time.monotonic())
                    if readable and any(decode(r).command == "unbind_resp" for r in bind.read_available()):
                        break
            except (LinkDown, PduError):
                pass

    def _teardown(self) -> None:
        for bind in self._binds:
            bind.close()
        self._binds = []
        for token, _ in self._inflight.values():
            self._post("submit_done", token, LINK_LOST, None)
        self._inflight.clear()
        self._drain_commands(bound=False)
