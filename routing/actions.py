"""A person acting on one of their tasks: choosing its tool, retrying it, dismissing it.

Only the task's owner may act (`NotAllowed` for anyone else). Every action is a guarded move
(`routing.outbox.move_task`), so a double click, or two people at once, changes a task once;
the second click gets the task as the first one left it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, TaskState
from routing.errors import NotAllowed, TaskNotFound
from routing.outbox import TaskUpdate, move_task
from routing.owner_context import OwnerRouter, routable
from routing.results import Results, TaskResult
from storage.models import Task

S = TaskState
# What a person may dismiss: anything not yet created (a task being sent cannot be stopped).
DISMISSABLE = (S.PENDING_AUTH, S.AWAITING_CHOICE, S.REVIEW, S.QUEUED, S.RETRYING, S.FAILED)


class TaskActions:
    """What the owner of a task can do to it."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        router: OwnerRouter,
        results: Results,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._router = router
        self._results = results

    async def get(self, task_id: str, *, team_id: str) -> TaskResult | None:
        """The task, or None when there is none with this id in `team_id`."""
        row = await task_in_team(self._sessions, task_id, team_id)
        return None if row is None else self._results.of(row)

    async def choose(self, task_id: str, *, user_id: str, provider: ProviderName) -> TaskResult:
        """The owner picked a tool for an `awaiting_choice` task."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await owned_task(session, task_id, user_id)
            if row.state is not S.AWAITING_CHOICE:
                return self._results.of(row)  # a double click: the first one counted
            context = await self._router.context(session, team_id=row.team_id, user_id=user_id)
            decision = await self._router.decide_choice(routable(row), context, provider)
            await move_task(
                session, row, decision.state, TaskUpdate.of(decision), now=now,
                only_from=[S.AWAITING_CHOICE],
            )  # fmt: skip
        await self._results.publish([row])
        return self._results.of(row)

    async def retry(self, task_id: str, *, user_id: str) -> TaskResult:
        """Queue a `failed` task again (after the owner fixed what its reason said), with its
        attempts counted afresh."""
        return await self._move(task_id, user_id, S.QUEUED, [S.FAILED], TaskUpdate(attempts=0))

    async def dismiss(self, task_id: str, *, user_id: str) -> TaskResult:
        """The owner does not want this task created."""
        return await self._move(task_id, user_id, S.DISMISSED, DISMISSABLE)

    async def _move(
        self,
        task_id: str,
        user_id: str,
        target: TaskState,
        sources: Sequence[TaskState],
        change: TaskUpdate | None = None,
    ) -> TaskResult:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await owned_task(session, task_id, user_id)
            await move_task(session, row, target, change, now=now, only_from=sources)
        await self._results.publish([row])
        return self._results.of(row)


async def owned_task(session: AsyncSession, task_id: str, user_id: str) -> Task:
    """The task `task_id`, loaded to change it: `TaskNotFound` when there is none,
    `NotAllowed` when `user_id` does not own it (only the owner acts on a task)."""
    row = await session.get(Task, task_id)
    if row is None:
        raise TaskNotFound(task_id)
    if row.owner_user_id != user_id:
        raise NotAllowed(task_id)
    return row


async def task_in_team(
    sessions: async_sessionmaker[AsyncSession], task_id: str, team_id: str
) -> Task | None:
    """The task `task_id` of Slack workspace `team_id`, None when it has none by that id."""
    async with sessions() as session:
        row = await session.get(Task, task_id)
    return row if row is not None and row.team_id == team_id else None
