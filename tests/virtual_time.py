"""Virtual time for tests that measure how long concurrent work takes, without waiting for it.

`FakeClock` moves time by whatever each sleeper asks, which is right for one task at a time but
adds up the sleeps of tasks that wait side by side. `VirtualTimeLoop` is an asyncio event loop
whose clock moves only when every task is waiting: then it jumps to the next timer instead of
blocking. Concurrency is asyncio's own (tasks, locks, the in-process HTTP of the emulators), and
a two-minute run takes milliseconds. `LoopClock` is that loop's time as our `Clock`, for the
clients and the emulators alike; `run_in_virtual_time(main)` runs a coroutine on such a loop.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")

# Nothing scheduled and nothing to read: a real loop would block for ever. In process that is
# a deadlock; give threads (if any) a real moment, then say so rather than hang the test run.
_REAL_WAIT_BEFORE_DEADLOCK = 5.0


class _SkippingSelector(selectors.DefaultSelector):
    """Polls without blocking; where the loop would wait for a timer, moves time to it."""

    def __init__(self, advance: Callable[[float], None]) -> None:
        super().__init__()
        self._advance = advance

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            ready = super().select(_REAL_WAIT_BEFORE_DEADLOCK)
            if not ready:
                raise RuntimeError("every task waits and no timer is set: a deadlock")
            return ready
        self._advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time, which starts at 0 and moves only while all tasks wait."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_SkippingSelector(self._advance))

    def _advance(self, seconds: float) -> None:
        self._virtual_now += seconds

    def time(self) -> float:
        return self._virtual_now


class LoopClock:
    """The running event loop's time as a `Clock`; wall time starts at `start`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def run_in_virtual_time(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `main()` to its end on a `VirtualTimeLoop`."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main())
