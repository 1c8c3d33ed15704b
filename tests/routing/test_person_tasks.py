"""A person's own tasks as the Home tab and `/tasks pending` read them (`tasks_of`)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import TaskState
from routing.results import FINISHED_STATES, WAITING_STATES
from routing.utility import IntegrationUtility
from tests.fakes import FakeClock
from tests.meetings import item, meeting
from tests.wiring import TEAM, Wiring, wire


@pytest.fixture
def wiring(sessions: async_sessionmaker[AsyncSession], clock: FakeClock) -> Wiring:
    return wire(sessions, clock)  # no tool: every task waits for a connection


@pytest.fixture
def utility(wiring: Wiring) -> IntegrationUtility:
    return wiring.utility


async def test_waiting_tasks_come_oldest_first_with_the_count_of_all(
    utility: IntegrationUtility, clock: FakeClock
) -> None:
    for n in range(1, 6):
        await utility.create_task("U1", {"title": f"Task {n}"}, team_id=TEAM)
        clock.advance(60)
    await utility.create_task("U2", {"title": "Bo's own"}, team_id=TEAM)

    page = await utility.tasks_of("U1", team_id=TEAM, states=WAITING_STATES, limit=3)

    assert [t.title for t in page.tasks] == ["Task 1", "Task 2", "Task 3"]
    assert page.total == 5
    assert {t.owner_user_id for t in page.tasks} == {"U1"}
    assert {t.status for t in page.tasks} == {TaskState.PENDING_AUTH}


async def test_recent_tasks_come_most_recently_changed_first(
    utility: IntegrationUtility, clock: FakeClock
) -> None:
    await utility.process_meeting(meeting(item(1), item(2), item(3), team_id=TEAM))
    waiting = await utility.tasks_of("U1", team_id=TEAM, states=WAITING_STATES)
    first, second, third = waiting.tasks
    clock.advance(60)
    await utility.dismiss_task(second.task_id, user_id="U1")
    clock.advance(60)
    await utility.dismiss_task(first.task_id, user_id="U1")

    recent = await utility.tasks_of(
        "U1", team_id=TEAM, states=FINISHED_STATES, limit=10, newest_first=True
    )
    still = await utility.tasks_of("U1", team_id=TEAM, states=WAITING_STATES)

    assert [t.task_id for t in recent.tasks] == [first.task_id, second.task_id]
    assert recent.total == 2
    assert [t.task_id for t in still.tasks] == [third.task_id]


async def test_another_team_and_another_person_see_nothing_of_it(
    utility: IntegrationUtility,
) -> None:
    await utility.create_task("U1", {"title": "Mine"}, team_id=TEAM)

    theirs = await utility.tasks_of("U2", team_id=TEAM, states=WAITING_STATES)
    elsewhere = await utility.tasks_of("U1", team_id="T2", states=WAITING_STATES)

    assert (theirs.tasks, theirs.total) == ((), 0)
    assert (elsewhere.tasks, elsewhere.total) == ((), 0)
