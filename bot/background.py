"""Work done after answering: the notifier's (`Background`: kept, awaited on demand, cancelled
at shutdown, and never failing silently), and the listeners' after their ack (`AckGate`: after
the acks of the requests still waiting for theirs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    """The tasks a notifier started and that have not finished yet."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(self._logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def idle(self) -> None:
        """Wait until every task has finished, the ones they start included."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            # Slack or the database failing must not undo or repeat work already stored.
            log.exception("a Slack notification failed")


class AckGate:
    """The Slack requests not answered yet, so that work after an ack lets them go first.

    A burst of interactions (50 at once) shares one event loop: if each listener's work after
    its ack (opening a modal, storing a task, posting a message) ran as soon as it acked, the
    later acks would wait behind it. `after_acks` waits until no request is left unanswered —
    at most `most` seconds, so nothing starves and a modal's trigger (3 s) is still valid.
    """

    def __init__(self, *, most: float = 0.5) -> None:
        self._most = most
        self._pending = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @property
    def pending(self) -> int:
        return self._pending

    def arrived(self) -> None:
        self._pending += 1
        self._quiet.clear()

    def answered(self) -> None:
        self._pending = max(0, self._pending - 1)
        if self._pending == 0:
            self._quiet.set()

    async def after_acks(self) -> None:
        """Return once every request that arrived is answered, or after `most` seconds."""
        if self._pending == 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), self._most)
