"""Review before creating (`routing.review`), through the worker and the ClickUp and Notion
emulators: nothing is sent before the owner says so, an edited item is created once with its
edited values, a dismissed one sends nothing, and a forgotten review is reminded of once."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import Priority, ProviderName, TaskState
from providers.base import OAuthTokens, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider
from providers.notion import NotionProvider
from routing.errors import InvalidInput, NotAllowed
from routing.results import WAITING_STATES
from routing.review import REMIND_SWEEP_SECONDS, ReviewEdit
from sandbox.clickup import ClickUpSandbox
from sandbox.notion import NotionSandbox
from storage.models import ReviewMessage, Task
from tests.fakes import FakeClock
from tests.meetings import item, meeting
from tests.wiring import Wiring, wire

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
S = TaskState


@pytest.fixture
def wiring(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    notion: NotionProvider,
) -> Wiring:
    return wire(sessions, clock, {CLICKUP: clickup, NOTION: notion}, seed=5)


async def connect_clickup(wiring: Wiring, clickup_world: ClickUpSandbox, user: str = "U1") -> None:
    token = clickup_world.issue_token(101, ["9001"])
    await wiring.utility.connect_completed(team_id="T1", user_id=user, account=ProviderAccount(
        CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),)))  # fmt: skip


async def reviewing(wiring: Wiring, *items: dict[str, object]) -> list[str]:
    """Ana reviews first; the meeting's task ids, in order."""
    await wiring.utility.set_preferences("U1", team_id="T1", review_first=True)
    result = await wiring.utility.process_meeting(meeting(*items))
    return [task.task_id for task in result.items]


async def stored(sessions: async_sessionmaker[AsyncSession], task_id: str) -> Task:
    async with sessions() as session:
        row = await session.get(Task, task_id)
        assert row is not None
        return row


