"""The per-connection budget: a token bucket plus holds set from provider headers."""

from __future__ import annotations

import asyncio

import pytest

from providers.ratelimit import ConnectionRateLimiter
from tests.fakes import FakeClock


async def test_a_burst_goes_out_then_requests_are_spaced_by_the_rate(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=3, burst=3)
    for _ in range(3):
        await limiter.acquire("con_a")
    assert clock.slept == []
    await limiter.acquire("con_a")
    assert clock.slept == [pytest.approx(1 / 3)]


async def test_connections_do_not_share_a_budget(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=1, burst=1)
    await limiter.acquire("con_a")
    await limiter.acquire("con_b")
    assert clock.slept == []
    assert limiter.delay("con_a") == pytest.approx(1.0)
    assert limiter.delay("con_b") == pytest.approx(1.0)


async def test_a_hold_from_a_429_delays_only_that_connection(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=100, burst=100)
    limiter.hold("con_a", 30)
    limiter.hold("con_a", 5)  # a shorter hold never shortens a longer one
    assert limiter.delay("con_a") == pytest.approx(30)
    assert limiter.delay("con_b") == 0
    await limiter.acquire("con_a")
    assert sum(clock.slept) == pytest.approx(30)


async def test_concurrent_callers_queue_fairly(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=2, burst=1)
    await asyncio.gather(*(limiter.acquire("con_a") for _ in range(5)))
    assert sum(clock.slept) == pytest.approx(2.0)  # 4 more requests at 2/s


def test_a_nonsense_budget_is_refused(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="rate"):
        ConnectionRateLimiter(clock, rate=0, burst=1)
