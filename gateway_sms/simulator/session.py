"""One ESME connection to the simulated SMSC: framing, bind, submit_sm, and server-originated requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import TYPE_CHECKING

from gateway_sms.pdus import status as st
from gateway_sms.pdus.codec import MAX_PDU_LEN, Pdu, PduError, decode, encode, peek_header

if TYPE_CHECKING:
    from gateway_sms.simulator.server import Simulator

logger = logging.getLogger(__name__)

BIND_KINDS = {
    "bind_transmitter": (True, False),
    "bind_receiver": (False, True),
    "bind_transceiver": (True, True),
}
RESPONSE_TIMEOUT_S = 10.0


class Session:
    def __init__(self, sim: Simulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.system_id = ""
        self.can_send = False  # bound as transmitter/transceiver
        self.can_receive = False  # bound as receiver/transceiver
        self._seq = 0
        self._waiting: dict[int, asyncio.Future[Pdu]] = {}
        self.closed = asyncio.Event()

    # --- plumbing -----------------------------------------------------------------------------

    def send(self, pdu: Pdu) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(pdu))

    def drop(self) -> None:
        """Close TCP at once, discarding anything not yet written (a crashed or cut link)."""
        transport = self.writer.transport
        transport.abort()

    def request_now(self, pdu: Pdu) -> asyncio.Future[Pdu]:
        """Write a server-originated request now; the future gets its response (the caller bounds the wait)."""
        self._seq += 1
        pdu.sequence = self._seq
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._waiting[pdu.sequence] = future
        future.add_done_callback(lambda _: self._waiting.pop(pdu.sequence, None))
        self.send(pdu)
        return future

    async def request(self, pdu: Pdu) -> Pdu:
        """Send a server-originated request and wait for its response (raises TimeoutError)."""
        self._seq += 1
        pdu.sequence = self._seq
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._waiting[pdu.sequence] = future
        try:
            self.send(pdu)
            return await asyncio.wait_for(future, RESPONSE_TIMEOUT_S)
        finally:
            self._waiting.pop(pdu.sequence, None)

    async def run(self) -> None:
        try:
            while True:
                raw = await self._read_frame()
                if raw is None:
                    return
                await self._handle_raw(raw)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.can_send = self.can_receive = False
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("ESME connection closed"))
            self.writer.close()
            self.closed.set()

    async def _read_frame(self) -> bytes | None:
        head = await self.reader.readexactly(4)
        (length,) = struct.unpack(">L", head)
        if not 16 <= length <= MAX_PDU_LEN:
            logger.warning("simulator: command_length %d out of range; closing", length)
            return None
        return head + await self.reader.readexactly(length - 4)

    async def _handle_raw(self, raw: bytes) -> None:
        try:
            pdu = decode(raw)
        except PduError as exc:
            _, cid, _, seq = peek_header(raw)
            logger.info("simulator: unreadable PDU 0x%08x: %s", cid, exc)
            code = st.ESME_RINVCMDID if "unknown command_id" in str(exc) else st.ESME_RINVCMDLEN
            self.send(Pdu("generic_nack", seq, code))
            return
        if pdu.command.endswith("_resp") or pdu.command == "generic_nack":
            future = self._waiting.get(pdu.sequence)
            if future is not None and not future.done():
                future.set_result(pdu)
            return
        await self._handle_request(pdu)

    # --- requests from the ESME ---------------------------------------------------------------

    async def _handle_request(self, pdu: Pdu) -> None:
        if pdu.command in BIND_KINDS:
            self._bind(pdu)
        elif pdu.command == "enquire_link":
            self.sim.enquire_links += 1
            if not self.sim.faults.mute_enquire_link:
                self.send(Pdu("enquire_link_resp", pdu.sequence))
        elif pdu.command == "unbind":
            self.send(Pdu("unbind_resp", pdu.sequence))
            await self.writer.drain()
            self.writer.close()
        elif pdu.command == "submit_sm":
            self.sim._on_submit(self, pdu)
        else:
            self.send(Pdu("generic_nack", pdu.sequence, st.ESME_RINVCMDID))

    def _bind(self, pdu: Pdu) -> None:
        resp = pdu.command + "_resp"
        if self.can_send or self.can_receive:
            self.send(Pdu(resp, pdu.sequence, 0x05))  # ESME_RALYBND
            return
        expected = self.sim.accounts.get(pdu.text("system_id"))
        if expected is None or expected != pdu.text("password"):
            logger.info("simulator: bind refused for system_id %s", pdu.text("system_id"))
            self.send(Pdu(resp, pdu.sequence, st.ESME_RINVPASWD))
            return
        self.system_id = pdu.text("system_id")
        self.can_send, self.can_receive = BIND_KINDS[pdu.command]
        self.send(Pdu(resp, pdu.sequence, params={"system_id": "MUHTARSIM"}))
        self.sim._on_bound(self)

    async def unbind(self) -> None:
        """SMSC-initiated unbind: send unbind, wait for unbind_resp, close."""
        with contextlib.suppress(TimeoutError, ConnectionError):
            await self.request(Pdu("unbind", 0))
        self.writer.close()
