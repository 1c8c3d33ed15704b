"""Per-connection request budgets, shared by every request a provider client sends.

One `ConnectionRateLimiter` is built at start-up for each tool and handed to its client, so
that every request made for a connection (a person's token) draws from the same budget. For
each connection it keeps:

- a token bucket refilled at `rate` requests a second, holding at most `burst`: the pace we
  keep on our own. Set it a little under the tool's documented average: the provider counts on
  its own clock, requests reach it with jitter, and a pace of exactly its average leaves no
  room for either;
- a hold: nothing is sent before a 429's Retry-After has passed, and the bucket starts again
  from empty, since a 429 says the provider's own allowance is spent;
- a window, for a tool that counts requests per window and says so in every answer (ClickUp:
  `X-RateLimit-Limit`, `-Remaining`, `-Reset` in unix seconds). At most the requests it says
  are left are sent before the window resets, less those still on their way that it had not
  counted yet; the window is taken to reset `reset_margin` after the announced reset, because
  the reset is given in whole seconds and a request sent at the announced second may still be
  counted in the old window; then `limit` more may go (before any answer of the new window has
  said otherwise).

Each request holds a ticket from `acquire` until `release`, so an answer can tell which
requests went out after it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from primitives.clock import Clock

# A reset announced in whole seconds may be up to a second later than the second it names.
RESET_MARGIN = 1.0


@dataclass
class _Window:
    limit: int  # requests the provider allows per window
    left: int  # requests we may still send before `ends`
    ends: float  # monotonic: when we take the window to have reset (margin included)
    reset: float | None  # the provider's announced reset (unix seconds); None until one says


@dataclass
class _Budget:
    tokens: float
    updated: float
    hold_until: float = 0.0
    window: _Window | None = None
    in_flight: set[int] = field(default_factory=set)
    next_ticket: int = 0


class ConnectionRateLimiter:
    """Budgets per connection id: a token bucket, holds, and provider-announced windows.

    `rate` is requests per second on average, `burst` the bucket size, `window` the length of
    the provider's counting window in seconds (ClickUp: a minute), used only until an answer
    announces the next reset. Time comes from the injected clock's `monotonic()`, waiting from
    its `sleep()`.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        rate: float,
        burst: float,
        window: float = 60.0,
        reset_margin: float = RESET_MARGIN,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._window = window
        self._margin = reset_margin
        self._budgets: dict[str, _Budget] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _budget(self, key: str) -> _Budget:
        budget = self._budgets.get(key)
        if budget is None:
            budget = _Budget(tokens=self._burst, updated=self._clock.monotonic())
            self._budgets[key] = budget
        return budget

    def _refill(self, budget: _Budget) -> None:
        now = self._clock.monotonic()
        budget.tokens = min(self._burst, budget.tokens + (now - budget.updated) * self._rate)
        budget.updated = now

    def delay(self, key: str) -> float:
        """Seconds until a request for `key` may go out (0 when it may go now)."""
        budget = self._budget(key)
        self._refill(budget)
        now = self._clock.monotonic()
        wait_hold = max(0.0, budget.hold_until - now)
        # The epsilon absorbs float rounding: after sleeping exactly the computed wait, the
        # refill may land a hair under one token, and a wait smaller than the clock's
        # resolution would never move it.
        missing = 1 - budget.tokens
        wait_tokens = 0.0 if missing <= 1e-6 else missing / self._rate
        wait_window = 0.0
        window = budget.window
        if window is not None:
            if now >= window.ends:
                # The provider's window has reset: a fresh allowance, until an answer of the
                # new window says when that one resets.
                window.left = window.limit
                window.ends = now + self._window + self._margin
                window.reset = None
            if window.left <= 0:
                wait_window = window.ends - now
        return max(wait_hold, wait_tokens, wait_window)

    def idle(self, key: str) -> bool:
        """Whether `key`'s budget is untouched for now: no hold, nothing in flight, the bucket
        full and, where the provider counts a window, at least half of it left. A request sent
        only then (a background poll) never makes a task wait more than one request's pace."""
        budget = self._budget(key)
        if self.delay(key) > 0 or budget.in_flight:
            return False
        if budget.tokens < self._burst - 1e-6:
            return False
        window = budget.window
        return window is None or window.left * 2 >= window.limit

    async def acquire(self, key: str) -> int:
        """Wait until a request for `key` may go out, take its share of the budget, and return
        its ticket; `release` it once the answer (or the failure) is in."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            while (wait := self.delay(key)) > 0:
                await self._clock.sleep(wait)
            budget = self._budget(key)
            budget.tokens -= 1
            if budget.window is not None:
                budget.window.left -= 1
            ticket = budget.next_ticket
            budget.next_ticket += 1
            budget.in_flight.add(ticket)
            return ticket

    def release(self, key: str, ticket: int) -> None:
        """The request of `ticket` is over (answered or failed)."""
        self._budget(key).in_flight.discard(ticket)

    def hold(self, key: str, seconds: float) -> None:
        """Send nothing for `key` for `seconds` (a 429's Retry-After, or its reset), then start
        again from an empty bucket: one request at the end of the hold, the next at `rate`."""
        budget = self._budget(key)
        self._refill(budget)
        seconds = max(0.0, seconds)
        budget.hold_until = max(budget.hold_until, self._clock.monotonic() + seconds)
        budget.tokens = min(budget.tokens, 1 - seconds * self._rate)

    def note_window(
        self, key: str, ticket: int, *, limit: int, remaining: int, reset: float, now: float
    ) -> None:
        """What the answer to `ticket` said of the provider's window: `limit` per window,
        `remaining` left in it, resetting at `reset` (unix seconds; `now` is unix seconds too).

        Requests sent after `ticket` and not answered yet may not have been counted in
        `remaining`, so they are taken off it. An answer from a window already over (an older
        `reset`) says nothing about this one.
        """
        budget = self._budget(key)
        later = sum(1 for other in budget.in_flight if other > ticket)
        left = remaining - later
        ends = self._clock.monotonic() + max(0.0, reset - now) + self._margin
        window = budget.window
        if window is None or window.reset is None or reset > window.reset:
            budget.window = _Window(limit=limit, left=left, ends=ends, reset=reset)
        elif reset == window.reset:
            window.limit = limit
            window.left = min(window.left, left)
