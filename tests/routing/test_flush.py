"""The connect flush (`routing.flush`): decided per group and moved per group, each task exactly
as routing it alone would; and a flush the process did not live to run is run by another."""

from __future__ import annotations

import asyncio
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName, RoutingMode, TaskState
from providers.base import OAuthTokens, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider
from providers.notion import NotionProvider
from routing.outbox import TaskUpdate
from routing.owner_context import OwnerRouter, credentials_of, routable
from sandbox.clickup import ClickUpSandbox
from sandbox.notion import NotionSandbox
from storage.connections import NewTokens, save_connection
from storage.models import Task, UserAuthToken
from storage.vault import TokenVault, new_key
from tests.fakes import FakeClock
from tests.meetings import item, meeting
from tests.wiring import TEAM, Wiring, wire

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ("state", "provider", "destination_id", "destination_name", "route_reason",
           "last_error", "next_attempt_at", "finished_at")  # fmt: skip


@pytest.fixture
def notion_world(notion_world: NotionSandbox) -> NotionSandbox:
    notion_world.burst = 1000  # about routing, not about Notion's budget
    return notion_world


@pytest.fixture
def wiring(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    notion: NotionProvider,
) -> Wiring:
    return wire(sessions, clock, {CLICKUP: clickup, NOTION: notion}, vault=TokenVault([KEY]))


KEY = new_key()


async def waiting_tasks(wiring: Wiring) -> None:
    """Tasks of Ana's that wait for a connection: every routing rule, several times over."""
    descriptions = ("", "short", "x" * 500, "x" * 501, "é" * 400, "détail " * 100, "y" * 900)
    items = [
        item(n, project_name=project, priority=priority, description=description)
        for n, (project, priority, description) in enumerate(
            (project, priority, description)
            for project in (None, "product roadmap", "Website Redesign", "webiste redesign",
                            "Nothing like it", "Meeting Notes")
            for priority in (None, "urgent", "low")
            for description in descriptions
        )
    ]  # fmt: skip
    await wiring.utility.process_meeting(meeting(*items))
    for mode in RoutingMode:
        for n in range(3):
            await wiring.utility.create_task(
                "U1", {"title": f"{mode} {n}", "priority": "urgent" if n else None,
                       "project_name": "roadmap" if n == 2 else None}, mode, team_id=TEAM,
            )  # fmt: skip


async def store_connections(
    wiring: Wiring, clickup_world: ClickUpSandbox, notion_world: NotionSandbox
) -> None:
    """Ana's two connections, stored without connecting (no flush) and their catalogs read."""
    access, refresh = notion_world.issue_tokens("u-ana")
    tokens = {
        CLICKUP: (NewTokens(clickup_world.issue_token(101, ["9001"]), None, None, None), "9001"),
        NOTION: (NewTokens(access, refresh, None, None), "ws-acme"),
    }
    async with wiring.sessions() as session, session.begin():
        for provider, (new, workspace) in tokens.items():
            await save_connection(
                session, wiring.vault, team_id=TEAM, user_id="U1", provider=provider,
                tokens=new, now=wiring.clock.now(), workspace_id=workspace,
            )  # fmt: skip
    router = OwnerRouter(vault=wiring.vault, catalogs=wiring.catalogs, providers=wiring.providers)
    async with wiring.sessions() as session:
        context = await router.context(session, team_id=TEAM, user_id="U1")
    for provider, connection in context.connections.items():
        await wiring.catalogs.get(
            wiring.providers[provider], credentials_of(connection), team_id=TEAM, user_id="U1"
        )


async def tasks(wiring: Wiring) -> list[Task]:
    async with wiring.sessions() as session:
        return list((await session.scalars(select(Task).order_by(Task.id))).all())


@pytest.mark.parametrize("default", [None, NOTION])
async def test_the_flush_stores_what_routing_each_task_alone_would(
    wiring: Wiring,
    clickup_world: ClickUpSandbox,
    notion_world: NotionSandbox,
    default: ProviderName | None,
    clock: FakeClock,
) -> None:
    await waiting_tasks(wiring)
    await store_connections(wiring, clickup_world, notion_world)
    if default is not None:
        await wiring.utility.set_preferences("U1", team_id=TEAM, default_provider=default)
    clock.advance(60)
    now = wiring.clock.now()
    router = OwnerRouter(vault=wiring.vault, catalogs=wiring.catalogs, providers=wiring.providers)
    async with wiring.sessions() as session:
        context = await router.context(session, team_id=TEAM, user_id="U1")
    expected = {}
    for row in await tasks(wiring):
        # What the flush did before it was set-based: one decision per task.
        decision = await router.decide_cached(routable(row), context.with_mode(row.routing_mode))
        values = TaskUpdate.of(decision).values(decision.state, now)
        expected[row.id] = tuple(values.get(c, getattr(row, c)) for c in COLUMNS)

    queued = await wiring.utility.process_pending_tasks("U1", team_id=TEAM)

    after = await tasks(wiring)
    assert {row.id: tuple(getattr(row, c) for c in COLUMNS) for row in after} == expected
    states = {row.state for row in after}
    assert states >= {TaskState.QUEUED, TaskState.AWAITING_CHOICE}, states
    assert queued == len(after)
    [(_, user, flushed)] = wiring.notifier.flushes
    announced = [c.task_id for c in wiring.notifier.changes][-len(flushed) :]
    assert user == "U1" and sorted(flushed) == sorted(announced)
    assert sorted(flushed) == sorted(row.id for row in after)
    assert await wiring.utility.process_pending_tasks("U1", team_id=TEAM) == 0


