"""The clock every time-dependent piece of Scrumy Tasks is given.

Nothing reads the system time directly: the composition root builds a `SystemClock` and passes
it down; tests pass a fake clock whose `sleep` advances time instantly, so no test waits.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Wall time (timezone-aware UTC), a monotonic counter and an awaitable sleep."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
