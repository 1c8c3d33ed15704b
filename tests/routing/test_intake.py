"""Intake through the utility: stored first, idempotent, owned, waiting for a connection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import TaskState
from routing.errors import (
    DirectoryUnavailable,
    IdempotencyConflict,
    InvalidInput,
    NotAllowed,
    UnknownOwner,
)
from routing.utility import IntegrationUtility
from storage.models import Meeting, Task
from tests.fakes import FakeClock, RecordingNotifier, StaticDirectory
from tests.meetings import item, meeting
from tests.wiring import MEMBERS, Wiring, wire


@pytest.fixture
def wiring(sessions: async_sessionmaker[AsyncSession], clock: FakeClock) -> Wiring:
    return wire(sessions, clock)  # no tool connected, none even configured


@pytest.fixture
def utility(wiring: Wiring) -> IntegrationUtility:
    return wiring.utility


@pytest.fixture
def notifier(wiring: Wiring) -> RecordingNotifier:
    return wiring.notifier


def planning(**fields: Any) -> dict[str, Any]:
    """Sprint planning, owned by Ana's address: an item for Bo, one for someone outside Slack,
    one without an id."""
    return meeting(
        item(1, title="Draft the release notes", assignee={"slack_user_id": "U2"}),
        item(2, title="Book the venue", assignee={"name": "Dana (agency)"}),
        {"title": "Send the summary", "priority": "high", "due_date": "2026-02-01"},
        **{"meeting_id": "m-42", "title": "Sprint planning", "owner": {"email": "ana@acme.example"},
           **fields},
    )  # fmt: skip


async def count(sessions: async_sessionmaker[AsyncSession], model: type[Any]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_meeting_is_stored_with_one_task_per_item_waiting_for_a_connection(
    utility: IntegrationUtility,
    sessions: async_sessionmaker[AsyncSession],
    notifier: RecordingNotifier,
) -> None:
    result = await utility.process_meeting(planning())
    assert result.created
    assert [item.item_id for item in result.items][:2] == ["a1", "a2"]
    assert [item.owner_user_id for item in result.items] == ["U2", "U1", "U1"]
    assert {item.status for item in result.items} == {TaskState.PENDING_AUTH}
    assert all("connect" in (item.reason or "") for item in result.items)
    async with sessions() as session:
        rows = (await session.scalars(select(Task).order_by(Task.item_id))).all()
    assert len(rows) == 3
    named = next(r for r in rows if r.item_id == "a2")
    assert named.assignee_name == "Dana (agency)"
    # One notification for the whole meeting.
    assert len(notifier.batches) == 1 and len(notifier.batches[0][2]) == 3


async def test_posting_the_same_meeting_again_creates_nothing(
    utility: IntegrationUtility, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await utility.process_meeting(planning())
    again = await utility.process_meeting(planning())
    assert not again.created
    assert {i.task_id for i in again.items} == {i.task_id for i in first.items}
    assert await count(sessions, Task) == 3
    assert await count(sessions, Meeting) == 1


async def test_the_same_meeting_posted_twice_at_once_is_stored_once(
    utility: IntegrationUtility, sessions: async_sessionmaker[AsyncSession]
) -> None:
    results = await asyncio.gather(*(utility.process_meeting(planning()) for _ in range(3)))
    assert len({frozenset(i.task_id for i in r.items) for r in results}) == 1
    assert await count(sessions, Task) == 3


async def test_an_owner_outside_the_workspace_is_refused_and_nothing_is_stored(
    utility: IntegrationUtility, sessions: async_sessionmaker[AsyncSession]
) -> None:
    with pytest.raises(UnknownOwner, match=r"^owner: "):
        await utility.process_meeting(planning(owner={"email": "ghost@else.example"}))
    assert await count(sessions, Task) == 0


async def test_bad_input_names_the_field(utility: IntegrationUtility) -> None:
    with pytest.raises(InvalidInput) as raised:
        await utility.process_meeting(planning(action_items=[{"title": "ok"}, {"title": " "}]))
    assert raised.value.field == "action_items.1.title"


async def test_a_meeting_without_items_is_fine(utility: IntegrationUtility) -> None:
    result = await utility.process_meeting(planning(action_items=[]))
    assert result.items == ()


async def test_create_task_honours_the_idempotency_key(
    utility: IntegrationUtility, sessions: async_sessionmaker[AsyncSession]
) -> None:
    task = {"title": "Renew the certificate", "priority": "urgent"}
    first = await utility.create_task("U1", task, team_id="T1", idempotency_key="k-1")
    again = await utility.create_task("U1", task, team_id="T1", idempotency_key="k-1")
    assert again.task_id == first.task_id
    with pytest.raises(IdempotencyConflict):
        await utility.create_task("U1", {"title": "Other"}, team_id="T1", idempotency_key="k-1")
    racing = await asyncio.gather(
        *(utility.create_task("U1", task, team_id="T1", idempotency_key="k-2") for _ in range(4))
    )
    assert len({r.task_id for r in racing}) == 1
    assert await count(sessions, Task) == 2


async def test_create_task_needs_a_team_and_a_member(utility: IntegrationUtility) -> None:
    with pytest.raises(InvalidInput, match="team_id"):
        await utility.create_task("U1", {"title": "x"})
    with pytest.raises(UnknownOwner, match=r"^user: "):
        await utility.create_task("U404", {"title": "x"}, team_id="T1")


async def test_only_the_owner_may_dismiss(utility: IntegrationUtility) -> None:
    created = await utility.create_task("U1", {"title": "x"}, team_id="T1")
    with pytest.raises(NotAllowed):
        await utility.dismiss_task(created.task_id, user_id="U2")
    dismissed = await utility.dismiss_task(created.task_id, user_id="U1")
    assert dismissed.status is TaskState.DISMISSED
    # Dismissing twice (a double click) changes nothing more.
    assert (await utility.dismiss_task(created.task_id, user_id="U1")).status is TaskState.DISMISSED


async def test_auth_status_counts_pending_tasks(utility: IntegrationUtility) -> None:
    await utility.process_meeting(planning())
    status = await utility.get_auth_status("U1", team_id="T1")
    assert status.pending_tasks_count == 2
    assert not status.can_create_tasks
    assert not status.clickup.connected and not status.notion.connected


class _NoTimeZones(StaticDirectory):
    """Slack knows who is who, but cannot say where they are right now."""

    async def time_zone(self, team_id: str, user_id: str) -> str | None:
        raise DirectoryUnavailable("Slack is rate limiting us", retry_after=3)


async def test_owners_time_zones_are_kept_and_never_block_a_meeting(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    zones = StaticDirectory(MEMBERS, time_zones={"U1": "America/Los_Angeles"})
    await wire(sessions, clock, directory=zones).utility.process_meeting(planning())
    async with sessions() as session:
        kept = {t.owner_user_id: t.owner_time_zone for t in await session.scalars(select(Task))}
    assert kept == {"U1": "America/Los_Angeles", "U2": None}  # Bo's zone is not known
    silent = wire(sessions, clock, directory=_NoTimeZones(MEMBERS)).utility
    result = await silent.process_meeting(planning(meeting_id="m-43"))
    assert len(result.items) == 3  # stored all the same, without zones