async def test_items_wait_in_review_and_nothing_is_sent(
    wiring: Wiring, sessions: async_sessionmaker[AsyncSession], clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    await wiring.utility.set_preferences("U1", team_id="T1", review_first=True)
    result = await wiring.utility.process_meeting(
        meeting(item(1), item(2, assignee={"slack_user_id": "U2"}))
    )
    mine, bos = result.items
    assert mine.status is S.REVIEW and mine.provider is None
    assert mine.reason == "waiting for the owner to review"
    assert bos.status is S.PENDING_AUTH  # Bo did not ask to review: routed as ever
    assert await wiring.worker.run_once() == 0
    assert clickup_world.tasks == {}
    async with sessions() as session:
        (review,) = (await session.scalars(select(ReviewMessage))).all()
    assert (review.owner_user_id, review.reminded_at) == ("U1", None)
    # Posting the same meeting again answers the same tasks and stores no second review.
    again = await wiring.utility.process_meeting(
        meeting(item(1), item(2, assignee={"slack_user_id": "U2"}))
    )
    assert [t.status for t in again.items] == [S.REVIEW, S.PENDING_AUTH]


async def test_edit_then_create_lands_once_with_the_edited_values(
    wiring: Wiring, sessions: async_sessionmaker[AsyncSession], clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    (task_id,) = await reviewing(wiring, item(1, title="Fix the lgoin page", priority="low"))
    utility = wiring.utility
    edited = await utility.edit_reviewed(task_id, user_id="U1", change=ReviewEdit(
        title="Fix the login page", description="Users see a blank page", due=date(2026, 4, 2),
        priority=Priority.URGENT, destination=(CLICKUP, "l3"),
    ))  # fmt: skip
    assert edited.status is S.REVIEW and edited.title == "Fix the login page"
    assert await wiring.worker.run_once() == 0  # an edit sends nothing
    created = await utility.create_reviewed(task_id, user_id="U1")
    twice = await utility.create_reviewed(task_id, user_id="U1")  # a double click
    assert created.status is S.QUEUED and twice.status is S.QUEUED
    assert created.reason == "you chose ClickUp list Marketing / Launch when reviewing"
    await wiring.worker.run_once()
    await wiring.worker.run_once()
    (sent,) = clickup_world.tasks.values()
    assert sent["name"] == "Fix the login page"
    assert sent["list"]["id"] == "l3"
    assert sent["priority"]["priority"] == "urgent"
    assert "Users see a blank page" in sent["markdown_description"]
    assert sent["due_date"] is not None
    row = await stored(sessions, task_id)
    assert (row.state, row.destination_name) == (S.CREATED, "Marketing / Launch")
    # Too late to edit: the task is created, and it stays as it was.
    late = await utility.edit_reviewed(task_id, user_id="U1", change=ReviewEdit(title="Other"))
    assert late.status is S.CREATED and late.title == "Fix the login page"


async def test_an_edit_that_empties_the_list_leaves_the_choice_to_routing(
    wiring: Wiring, sessions: async_sessionmaker[AsyncSession], clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    (task_id,) = await reviewing(wiring, item(1, project_name="Roadmap"))
    utility = wiring.utility
    await utility.edit_reviewed(
        task_id, user_id="U1", change=ReviewEdit(title="Plan", destination=(CLICKUP, "l3"))
    )
    row = await stored(sessions, task_id)
    assert (row.destination_id, row.project_name) == ("l3", "Marketing / Launch")
    # The Edit form again, its list menu emptied: the earlier choice goes.
    await utility.edit_reviewed(task_id, user_id="U1", change=ReviewEdit(title="Plan"))
    row = await stored(sessions, task_id)
    assert (row.provider, row.destination_id, row.destination_name) == (None, None, None)
    assert row.project_name is None
    created = await utility.create_reviewed(task_id, user_id="U1")
    assert created.status is S.QUEUED
    assert "when reviewing" not in (created.reason or "")


async def test_dismiss_sends_nothing(
    wiring: Wiring, sessions: async_sessionmaker[AsyncSession], clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    (task_id,) = await reviewing(wiring, item(1, title="A duplicate"))
    dismissed = await wiring.utility.dismiss_task(task_id, user_id="U1")
    created = await wiring.utility.create_reviewed(task_id, user_id="U1")  # a late click
    assert dismissed.status is S.DISMISSED and created.status is S.DISMISSED
    assert await wiring.worker.run_once() == 0
    assert clickup_world.tasks == {}


async def test_only_the_owner_acts_and_edits_are_checked(
    wiring: Wiring, clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    (task_id,) = await reviewing(wiring, item(1))
    utility = wiring.utility
    with pytest.raises(NotAllowed):
        await utility.create_reviewed(task_id, user_id="U2")
    with pytest.raises(NotAllowed):
        await utility.edit_reviewed(task_id, user_id="U2", change=ReviewEdit(title="Mine now"))
    assert await utility.create_all_reviewed("m-1", team_id="T1", user_id="U2") == ()
    with pytest.raises(InvalidInput) as empty:
        await utility.edit_reviewed(task_id, user_id="U1", change=ReviewEdit(title="  "))
    assert empty.value.field == "title"
    with pytest.raises(InvalidInput, match="none of your ClickUp lists"):
        await utility.edit_reviewed(
            task_id, user_id="U1", change=ReviewEdit(title="x", destination=(CLICKUP, "l404"))
        )
    with pytest.raises(InvalidInput, match="connect Notion first"):
        await utility.edit_reviewed(
            task_id, user_id="U1", change=ReviewEdit(title="x", destination=(NOTION, "ds-notes"))
        )
    task = await utility.get_task(task_id, team_id="T1")
    assert task is not None and (task.status, task.title) == (S.REVIEW, "Action 1")


async def test_create_all_routes_each_item_as_intake_would_once(
    wiring: Wiring, sessions: async_sessionmaker[AsyncSession], clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    ids = await reviewing(wiring, item(1), item(2, project_name="website redesign"), item(3))
    await wiring.utility.dismiss_task(ids[2], user_id="U1")
    created = await wiring.utility.create_all_reviewed("mtg-none", team_id="T1", user_id="U1")
    assert created == ()  # no such meeting
    meeting_id = (await stored(sessions, ids[0])).meeting_id
    assert meeting_id is not None
    first = await wiring.utility.create_all_reviewed(meeting_id, team_id="T1", user_id="U1")
    second = await wiring.utility.create_all_reviewed(meeting_id, team_id="T1", user_id="U1")
    assert [t.task_id for t in first] == ids[:2] and second == ()
    assert first[1].reason is not None and "Website Redesign" in first[1].reason
    await wiring.worker.run_once()
    assert sorted(t["list"]["id"] for t in clickup_world.tasks.values()) == ["l1", "l2"]


async def test_an_owner_without_a_connection_then_waits_for_one(
    wiring: Wiring, clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    ids = await reviewing(wiring, item(1), item(2))
    await wiring.utility.edit_reviewed(
        ids[1], user_id="U1", change=ReviewEdit(title="Chosen", destination=(CLICKUP, "l2"))
    )
    await wiring.utility.disconnect(team_id="T1", user_id="U1", provider=CLICKUP)
    plain = await wiring.utility.create_reviewed(ids[0], user_id="U1")
    chosen = await wiring.utility.create_reviewed(ids[1], user_id="U1")
    assert plain.status is S.PENDING_AUTH and chosen.status is S.PENDING_AUTH
    assert chosen.reason == "waiting for the owner to connect ClickUp"
    assert await wiring.worker.run_once() == 0 and clickup_world.tasks == {}
    await connect_clickup(wiring, clickup_world)  # the waiting tasks go as any would
    await wiring.worker.run_once()
    assert sorted(t["list"]["id"] for t in clickup_world.tasks.values()) == ["l1", "l2"]


async def test_a_forgotten_review_is_reminded_once_and_never_created(
    wiring: Wiring, sessions: async_sessionmaker[AsyncSession], clock: FakeClock,
    clickup_world: ClickUpSandbox,
) -> None:  # fmt: skip
    await connect_clickup(wiring, clickup_world)
    ids = await reviewing(wiring, item(1), item(2))
    await wiring.utility.create_reviewed(ids[0], user_id="U1")
    clock.advance(timedelta(hours=23, minutes=59).total_seconds())
    assert await wiring.utility.remind_reviews() == 0
    clock.advance(120)
    assert await wiring.utility.remind_reviews() == 1
    assert await wiring.utility.remind_reviews() == 0
    clock.advance(timedelta(days=30).total_seconds())
    assert await wiring.utility.remind_reviews() == 0
    meeting_id = (await stored(sessions, ids[1])).meeting_id
    assert wiring.notifier.reminders == [("T1", meeting_id, "U1", 1)]
    assert (await stored(sessions, ids[1])).state is S.REVIEW


async def test_a_review_with_nothing_left_is_not_reminded(
    wiring: Wiring, clock: FakeClock, clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    (task_id,) = await reviewing(wiring, item(1))
    await wiring.utility.dismiss_task(task_id, user_id="U1")
    clock.advance(timedelta(days=2).total_seconds())
    assert await wiring.utility.remind_reviews() == 0
    assert wiring.notifier.reminders == []


async def test_turning_review_off_routes_the_next_meeting_at_once(
    wiring: Wiring, clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    await reviewing(wiring, item(1))
    details = await wiring.utility.preference_details("U1", team_id="T1")
    assert details.review_first
    await wiring.utility.set_preferences("U1", team_id="T1", review_first=False)
    result = await wiring.utility.process_meeting(meeting(item(1), meeting_id="m-2"))
    assert [t.status for t in result.items] == [S.QUEUED]


async def test_an_item_edited_into_a_notion_database_is_created_there_once(
    wiring: Wiring, clickup_world: ClickUpSandbox, notion_world: NotionSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    access, refresh = notion_world.issue_tokens("u-ana")
    await wiring.utility.connect_completed(team_id="T1", user_id="U1", account=ProviderAccount(
        NOTION, OAuthTokens(access, refresh), (Workspace("ws-acme", "Acme"),)))  # fmt: skip
    (task_id,) = await reviewing(wiring, item(1, title="Write the notes"))
    await wiring.utility.edit_reviewed(task_id, user_id="U1", change=ReviewEdit(
        title="Write the retro notes", destination=(NOTION, "ds-notes"),
    ))  # fmt: skip
    await wiring.utility.create_reviewed(task_id, user_id="U1")
    await wiring.utility.create_reviewed(task_id, user_id="U1")
    await wiring.worker.run_once()
    assert clickup_world.tasks == {}
    (page,) = notion_world.pages.values()
    assert page["parent"] == "ds-notes"
    assert "Write the retro notes" in str(page["properties"])


async def test_a_review_acted_on_is_reminded_only_once_left_alone_that_long(
    wiring: Wiring, sessions: async_sessionmaker[AsyncSession], clock: FakeClock,
    clickup_world: ClickUpSandbox,
) -> None:  # fmt: skip
    await connect_clickup(wiring, clickup_world)
    ids = await reviewing(wiring, item(1), item(2), item(3))
    clock.advance(timedelta(hours=20).total_seconds())
    await wiring.utility.edit_reviewed(ids[0], user_id="U1", change=ReviewEdit(title="Renamed"))
    clock.advance(timedelta(hours=4, minutes=1).total_seconds())  # 24 h after the meeting
    assert await wiring.utility.remind_reviews() == 0  # acted on 4 h ago: not left alone
    clock.advance(timedelta(hours=19).total_seconds())
    await wiring.utility.dismiss_task(ids[1], user_id="U1")
    clock.advance(timedelta(hours=1).total_seconds())  # 24 h after the edit
    assert await wiring.utility.remind_reviews() == 0  # dismissed an hour ago
    clock.advance(timedelta(hours=23).total_seconds())
    assert await wiring.utility.remind_reviews() == 1
    assert [waiting for *_, waiting in wiring.notifier.reminders] == [2]
    clock.advance(timedelta(days=3).total_seconds())
    assert await wiring.utility.remind_reviews() == 0
    assert (await stored(sessions, ids[2])).state is S.REVIEW  # never created by itself


async def test_clicks_at_once_create_the_item_once(
    wiring: Wiring, sessions: async_sessionmaker[AsyncSession], clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    ids = await reviewing(wiring, item(1), item(2))
    meeting_id = (await stored(sessions, ids[0])).meeting_id
    assert meeting_id is not None
    utility = wiring.utility
    answers = await asyncio.gather(
        utility.create_reviewed(ids[0], user_id="U1"),
        utility.create_reviewed(ids[0], user_id="U1"),
        utility.create_all_reviewed(meeting_id, team_id="T1", user_id="U1"),
    )
    assert answers[0].status is S.QUEUED and answers[1].status is S.QUEUED
    while await wiring.worker.run_once():
        pass
    assert sorted(t["name"] for t in clickup_world.tasks.values()) == ["Action 1", "Action 2"]
    moved = [c.task_id for c in wiring.notifier.changes if c.state is S.QUEUED]
    assert sorted(moved) == sorted(ids)  # each announced once, by the call that moved it


async def test_a_disconnect_and_a_reconnect_leave_review_items_in_review(
    wiring: Wiring, sessions: async_sessionmaker[AsyncSession], clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    (task_id,) = await reviewing(wiring, item(1))
    assert await wiring.utility.disconnect(team_id="T1", user_id="U1", provider=CLICKUP)
    assert (await stored(sessions, task_id)).state is S.REVIEW  # not sent back to pending_auth
    await connect_clickup(wiring, clickup_world)  # the connect flush sends what waited for it
    while await wiring.worker.run_once():
        pass
    assert (await stored(sessions, task_id)).state is S.REVIEW and clickup_world.tasks == {}
    page = await wiring.utility.tasks_of("U1", team_id="T1", states=WAITING_STATES)
    assert [t.status for t in page.tasks] == [S.REVIEW]  # still listed by /tasks pending


async def test_the_reminder_loop_runs_on_the_injected_clock(
    wiring: Wiring, clock: FakeClock, clickup_world: ClickUpSandbox
) -> None:
    await connect_clickup(wiring, clickup_world)
    await reviewing(wiring, item(1))
    clock.advance(timedelta(hours=25).total_seconds())
    stop = asyncio.Event()
    running = asyncio.create_task(wiring.utility.keep_reminding_reviews(stop))
    # Each round awaits the database: let the loop run until it paused twice on the fake
    # clock (no real wait), then stop it.
    for _ in range(100_000):
        await asyncio.sleep(0)
        if len(clock.slept) >= 2:
            break
    stop.set()
    await running
    assert clock.slept[:2] == [REMIND_SWEEP_SECONDS] * 2
    assert len(wiring.notifier.reminders) == 1  # once, however many rounds
