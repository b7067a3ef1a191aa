"""Token bucket on a fake clock, and phone number ↔ SMPP address mapping."""

from __future__ import annotations

import pytest

from gateway_sms import addresses
from gateway_sms.ratelimit import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(("rate", "count"), [(10.0, 50), (100.0, 1000), (2.5, 11)])
async def test_token_bucket_holds_the_rate(rate: float, count: int) -> None:
    t = FakeTime()
    bucket = TokenBucket(rate, clock=t.clock, sleep=t.sleep)
    for _ in range(count):
        await bucket.acquire()
    # After the initial burst every token is paid for by waiting: count tokens never take less than this.
    assert t.now == pytest.approx((count - bucket.capacity) / rate)


async def test_token_bucket_zero_rate_never_waits() -> None:
    t = FakeTime()
    bucket = TokenBucket(0, clock=t.clock, sleep=t.sleep)
    for _ in range(1000):
        await bucket.acquire()
    assert t.slept == []


# (E.164 input, expected (ton, npi, digits) or None for invalid)
DESTINATIONS = [
    ("+905321234567", (1, 1, "905321234567")),
    ("+44 7911 123456", (1, 1, "447911123456")),
    ("+90532", None),
    ("05321234567", None),  # not E.164: callers normalise first
    ("", None),
]


@pytest.mark.parametrize(("e164", "want"), DESTINATIONS)
def test_destination(e164: str, want: tuple[int, int, str] | None) -> None:
    if want is None:
        with pytest.raises(addresses.InvalidAddress):
            addresses.destination(e164)
    else:
        assert addresses.destination(e164) == want


@pytest.mark.parametrize(
    ("sender", "want"),
    [
        ("MUHTAR", (5, 0, "MUHTAR")),
        ("MIGM2026", (5, 0, "MIGM2026")),
        ("905321234567", (1, 1, "905321234567")),
        ("4567", (0, 1, "4567")),
    ],
)
def test_source(sender: str, want: tuple[int, int, str]) -> None:
    assert addresses.source(sender) == want


# (address, ton, E.164 or the address unchanged)
MO_SOURCES = [
    ("905321234567", 1, "+905321234567"),
    ("05321234567", 0, "+905321234567"),
    ("5321234567", 2, "+905321234567"),
    ("TURKCELL", 5, "TURKCELL"),
    ("12", 0, "12"),
]


@pytest.mark.parametrize(("address", "ton", "want"), MO_SOURCES)
def test_to_e164(address: str, ton: int, want: str) -> None:
    assert addresses.to_e164(address, ton) == want
