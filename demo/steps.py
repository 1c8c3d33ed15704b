"""How a step of the story ends: it happens (`wait_for` what a person would see), or the demo
fails with a `DemoFailure` saying which step and what was seen instead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class DemoFailure(Exception):
    """A step of the story did not go as a person would see it; `str(error)` says which."""


async def wait_for(
    what: str, probe: Callable[[], Awaitable[T | None]], *, within: float = 20.0
) -> T:
    """What `probe()` answers once it is not None, asked every 20 ms; a `DemoFailure` naming
    `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise DemoFailure(f"gave up after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


def seen(look: Callable[[], T | None]) -> Callable[[], Awaitable[T | None]]:
    """`look` (a glance at the emulators' state) as a probe for `wait_for`."""

    async def probe() -> T | None:
        return look()

    return probe
