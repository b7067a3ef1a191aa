"""A short-lived, per-process memory of sessions already checked against ``web_sessions``.

Without it every page pays one more database round trip (the list page three instead of two). An entry is
trusted for ``CHECK_EVERY`` (5 s); idle and absolute expiry are still computed on every request from the
remembered times. Log-out and expiry in this process forget the entry at once; a session ended by another
process (log-out there, an administrator's "end all sessions") is noticed here within ``CHECK_EVERY``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

CHECK_EVERY: Final = timedelta(seconds=5)
MAX_ENTRIES: Final = 20_000


@dataclass
class Entry:
    kind: str
    subject_id: str
    created_at: datetime
    last_seen_at: datetime
    checked_at: datetime


class SessionCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    def get(self, token_hash: str, now: datetime) -> Entry | None:
        entry = self._entries.get(token_hash)
        if entry is None or now - entry.checked_at >= CHECK_EVERY or now < entry.checked_at:
            return None
        return entry

    def put(self, token_hash: str, entry: Entry) -> None:
        self._entries[token_hash] = entry
        self._entries.move_to_end(token_hash)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def forget(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)

    def forget_subject(self, kind: str, subject_id: str) -> None:
        for key in [k for k, e in self._entries.items() if e.kind == kind and e.subject_id == subject_id]:
            del self._entries[key]
