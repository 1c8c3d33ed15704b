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


async def test_a_window_the_provider_announces_is_kept_to_with_a_margin(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=100, burst=100, window=60)
    now = clock.now().timestamp()
    first = await limiter.acquire("con_a")
    # 3 a window, 2 left, the reset announced in whole seconds: 30.4 s from now says 30.
    limiter.note_window("con_a", first, limit=3, remaining=2, reset=int(now + 30.4), now=now)
    limiter.release("con_a", first)
    for _ in range(2):
        limiter.release("con_a", await limiter.acquire("con_a"))
    assert clock.slept == []
    assert limiter.delay("con_a") == pytest.approx(31.0)  # the announced reset, a second more
    limiter.release("con_a", await limiter.acquire("con_a"))
    assert clock.slept == [pytest.approx(31.0)]
    # A fresh window: three may go before any answer of it says otherwise.
    for _ in range(2):
        limiter.release("con_a", await limiter.acquire("con_a"))
    assert limiter.delay("con_a") == pytest.approx(61.0)


async def test_requests_still_on_their_way_are_taken_off_what_is_left(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=100, burst=100)
    now = clock.now().timestamp()
    tickets = [await limiter.acquire("con_a") for _ in range(4)]
    # The first answer says 3 are left, but three more requests were sent after it: none is.
    limiter.note_window("con_a", tickets[0], limit=4, remaining=3, reset=now + 60, now=now)
    assert limiter.delay("con_a") == pytest.approx(61.0)
    # Another process spending the same token shows in a lower `remaining`, never a higher one.
    limiter.note_window("con_a", tickets[3], limit=4, remaining=2, reset=now + 60, now=now)
    assert limiter.delay("con_a") == pytest.approx(61.0)


async def test_an_answer_from_a_window_already_over_changes_nothing(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=100, burst=100)
    now = clock.now().timestamp()
    old, new = await limiter.acquire("con_a"), await limiter.acquire("con_a")
    limiter.note_window("con_a", new, limit=100, remaining=50, reset=now + 60, now=now)
    limiter.note_window("con_a", old, limit=100, remaining=0, reset=now - 1, now=now)
    assert limiter.delay("con_a") == 0


async def test_after_a_hold_the_bucket_starts_again_from_empty(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=2, burst=10)
    limiter.hold("con_a", 3)
    await limiter.acquire("con_a")  # at the end of the hold: one request...
    await limiter.acquire("con_a")  # ...then at the connection's pace, not a burst of ten
    assert clock.slept == [pytest.approx(3.0), pytest.approx(0.5)]
