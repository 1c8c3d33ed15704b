"""Status flowing back: `RemoteStatuses.apply` on tasks created in the ClickUp emulator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName, RemoteStatus, TaskState
from providers.base import OAuthTokens, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider
from routing.remote_status import RemoteStatuses
from sandbox.clickup import ClickUpSandbox
from storage.models import Task
from tests.fakes import FakeClock
from tests.meetings import item, meeting
from tests.wiring import Wiring, wire

CLICKUP = ProviderName.CLICKUP
DONE, CLOSED, OPEN = RemoteStatus.DONE, RemoteStatus.CLOSED, RemoteStatus.OPEN


@dataclass(frozen=True)
class Created:
    """A meeting's items created in the emulated ClickUp, and the `RemoteStatuses` to tell."""

    wiring: Wiring
    tasks: list[Task]
    statuses: RemoteStatuses


async def created_meeting(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    world: ClickUpSandbox,
    *items: int,
) -> Created:
    wiring = wire(sessions, clock, {CLICKUP: clickup})
    token = world.issue_token(101, ["9001"])
    account = ProviderAccount(CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),))
    await wiring.utility.connect_completed(team_id="T1", user_id="U1", account=account)
    await wiring.utility.process_meeting(meeting(*(item(n) for n in items)))
    while await wiring.worker.run_once():
        pass
    rows = await tasks(wiring.sessions)
    assert all(r.state is TaskState.CREATED and r.provider_task_id for r in rows)
    statuses = RemoteStatuses(sessions=sessions, notifier=wiring.notifier, clock=clock)
    return Created(wiring, rows, statuses)


async def tasks(sessions: async_sessionmaker[AsyncSession]) -> list[Task]:
    async with sessions() as session:
        return list((await session.scalars(select(Task).order_by(Task.position))).all())


async def test_a_status_is_recorded_once_and_never_regressed_by_older_news(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    clickup_world: ClickUpSandbox,
) -> None:
    created = await created_meeting(sessions, clock, clickup, clickup_world, 1, 2)
    wiring, (first, _second), statuses = created.wiring, created.tasks, created.statuses
    assert first.provider_task_id
    before = len(wiring.notifier.changes)
    at = clock.now()

    assert await statuses.apply(CLICKUP, first.provider_task_id, DONE, at)
    assert not await statuses.apply(CLICKUP, first.provider_task_id, DONE, at)  # a duplicate
    # Older news arriving late (reopened before it was done) changes nothing.
    assert not await statuses.apply(CLICKUP, first.provider_task_id, OPEN, at - timedelta(1))
    rows = await tasks(sessions)
    assert (rows[0].remote_status, rows[0].remote_status_at) == (DONE, at)
    assert rows[1].remote_status is None  # only that task
    [change] = wiring.notifier.changes[before:]  # told once, as the worker tells
    assert (change.task_id, change.remote_status, change.meeting_id) == (
        first.id, DONE, first.meeting_id,
    )  # fmt: skip

    # Newer news wins: closed after done.
    assert await statuses.apply(CLICKUP, first.provider_task_id, CLOSED, at + timedelta(1))
    assert (await tasks(sessions))[0].remote_status is CLOSED


async def test_unknown_other_tool_other_team_or_uncreated_tasks_are_left_alone(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    clickup_world: ClickUpSandbox,
) -> None:
    created = await created_meeting(sessions, clock, clickup, clickup_world, 1)
    wiring, [task], statuses = created.wiring, created.tasks, created.statuses
    assert task.provider_task_id
    before = len(wiring.notifier.changes)
    now = clock.now()
    assert not await statuses.apply(CLICKUP, "no-such-task", DONE, now)
    assert not await statuses.apply(ProviderName.NOTION, task.provider_task_id, DONE, now)
    assert not await statuses.apply(CLICKUP, task.provider_task_id, DONE, now, team_id="T9")
    # Only a created task has a status in a tool (a guard: others have no id there).
    async with sessions() as session, session.begin():
        await session.execute(update(Task).values(state=TaskState.FAILED))
    assert not await statuses.apply(CLICKUP, task.provider_task_id, DONE, now)
    async with sessions() as session, session.begin():
        await session.execute(update(Task).values(state=TaskState.CREATED))
    assert (await tasks(sessions))[0].remote_status is None
    assert len(wiring.notifier.changes) == before
    assert await statuses.apply(CLICKUP, task.provider_task_id, DONE, now, team_id="T1")


async def test_newer_news_of_the_same_status_keeps_an_older_change_from_winning(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    clickup_world: ClickUpSandbox,
) -> None:
    created = await created_meeting(sessions, clock, clickup, clickup_world, 1)
    wiring, [task], statuses = created.wiring, created.tasks, created.statuses
    assert task.provider_task_id
    at = clock.now()
    # Done at t, reopened at t+1, done again at t+2: t+2 arrives before t+1.
    assert await statuses.apply(CLICKUP, task.provider_task_id, DONE, at)
    before = len(wiring.notifier.changes)
    assert not await statuses.apply(CLICKUP, task.provider_task_id, DONE, at + timedelta(2))
    assert not await statuses.apply(CLICKUP, task.provider_task_id, OPEN, at + timedelta(1))
    [row] = await tasks(sessions)
    assert (row.remote_status, row.remote_status_at) == (DONE, at + timedelta(2))
    assert len(wiring.notifier.changes) == before  # nothing to re-render
