"""An SMSC simulator: an asyncio SMPP 3.4 server with a Python control API.

For the embedded default (`muhtar run`), tests, and the simulator web page. It accepts binds (checking
credentials), answers submit_sm with message ids, records parts and whole messages, sends delivery receipts,
injects MO messages, and on command throttles, stays silent, answers generic_nack, unbinds, or drops TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

from gateway_sms.encoding import plan
from gateway_sms.pdus import status as st
from gateway_sms.pdus.codec import (
    TAG_MESSAGE_STATE,
    TAG_RECEIPTED_MESSAGE_ID,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    Pdu,
    cstr_tlv,
    int_tlv,
)
from gateway_sms.pdus.mo import Fragment, inspect
from gateway_sms.pdus.reassembly import Reassembler
from gateway_sms.simulator.records import Faults, MoRecord, SimMessage, SubmittedPart, receipt_text
from gateway_sms.simulator.session import Session

logger = logging.getLogger(__name__)

STATE_CODES = {"DELIVRD": 2, "EXPIRED": 3, "UNDELIV": 5, "REJECTD": 8}
MAX_RECORDS = 100_000


class Simulator:
    def __init__(
        self,
        accounts: Mapping[str, str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dlr_delay_s: float = 0.05,
        receipt_ids_decimal: bool = False,
        receipt_tlvs: bool = True,
    ) -> None:
        self.accounts = dict(accounts)
        self.host = host
        self._port = port
        self.dlr_delay_s = dlr_delay_s
        self.receipt_ids_decimal = receipt_ids_decimal
        self.receipt_tlvs = receipt_tlvs
        self.receipts_first = False  # write each receipt before its submit_sm_resp (same connection)
        self.faults = Faults()
        self.parts: list[SubmittedPart] = []
        self.messages: list[SimMessage] = []
        self.mo: list[MoRecord] = []
        self.binds = 0
        self.unanswered = 0  # submit_sm read while silent or dropped
        self.keep_records = True  # False for long benchmarks: answer and send receipts, remember nothing
        self.accepted = 0  # submit_sm answered ESME_ROK
        self.enquire_links = 0  # enquire_link received
        self._ids = itertools.count(0x1000)
        self._sessions: set[Session] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reassembler = Reassembler()
        self._part_ids: dict[tuple[str, str, int, int, int], str] = {}
        self._undelivered_receipts: list[Pdu] = []

    # --- life cycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._port)
        logger.info("SMSC simulator listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.drop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self._sessions.add(session)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- control API --------------------------------------------------------------------------

    @property
    def bound_sessions(self) -> int:
        return sum(1 for s in self._sessions if s.can_send or s.can_receive)

    def drop_all(self) -> None:
        """Cut every TCP connection now (no unbind)."""
        for session in list(self._sessions):
            session.drop()

    async def unbind_all(self) -> None:
        """Send unbind to every bound ESME and close once it answers."""
        await asyncio.gather(*(s.unbind() for s in list(self._sessions)), return_exceptions=True)

    async def wait_until(self, predicate: Callable[[], bool], within_s: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; raises TimeoutError (for tests and the CLI)."""
        deadline = time.monotonic() + within_s
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("simulator condition not reached")
            await asyncio.sleep(0.01)

    async def inject_mo(
        self, source: str, destination: str, text: str, *, mode: str = "gsm7", concat: str = "udh8"
    ) -> tuple[int, ...]:
        """Deliver an MO SMS from phone ``source`` (digits, international) to ``destination``.

        Returns each part's deliver_sm_resp status. Waits (up to 10 s) for a receiver bind.
        """
        await self.wait_until(lambda: self._receiver() is not None)
        p = plan(text, mode, concat=concat)
        statuses: list[int] = []
        for part in p.parts:
            tlvs: dict[int, bytes] = {}
            if part.sar is not None:
                ref, total, seq = part.sar
                tlvs = {
                    TAG_SAR_MSG_REF_NUM: int_tlv(ref, 2),
                    TAG_SAR_TOTAL_SEGMENTS: int_tlv(total, 1),
                    TAG_SAR_SEGMENT_SEQNUM: int_tlv(seq, 1),
                }
            pdu = _sm(
                "deliver_sm", source, 1, destination, part.esm_class, p.data_coding, part.short_message, tlvs
            )
            statuses.append(await self._deliver(pdu))
        self.mo.append(MoRecord(source, destination, text, tuple(statuses), datetime.now(UTC)))
        return tuple(statuses)

    async def deliver_raw(self, pdu: Pdu) -> int:
        """Send any deliver_sm (malformed content, vendor TLVs, hand-made receipts); returns its status."""
        await self.wait_until(lambda: self._receiver() is not None)
        return await self._deliver(pdu)

    async def _deliver(self, pdu: Pdu) -> int:
        session = self._receiver()
        if session is None:
            raise ConnectionError("no receiver bound")
        resp = await session.request(pdu)
        return resp.status if resp.command == "deliver_sm_resp" else st.ESME_RSYSERR

    def _receiver(self, system_id: str | None = None) -> Session | None:
        for s in self._sessions:
            if s.can_receive and (system_id is None or s.system_id == system_id):
                return s
        return None

    # --- submit_sm ----------------------------------------------------------------------------

    def _on_bound(self, session: Session) -> None:
        self.binds += 1
        if session.can_receive and self._undelivered_receipts:
            pending, self._undelivered_receipts = self._undelivered_receipts, []
            for pdu in pending:
                self._spawn(self._send_receipt(pdu, session.system_id))

    def _on_submit(self, session: Session, pdu: Pdu) -> None:
        f = self.faults
        if not session.can_send:
            session.send(Pdu("submit_sm_resp", pdu.sequence, st.ESME_RINVBNDSTS))
            return
        if f.drop_after is not None:
            if f.drop_after <= 0:
                f.drop_after = None
                self.unanswered += 1
                session.drop()
                return
            f.drop_after -= 1
        code = self._fault_status(pdu)
        if code is None:
            self.unanswered += 1
            return
        if code == -1:
            session.send(Pdu("generic_nack", pdu.sequence, st.ESME_RSYSERR))
            return
        if code != st.ESME_ROK:
            session.send(Pdu("submit_sm_resp", pdu.sequence, code))
            return
        message_id = f"{next(self._ids):08X}"
        self._record(session, pdu, message_id)
        session.send(Pdu("submit_sm_resp", pdu.sequence, params={"message_id": message_id}))

    def _fault_status(self, pdu: Pdu) -> int | None:
        """The answer the faults ask for: a status, -1 for generic_nack, None for silence."""
        f = self.faults
        if f.silent:
            return None
        if f.nack_next > 0:
            f.nack_next -= 1
            return -1
        if f.throttle_next > 0:
            f.throttle_next -= 1
            return st.ESME_RTHROTTLED
        if f.queue_full_next > 0:
            f.queue_full_next -= 1
            return st.ESME_RMSGQFUL
        return f.fail_destinations.get(pdu.text("destination_addr"), st.ESME_ROK)

    def _record(self, session: Session, pdu: Pdu, message_id: str) -> None:
        now = datetime.now(UTC)
        part = SubmittedPart(
            message_id,
            session.system_id,
            pdu.text("source_addr"),
            pdu.text("destination_addr"),
            pdu.int("data_coding"),
            pdu.int("esm_class"),
            pdu.octets("short_message"),
            pdu.int("registered_delivery"),
            now,
        )
        self.accepted += 1
        if self.keep_records and len(self.parts) < MAX_RECORDS:
            self.parts.append(part)
            decoded = inspect(pdu, b"")
            if isinstance(decoded, Fragment):
                self._collect(decoded, message_id, now)
        if part.registered_delivery & 0x01:
            if self.receipts_first and session.can_receive:
                # The race real SMSCs have: the receipt written before the submit_sm_resp.
                self._spawn(self._await_receipt(session.request_now(self._receipt_pdu(part)), part, session))
            else:
                self._spawn(self._receipt_later(session.system_id, part))

    def _collect(self, fragment: Fragment, message_id: str, now: datetime) -> None:
        c = fragment.concat
        key = (fragment.source_addr, fragment.destination_addr, c.ref, c.total) if c else None
        if key is not None and c is not None:
            self._part_ids[(*key, c.seq)] = message_id
        done = self._reassembler.add(fragment, time.monotonic())
        if done is None:
            return
        if key is not None and c is not None:
            ids = [self._part_ids.pop((*key, i), "") for i in range(1, c.total + 1)]
        else:
            ids = [message_id]
        text = "".join(p.text for p in done)
        if len(self.messages) < MAX_RECORDS:
            self.messages.append(
                SimMessage(
                    fragment.source_addr, fragment.destination_addr, text, fragment.data_coding, ids, now
                )
            )

    # --- receipts -----------------------------------------------------------------------------

    async def _receipt_later(self, system_id: str, part: SubmittedPart) -> None:
        await asyncio.sleep(self.dlr_delay_s)
        await self._send_receipt(self._receipt_pdu(part), system_id)

    async def _await_receipt(
        self, answer: asyncio.Future[Pdu], part: SubmittedPart, session: Session
    ) -> None:
        try:
            resp = await asyncio.wait_for(answer, 10)
        except (TimeoutError, ConnectionError):
            resp = None
        if resp is None or resp.status != st.ESME_ROK:
            self._undelivered_receipts.append(self._receipt_pdu(part))

    def _receipt_pdu(self, part: SubmittedPart) -> Pdu:
        state = "UNDELIV" if part.destination_addr in self.faults.undeliverable else "DELIVRD"
        shown_id = str(int(part.message_id, 16)) if self.receipt_ids_decimal else part.message_id
        text = receipt_text(
            shown_id, state, "000" if state == "DELIVRD" else "001", part.at, datetime.now(UTC), ""
        )
        tlvs: dict[int, bytes] = {}
        if self.receipt_tlvs:
            tlvs = {
                TAG_RECEIPTED_MESSAGE_ID: cstr_tlv(part.message_id),
                TAG_MESSAGE_STATE: int_tlv(STATE_CODES[state], 1),
            }
        return _sm("deliver_sm", part.destination_addr, 1, part.source_addr, 0x04, 0, text, tlvs)

    async def _send_receipt(self, pdu: Pdu, system_id: str) -> None:
        session = self._receiver(system_id)
        if session is None:
            self._undelivered_receipts.append(pdu)  # delivered when a receiver binds again
            return
        try:
            resp = await session.request(pdu)
        except (TimeoutError, ConnectionError):
            self._undelivered_receipts.append(pdu)
            return
        if resp.status != st.ESME_ROK:
            self._undelivered_receipts.append(pdu)


def _sm(
    command: str,
    source: str,
    source_ton: int,
    destination: str,
    esm_class: int,
    data_coding: int,
    message: bytes,
    tlvs: dict[int, bytes],
) -> Pdu:
    return Pdu(
        command,
        0,
        params={
            "service_type": "",
            "source_addr_ton": source_ton,
            "source_addr_npi": 1,
            "source_addr": source,
            "dest_addr_ton": 0,
            "dest_addr_npi": 0,
            "destination_addr": destination,
            "esm_class": esm_class,
            "protocol_id": 0,
            "priority_flag": 0,
            "schedule_delivery_time": "",
            "validity_period": "",
            "registered_delivery": 0,
            "replace_if_present_flag": 0,
            "data_coding": data_coding,
            "sm_default_msg_id": 0,
            "short_message": message,
        },
        tlvs=tlvs,
    )