CRASHING_PROCESS = """
import asyncio, os, sys
from primitives.enums import ProviderName
from providers.base import OAuthTokens, ProviderAccount, Workspace
from storage.engine import create_engine, session_factory
from storage.vault import TokenVault
from tests.fakes import FakeClock
from tests.wiring import wire

async def main() -> None:
    engine = create_engine(os.environ["DATABASE_URL"])
    wiring = wire(session_factory(engine), FakeClock(), vault=TokenVault([os.environ["KEY"]]))
    account = ProviderAccount(
        ProviderName.CLICKUP, OAuthTokens(sys.argv[1]), (Workspace("9001", "Acme"),)
    )
    waiting = await wiring.utility.connect_completed(
        team_id="T1", user_id="U1", account=account, background=True
    )
    print(waiting, flush=True)
    os._exit(0)  # the page has answered; the process dies before its flush runs

asyncio.run(main())
"""


async def test_a_flush_whose_process_died_is_run_by_the_next_sweep(
    wiring: Wiring, clickup_world: ClickUpSandbox, database_url: str, clock: FakeClock
) -> None:
    for n in range(3):
        await wiring.utility.create_task("U1", {"title": f"Task {n}"}, team_id=TEAM)
    token = clickup_world.issue_token(101, ["9001"])

    died = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING_PROCESS, token, cwd=ROOT, stdout=PIPE, stderr=PIPE,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
             "DATABASE_URL": database_url, "KEY": KEY},
    )  # fmt: skip
    out, err = await asyncio.wait_for(died.communicate(), 60)

    assert died.returncode == 0 and out.split() == [b"3"], err.decode()
    async with wiring.sessions() as session:
        [connection] = (await session.scalars(select(UserAuthToken))).all()
    assert connection.flush_requested_at == wiring.clock.now()
    assert {row.state for row in await tasks(wiring)} == {TaskState.PENDING_AUTH}

    # Another process: a request younger than the grace may still be running where it was made.
    assert await wiring.utility.sweep_flushes() == 0
    clock.advance(61)
    assert await wiring.utility.sweep_flushes() == 3
    assert await wiring.utility.sweep_flushes() == 0

    rows = await tasks(wiring)
    assert {row.state for row in rows} == {TaskState.QUEUED}
    assert {row.provider for row in rows} == {CLICKUP}
    [(_, _, flushed)] = wiring.notifier.flushes
    assert sorted(flushed) == sorted(row.id for row in rows)
    async with wiring.sessions() as session:
        [connection] = (await session.scalars(select(UserAuthToken))).all()
    assert connection.flush_requested_at is None
    assert await wiring.worker.run_once() == 3
    assert len(clickup_world.tasks) == 3


async def test_a_flush_in_the_background_clears_every_request_it_answered(
    wiring: Wiring, clickup_world: ClickUpSandbox, notion_world: NotionSandbox, clock: FakeClock
) -> None:
    await wiring.utility.create_task("U1", {"title": "Waiting"}, team_id=TEAM)
    clickup = ProviderAccount(
        CLICKUP, OAuthTokens(clickup_world.issue_token(101, ["9001"])), (Workspace("9001", "A"),)
    )
    await wiring.utility.connect_completed(team_id=TEAM, user_id="U1", account=clickup)
    access, refresh = notion_world.issue_tokens("u-ana")
    notion = ProviderAccount(NOTION, OAuthTokens(access, refresh), (Workspace("ws-acme", "A"),))
    clock.advance(1)
    assert (
        await wiring.utility.connect_completed(
            team_id=TEAM, user_id="U1", account=notion, background=True
        )
        == 0
    )
    await wiring.utility.settle_flushes()
    async with wiring.sessions() as session:
        requests = (await session.scalars(select(UserAuthToken.flush_requested_at))).all()
    assert requests == [None, None]
    [row] = await tasks(wiring)
    assert row.state == TaskState.QUEUED
