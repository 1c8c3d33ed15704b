"""The worker's writes to the tasks it holds, grouped: one transaction for many tasks.

Each task of a busy worker writes twice: the fence right before its create request
(`routing.outbox.begin_sends`) and its outcome after the answer (`finish_values`). Written one
transaction each, the writes, not the wire, set the pace (on SQLite every transaction queues
for the single writer). Here a write is handed to `GroupedWrites` and its caller waits until
it is committed; whatever arrives while a transaction commits goes into the next one. An idle
worker's write goes at once, a busy worker's share a transaction with up to `max_group`
others, and nothing waits for a timer.

A caller is answered only after the commit: a fence that returns has been recorded in the
database before the request leaves, and an outcome that returns is durable. If the
transaction fails, every write in it fails with the same error, as each would have alone:
nothing of it was recorded, so nothing is sent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from routing.outbox import begin_sends, write_many_leased

MAX_GROUP = 64  # writes in one transaction
T = TypeVar("T")


@dataclass
class _Fence:
    task_id: str
    lease_token: str
    done: asyncio.Future[datetime | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class _Write:
    task_id: str
    lease_token: str
    values: dict[str, Any]
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupedWrites:
    """Fences and outcomes of the tasks one worker holds, committed in groups."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        landing: timedelta,
        max_group: int = MAX_GROUP,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._landing = landing
        self._max_group = max_group
        self._fences: list[_Fence] = []
        self._writes: list[_Write] = []
        self._flusher: asyncio.Task[None] | None = None
        self.transactions = 0  # committed or not: what the grouping saves is counted here

    async def fence(self, task_id: str, lease_token: str) -> datetime | None:
        """Record that the task's create request leaves now, if our lease is still held and
        unexpired (`routing.outbox.begin_sends`). Returns the moment recorded as its
        `first_sent_at` (its `send_deadline` is that plus `landing`), or None: the lease is
        lost, send nothing."""
        fence = _Fence(task_id, lease_token)
        self._fences.append(fence)
        self._start()
        return await _answer(fence.done)

    async def write(self, task_id: str, lease_token: str, values: dict[str, Any]) -> bool:
        """Write `values` to a task we hold (`routing.outbox.write_leased`); False if we
        lost it."""
        write = _Write(task_id, lease_token, values)
        self._writes.append(write)
        self._start()
        return await _answer(write.done)

    def _start(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._fences or self._writes:
            fences = self._fences[: self._max_group]
            del self._fences[: len(fences)]
            writes = self._writes[: max(0, self._max_group - len(fences))]
            del self._writes[: len(writes)]
            if not fences and not writes:
                writes = self._writes[:1]  # max_group < 1 must still move on
                del self._writes[:1]
            try:
                answers = await self._commit(fences, writes)
            except BaseException as error:
                failed: list[asyncio.Future[Any]] = [f.done for f in fences]
                failed += [w.done for w in writes]
                for done in failed:
                    if not done.done():
                        done.set_exception(error)
                if not isinstance(error, Exception):
                    raise
                continue
            passed, moment, held = answers
            for fence in fences:
                if not fence.done.done():
                    held_now = (fence.task_id, fence.lease_token) in passed
                    fence.done.set_result(moment if held_now else None)
            for write, ok in zip(writes, held, strict=True):
                if not write.done.done():
                    write.done.set_result(ok)

    async def _commit(
        self, fences: list[_Fence], writes: list[_Write]
    ) -> tuple[set[tuple[str, str]], datetime, list[bool]]:
        self.transactions += 1
        async with self._sessions() as session, session.begin():
            # The fences first: a request waits on them. One moment for the whole group,
            # read right before the statement that checks the leases against it.
            now = self._clock.now()
            passed = await begin_sends(
                session, [(f.task_id, f.lease_token) for f in fences], now=now,
                landed_by=now + self._landing,
            )  # fmt: skip
            # One statement for the outcomes too (`write_many_leased`), rows in task id
            # order as every worker writes them.
            written = await write_many_leased(
                session, [(w.task_id, w.lease_token, w.values) for w in writes]
            )
        return passed, now, [write.task_id in written for write in writes]


async def _answer(done: asyncio.Future[T]) -> T:
    # Shielded: a caller cancelled while its write is in a transaction does not cancel the
    # group's transaction; the outcome of an answer nobody waits for is still retrieved.
    done.add_done_callback(_retrieve)
    return await asyncio.shield(done)


def _retrieve(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()
