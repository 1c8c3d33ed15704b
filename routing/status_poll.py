"""The status poll: where no webhook can reach us (a local run, a firewall), created tasks are
read from their tools now and then, so their lines in Slack stay true (docs/routing.md).

Every `every` seconds, for each tool, up to `batch` created tasks that the tool has not said
are deleted (open, done or closed — either can be reopened — or never heard of) are read,
the least recently checked first (`tasks.status_checked_at`, never checked first), and what is
read goes through `RemoteStatuses.apply` like a webhook's news, with the tool's time of the
last change (`TaskStatus.edited_at`), so a poll never overrides fresher news.

It stays a small share of each tool's rate limit and never delays a task's creation: at most
`per_connection` reads per connection and pass, and a read goes out only when that connection's
budget is idle (`spare_only`: nothing in flight, its bucket full, half of a ClickUp window
left) — so in practice one read per connection and pass, since a read leaves the bucket short
of full for a moment; a busy connection is skipped and its tasks come first in the next pass.
Tasks whose owner has no usable connection (none, or one that needs reconnecting) are skipped
and moved to the back of the line. With the defaults (a pass every 300 s, one read per
connection) a connection spends at most 2 requests per 5 minutes on it (a Notion page, and now
and then its data source's schema): 0.2% of Notion's 3 a second, 0.4% of ClickUp's lowest plan
(100 a minute).

The worker's process runs `keep_polling` beside the worker, on the injected clock; STATUS_POLL_*
settings turn it off or change its pace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, RemoteStatus, TaskState
from routing.pacing import pause
from routing.remote_status import RemoteStatuses
from routing.status_reads import StatusReader
from storage.connections import StoredConnection
from storage.engine import unreachable
from storage.models import Task

log = logging.getLogger(__name__)

# The statuses a task can leave: a done or closed ClickUp task can be moved back to an open
# status, a done Notion page reopened. Deleted is left alone (a read would be a 404 each pass).
STILL_MOVING = (RemoteStatus.OPEN, RemoteStatus.DONE, RemoteStatus.CLOSED)


@dataclass(frozen=True)
class StatusPollConfig:
    enabled: bool = True
    every: float = 300.0  # seconds between two passes
    batch: int = 20  # tasks read per tool and pass, at most
    per_connection: int = 1  # reads per connection and pass, at most

    def __post_init__(self) -> None:
        if self.every <= 0 or self.batch < 1 or self.per_connection < 1:
            raise ValueError("the poll's interval, batch and per-connection reads must be > 0")


class StatusPoll:
    """See the module docstring; one per worker process."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        reader: StatusReader,
        statuses: RemoteStatuses,
        tools: Collection[ProviderName],
        config: StatusPollConfig | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._reader = reader
        self._statuses = statuses
        self._tools = tuple(tools)
        self.config = config or StatusPollConfig()

    async def keep_polling(self, stop: asyncio.Event) -> None:
        """A pass every `every` seconds on the clock, until `stop` is set; nothing when the
        poll is turned off. A failed pass is logged and the next one comes as planned."""
        if not self.config.enabled or not self._tools:
            return
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception as error:
                if not unreachable(error):
                    log.exception("the status poll failed; trying again next pass")
            await pause(self._clock, self.config.every, stop)

    async def poll_once(self) -> int:
        """One pass over every tool; how many tasks were read."""
        read = 0
        for tool in self._tools:
            read += await self._poll_tool(tool)
        return read

    async def _poll_tool(self, tool: ProviderName) -> int:
        tasks = await self._due(tool)
        connections: dict[tuple[str, str], StoredConnection | None] = {}
        reads: dict[tuple[str, str], int] = {}
        passed: list[str] = []  # checked, or skipped for good reason: to the back of the line
        read = 0
        for task in tasks:
            owner = (task.team_id, task.owner_user_id)
            if owner not in connections:
                connections[owner] = await self._reader.connection(tool, *owner)
            connection = connections[owner]
            if connection is None:
                passed.append(task.id)
                continue
            if reads.get(owner, 0) >= self.config.per_connection:
                continue  # this connection's share of the pass is spent: first next time
            assert task.provider_task_id is not None
            result = await self._reader.read(connection, task.provider_task_id, spare_only=True)
            if result.busy:
                reads[owner] = self.config.per_connection  # busy: leave it alone this pass
                continue
            reads[owner] = reads.get(owner, 0) + 1
            read += 1
            passed.append(task.id)
            status = result.status
            if status is None or status.status is None:
                continue
            if status.status is RemoteStatus.OPEN and task.remote_status is None:
                continue  # open, as every line shows it: no news, no message update
            await self._statuses.apply(
                tool, task.provider_task_id, status.status,
                status.edited_at or self._clock.now(), team_id=task.team_id,
            )  # fmt: skip
        await self._checked(passed, self._clock.now())
        if read:
            log.debug("status poll: read %d %s task(s)", read, tool.label)
        return read

    async def _due(self, tool: ProviderName) -> list[Task]:
        """Up to `batch` tasks of `tool` to read, the least recently checked first, at most
        `per_connection` per owner: one person's many tasks never hold up everyone else's."""
        oldest_first = (Task.status_checked_at.asc().nulls_first(), Task.id)
        ranked = (
            select(
                Task.id.label("id"),
                func.row_number()
                .over(partition_by=(Task.team_id, Task.owner_user_id), order_by=oldest_first)
                .label("place"),
            )
            .where(
                Task.state == TaskState.CREATED,
                Task.provider == tool,
                Task.provider_task_id.is_not(None),
                or_(Task.remote_status.is_(None), Task.remote_status.in_(STILL_MOVING)),
            )
            .subquery()
        )
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Task)
                .join(ranked, ranked.c.id == Task.id)
                .where(ranked.c.place <= self.config.per_connection)
                .order_by(*oldest_first)
                .limit(self.config.batch)
            )
            return list(rows.all())

    async def _checked(self, task_ids: list[str], now: datetime) -> None:
        if not task_ids:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Task)
                .where(Task.id.in_(task_ids))
                .values(status_checked_at=now)
                .execution_options(synchronize_session=False)
            )
