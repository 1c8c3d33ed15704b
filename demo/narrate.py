"""The demo's log: one short line per thing a person would notice, timed from the start.

Progress, not debugging: library and app loggers are kept quiet (`quiet_libraries`) unless
the demo runs with `--verbose`, and everything goes through `Narrator.say`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

NOISY = ("slack_bolt", "slack_sdk", "uvicorn", "httpx", "aiohttp", "asyncio", "alembic")


def quiet_libraries(verbose: bool) -> None:
    """Show the app's and the libraries' own logs only with `verbose`; errors always."""
    level = logging.INFO if verbose else logging.ERROR
    logging.getLogger().setLevel(level)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING if verbose else logging.CRITICAL)


class Narrator:
    """Prints `  1.23s  what happened` lines through `echo`, timed from its creation."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self._echo = echo
        self._start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def say(self, text: str) -> None:
        self._echo(f"{self.elapsed:6.2f}s  {text}")

    def detail(self, text: str) -> None:
        """A line under the one before, not timed."""
        self._echo(f"{'':9}{text}")

    def plain(self, text: str = "") -> None:
        self._echo(text)
