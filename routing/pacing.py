"""Waiting between two rounds of a background loop, on the injected clock.

    while not stop.is_set():
        ...one round...
        await pause(clock, every, stop)

`clock.sleep` is the system's in production and a test's fake clock in tests (which returns
at once, moving time on), so a loop is paced the same way whatever runs it, and `stop` ends
the wait at once.
"""

from __future__ import annotations

import asyncio

from primitives.clock import Clock


async def pause(clock: Clock, seconds: float, stop: asyncio.Event) -> None:
    """Sleep `seconds` on `clock`, or until `stop` is set."""
    sleeping = asyncio.ensure_future(clock.sleep(seconds))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in (sleeping, stopping):
            waiting.cancel()
        await asyncio.gather(sleeping, stopping, return_exceptions=True)
