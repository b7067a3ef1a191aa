"""A token bucket for the SMSC contract's messages per second (asyncio, clock injectable)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """``acquire()`` waits until a token is free. ``rate`` 0 means no limit.

    Burst is kept small (a twentieth of a second's worth, at least one token) so that the rate holds over
    any window an operator measures, not just on average.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sleep = sleep
        self.rate = rate
        self.capacity = max(1.0, rate / 20)
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:  # waiters are served in order
            self._refill()
            if self._tokens < 1.0:
                await self._sleep((1.0 - self._tokens) / self.rate)
                self._refill()
                # The wait paid for this token; rounding must not make us wait again for a hair's breadth.
                self._tokens = max(self._tokens, 1.0)
            self._tokens -= 1.0
