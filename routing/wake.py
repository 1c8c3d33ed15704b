"""Waking the dispatch worker when tasks become due, without busy polling.

Within one process an `asyncio.Event` is enough. With several processes on PostgreSQL, a
`NOTIFY scrumy_tasks` reaches every worker's `LISTEN`. Either way the worker also polls every
few seconds, so a lost wake-up only delays a task, never strands it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from sqlalchemy.engine import make_url

CHANNEL = "scrumy_tasks"

log = logging.getLogger(__name__)


class WakeSignal(Protocol):
    def notify(self) -> None:
        """Tell every worker that tasks are due."""
        ...

    async def wait(self, seconds: float) -> None:
        """Return when notified, or after `seconds`."""
        ...


class LocalWakeSignal:
    """Wake-ups within one process."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()


class PostgresWakeSignal(LocalWakeSignal):
    """Wake-ups across processes with PostgreSQL LISTEN/NOTIFY on one dedicated connection."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._connection: Any = None
        self._pending: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        import asyncpg

        self._connection = await asyncpg.connect(self._dsn)
        await self._connection.add_listener(CHANNEL, self._on_notify)

    def _on_notify(self, *_: object) -> None:
        LocalWakeSignal.notify(self)

    def notify(self) -> None:
        super().notify()
        if self._connection is None:
            return
        task = asyncio.get_running_loop().create_task(self._send())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self) -> None:
        try:
            await self._connection.execute(f"NOTIFY {CHANNEL}")
        except Exception:  # the poll fallback covers a lost wake-up
            log.warning("could not send a wake-up to other workers", exc_info=True)

    async def close(self) -> None:
        for task in list(self._pending):
            with contextlib.suppress(Exception):
                await task
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
