"""Per-connection request budgets, shared by the provider clients and the dispatch worker.

One `ConnectionRateLimiter` is built at start-up for each tool and handed to its client and to
the worker, so that every request made for a connection (a person's token) draws from the same
budget: a token bucket refilled at the tool's documented average rate, plus a "hold" that a
429 or an exhausted `X-RateLimit-Remaining` sets until the provider's reset time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from primitives.clock import Clock


@dataclass
class _Bucket:
    tokens: float
    updated: float
    hold_until: float = 0.0


class ConnectionRateLimiter:
    """A token bucket per connection id, with an optional hold set from provider headers.

    `rate` is requests per second on average, `burst` the bucket size. Time comes from the
    injected clock's `monotonic()`, waiting from its `sleep()`.
    """

    def __init__(self, clock: Clock, *, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _bucket(self, key: str) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=self._burst, updated=self._clock.monotonic())
            self._buckets[key] = bucket
        return bucket

    def _refill(self, bucket: _Bucket) -> None:
        now = self._clock.monotonic()
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now

    def delay(self, key: str) -> float:
        """Seconds until a request for `key` may go out (0 when it may go now)."""
        bucket = self._bucket(key)
        self._refill(bucket)
        now = self._clock.monotonic()
        wait_hold = max(0.0, bucket.hold_until - now)
        # The epsilon absorbs float rounding: after sleeping exactly the computed wait, the
        # refill may land a hair under one token, and a wait smaller than the clock's
        # resolution would never move it.
        missing = 1 - bucket.tokens
        wait_tokens = 0.0 if missing <= 1e-6 else missing / self._rate
        return max(wait_hold, wait_tokens)

    async def acquire(self, key: str) -> None:
        """Wait until a request for `key` may go out, then take one token."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            while (wait := self.delay(key)) > 0:
                await self._clock.sleep(wait)
            self._bucket(key).tokens -= 1

    def hold(self, key: str, seconds: float) -> None:
        """Send nothing for `key` for `seconds` (from a 429's Retry-After or a reset header)."""
        bucket = self._bucket(key)
        bucket.hold_until = max(bucket.hold_until, self._clock.monotonic() + max(0.0, seconds))
