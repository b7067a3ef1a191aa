"""Concatenated MO reassembly and MO redelivery de-duplication, in memory, bounded.

Parts are acknowledged to the SMSC as they arrive (an SMSC that waits for each deliver_sm_resp before the
next part would otherwise deadlock); the whole message is published once the last part is in. Incomplete
messages expire after ``ttl_s``; a redelivered part replaces the stored one.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from gateway_sms.pdus.mo import Fragment

MAX_PENDING = 10_000


@dataclass(frozen=True)
class MoMessage:
    mo_id: str  # stable for SMSC redeliveries seen by this process (see Deduper)
    source_addr: str
    source_ton: int
    destination_addr: str
    data_coding: int
    text: str


def content_key(source: str, destination: str, text: str) -> str:
    return hashlib.sha256(f"{source}\x00{destination}\x00{text}".encode()).hexdigest()[:32]


class Reassembler:
    def __init__(self, ttl_s: float = 600.0, max_pending: int = MAX_PENDING) -> None:
        self._ttl_s = ttl_s
        self._max = max_pending
        # (source, destination, ref, total) -> (first seen, {seq: fragment})
        self._pending: OrderedDict[tuple[str, str, int, int], tuple[float, dict[int, Fragment]]] = (
            OrderedDict()
        )

    def add(self, fragment: Fragment, now: float) -> list[Fragment] | None:
        """The complete ordered parts once ``fragment`` completes a message; None while parts are missing."""
        self._expire(now)
        c = fragment.concat
        if c is None or c.total <= 1:
            return [fragment]
        key = (fragment.source_addr, fragment.destination_addr, c.ref, c.total)
        first_seen, parts = self._pending.get(key, (now, {}))
        parts[c.seq] = fragment
        if len(parts) == c.total:
            self._pending.pop(key, None)
            return [parts[i] for i in range(1, c.total + 1)]
        self._pending[key] = (first_seen, parts)
        while len(self._pending) > self._max:
            self._pending.popitem(last=False)
        return None

    def restore(self, parts: list[Fragment], now: float) -> None:
        """Put a completed message's parts back (its publish failed; the SMSC will redeliver a part)."""
        c = parts[0].concat
        if c is None or c.total <= 1:
            return
        key = (parts[0].source_addr, parts[0].destination_addr, c.ref, c.total)
        self._pending[key] = (now, {p.concat.seq: p for p in parts if p.concat is not None})

    def _expire(self, now: float) -> None:
        while self._pending:
            key, (first_seen, _) = next(iter(self._pending.items()))
            if now - first_seen < self._ttl_s:
                break
            self._pending.popitem(last=False)

    @property
    def pending(self) -> int:
        return len(self._pending)


class Deduper:
    """Remembers MO messages already published, by content, for ``window_s``.

    A redelivery (the SMSC did not get our deliver_sm_resp) within the window is answered OK and not
    published again; it also gets the same ``mo_id`` so the workflow's own idempotency catches the rest.
    """

    def __init__(self, window_s: float = 900.0, max_entries: int = 100_000) -> None:
        self._window_s = window_s
        self._max = max_entries
        self._seen: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def mo_id(self, key: str, now: float) -> tuple[str, bool]:
        """(mo_id, already published?) for content ``key``."""
        self._expire(now)
        hit = self._seen.get(key)
        if hit is not None:
            return hit[1], True
        return hashlib.sha256(f"{key}:{now:.6f}".encode()).hexdigest()[:32], False

    def remember(self, key: str, mo_id: str, now: float) -> None:
        self._seen[key] = (now, mo_id)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self._seen:
            _, (at, _) = next(iter(self._seen.items()))
            if now - at < self._window_s:
                break
            self._seen.popitem(last=False)
