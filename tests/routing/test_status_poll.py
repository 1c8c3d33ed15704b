"""The status poll over the ClickUp and Notion emulators (SQLite and PostgreSQL): tasks done in
either tool show done, the least recently checked first, a small share of each connection's
budget, never again once deleted (a closed task can be reopened), never with a connection to
reconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName, RemoteStatus
from providers.base import OAuthTokens, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider
from providers.notion import NotionProvider
from routing.remote_status import RemoteStatuses
from routing.status_poll import StatusPoll, StatusPollConfig
from routing.status_reads import StatusReader
from sandbox.clickup import ClickUpSandbox
from sandbox.faults import FaultKind
from sandbox.notion import NotionSandbox
from storage.models import Task, UserAuthToken
from tests.fakes import FakeClock
from tests.meetings import item, meeting
from tests.wiring import Wiring, wire

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
DONE, OPEN = RemoteStatus.DONE, RemoteStatus.OPEN
PASS = 300.0  # the default seconds between two passes


@pytest.fixture
async def world(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    notion: NotionProvider,
    clickup_world: ClickUpSandbox,
    notion_world: NotionSandbox,
) -> Wiring:
    """U1's three items are Notion pages (a1 to a3), U2's two are ClickUp tasks (a4, a5)."""
    wiring = wire(sessions, clock, {CLICKUP: clickup, NOTION: notion})
    access, refresh = notion_world.issue_tokens("u-ana")
    await wiring.utility.connect_completed(team_id="T1", user_id="U1", account=ProviderAccount(
        NOTION, OAuthTokens(access, refresh), (Workspace("ws-acme", "Acme"),)))  # fmt: skip
    token = clickup_world.issue_token(102, ["9001"])
    await wiring.utility.connect_completed(team_id="T1", user_id="U2", account=ProviderAccount(
        CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),)))  # fmt: skip
    bo = {"assignee": {"slack_user_id": "U2"}}
    await wiring.utility.process_meeting(
        meeting(item(1), item(2), item(3), item(4, **bo), item(5, **bo))
    )
    while await wiring.worker.run_once():
        pass
    rows = await tasks(sessions)
    assert [r.provider for r in rows] == [NOTION] * 3 + [CLICKUP] * 2
    clock.advance(60)
    return wiring


def poll(wiring: Wiring, **config: Any) -> StatusPoll:
    reader = StatusReader(
        sessions=wiring.sessions, vault=wiring.vault, clock=wiring.clock,
        providers=wiring.providers,
    )  # fmt: skip
    statuses = RemoteStatuses(
        sessions=wiring.sessions, notifier=wiring.notifier, clock=wiring.clock
    )
    return StatusPoll(
        sessions=wiring.sessions, clock=wiring.clock, reader=reader, statuses=statuses,
        tools=(CLICKUP, NOTION), config=StatusPollConfig(**config),
    )  # fmt: skip


async def tasks(sessions: async_sessionmaker[AsyncSession]) -> list[Task]:
    async with sessions() as session:
        return list((await session.scalars(select(Task).order_by(Task.position))).all())


def reads(notion_world: NotionSandbox, clickup_world: ClickUpSandbox) -> list[str]:
    """Every status read the emulators answered, as "METHOD /path" (a key per task)."""
    return sorted(
        [k for k, n in notion_world.requests.items() for _ in range(n) if "/v1/pages/" in k]
        + [k for k, n in clickup_world.requests.items() for _ in range(n) if "/task/" in k]
    )


def finish_in_clickup(world: ClickUpSandbox, task_id: str, kind: str, clock: FakeClock) -> None:
    """A person moves the task to a status of `kind` in ClickUp."""
    task = world.tasks[task_id]
    task["status"] = {"status": "complete" if kind == "done" else "closed", "type": kind,
                      "color": "#6bc950", "orderindex": 2}  # fmt: skip
    task["date_updated"] = str(int(clock.now().timestamp() * 1000))


async def passes(status_poll: StatusPoll, clock: FakeClock, count: int) -> int:
    read = 0
    for _ in range(count):
        read += await status_poll.poll_once()
        clock.advance(PASS)
    return read


async def test_tasks_finished_in_either_tool_show_done_and_open_ones_cost_no_message(
    world: Wiring, clock: FakeClock, clickup_world: ClickUpSandbox, notion_world: NotionSandbox
) -> None:
    rows = await tasks(world.sessions)
    notion_world.edit_page(str(rows[0].provider_task_id), now=clock.now(),
                           properties={"Status": {"status": {"name": "Done"}}})  # fmt: skip
    finish_in_clickup(clickup_world, str(rows[3].provider_task_id), "done", clock)
    told = len(world.notifier.changes)
    # One read per connection and pass: U1's three pages take three passes, U2's two tasks two
    # (and a third reads U2's first again).
    assert await passes(poll(world), clock, 3) == 6
    rows = await tasks(world.sessions)
    assert [r.remote_status for r in rows] == [DONE, None, None, DONE, None]
    changes = world.notifier.changes[told:]
    assert sorted((c.task_id, c.remote_status) for c in changes) == sorted(
        [(rows[0].id, DONE), (rows[3].id, DONE)]
    )  # the open ones changed nothing anyone sees: no message update for them
    assert all(r.status_checked_at is not None for r in rows)


async def test_the_least_recently_checked_go_first_one_read_per_connection_and_pass(
    world: Wiring, clock: FakeClock, clickup_world: ClickUpSandbox, notion_world: NotionSandbox
) -> None:
    status_poll = poll(world)
    seen: list[list[str]] = []
    for _ in range(4):
        before = reads(notion_world, clickup_world)
        await status_poll.poll_once()
        after = reads(notion_world, clickup_world)
        for key in before:
            after.remove(key)
        seen.append(after)
        clock.advance(PASS)
    assert all(len(one) == 2 for one in seen)  # one Notion page and one ClickUp task a pass
    notion_pages = [next(k for k in one if "/v1/pages/" in k) for one in seen]
    assert len(set(notion_pages[:3])) == 3  # every page once before any twice
    assert notion_pages[3] == notion_pages[0]  # then the oldest check again
    clickup_tasks = [next(k for k in one if "/task/" in k) for one in seen]
    assert clickup_tasks[0] != clickup_tasks[1] and clickup_tasks[2] == clickup_tasks[0]


async def test_a_deleted_task_is_never_read_again_and_a_closed_one_reopened_shows_open(
    world: Wiring, clock: FakeClock, clickup_world: ClickUpSandbox, notion_world: NotionSandbox
) -> None:
    rows = await tasks(world.sessions)
    notion_world.edit_page(str(rows[0].provider_task_id), now=clock.now(), in_trash=True)
    finish_in_clickup(clickup_world, str(rows[3].provider_task_id), "closed", clock)
    status_poll = poll(world)
    await passes(status_poll, clock, 3)  # every task read once
    rows = await tasks(world.sessions)
    assert (rows[0].remote_status, rows[3].remote_status) == (
        RemoteStatus.DELETED, RemoteStatus.CLOSED)  # fmt: skip
    before = reads(notion_world, clickup_world)
    await passes(status_poll, clock, 4)
    later = reads(notion_world, clickup_world)
    for key in before:
        later.remove(key)
    assert len(later) == 2 * 4  # a page and a task every pass: the closed task among them
    assert not any(str(rows[0].provider_task_id) in k for k in later)  # the deleted page
    assert any(f"/task/{rows[3].provider_task_id}" in k for k in later)

    # Moved back to an open status in ClickUp: the next reads show it open again.
    clock.advance(60)
    task = clickup_world.tasks[str(rows[3].provider_task_id)]
    task["status"] = {"status": "to do", "type": "open", "color": "#d3d3d3", "orderindex": 0}
    task["date_updated"] = str(int(clock.now().timestamp() * 1000))
    await passes(status_poll, clock, 4)
    assert (await tasks(world.sessions))[3].remote_status is RemoteStatus.OPEN


async def test_a_connection_to_reconnect_is_not_read(
    world: Wiring, clock: FakeClock, clickup_world: ClickUpSandbox, notion_world: NotionSandbox
) -> None:
    async with world.sessions() as session, session.begin():
        await session.execute(
            update(UserAuthToken)
            .where(UserAuthToken.provider == NOTION)
            .values(needs_reconnect=True)
        )
    await passes(poll(world), clock, 3)
    keys = reads(notion_world, clickup_world)
    assert not any("/v1/pages/" in k for k in keys)
    assert len(keys) == 3  # ClickUp's connection is read as ever


async def test_a_busy_connection_is_skipped_without_a_request(
    world: Wiring, clock: FakeClock, clickup_world: ClickUpSandbox, notion_world: NotionSandbox
) -> None:
    status_poll = poll(world)
    notion_world.faults.add(FaultKind.RATE_LIMIT, method="GET", path="/v1/pages/", seconds=30)
    await status_poll.poll_once()  # Notion answers 429: the connection is held 30 s
    pages = notion_world.count("GET", "/v1/pages/")
    assert pages == 1
    clock.advance(10)
    await status_poll.poll_once()  # held: not even asked
    assert notion_world.count("GET", "/v1/pages/") == pages
    rows = await tasks(world.sessions)
    assert sum(r.status_checked_at is not None for r in rows[:3]) == 0  # first in line still
    clock.advance(PASS)
    await status_poll.poll_once()
    assert notion_world.count("GET", "/v1/pages/") == pages + 1


async def test_the_poll_runs_on_the_clock_and_can_be_turned_off(
    world: Wiring, clock: FakeClock, clickup_world: ClickUpSandbox, notion_world: NotionSandbox
) -> None:
    stop = asyncio.Event()
    await poll(world, enabled=False).keep_polling(stop)  # returns at once
    assert reads(notion_world, clickup_world) == []

    running = asyncio.create_task(poll(world, every=600.0).keep_polling(stop))
    for _ in range(10_000):  # a pass awaits the database: let the loop run until two passed
        await asyncio.sleep(0)
        if len(reads(notion_world, clickup_world)) >= 4:
            break
    stop.set()
    await running
    assert 600.0 in clock.slept  # the fake clock's sleep: no real wait
