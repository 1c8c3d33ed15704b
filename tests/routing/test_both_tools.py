"""Routing across ClickUp and Notion, through the worker: choices, smart rules, refresh."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName, RoutingMode, TaskState
from providers.base import OAuthTokens, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider
from providers.notion import NotionProvider
from routing.errors import NotAllowed
from routing.utility import IntegrationUtility
from routing.worker import DispatchWorker
from sandbox.clickup import ClickUpSandbox
from sandbox.faults import FaultKind
from sandbox.notion import NotionSandbox
from storage.models import Task
from tests.fakes import FakeClock
from tests.meetings import item, meeting
from tests.wiring import wire

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION


@pytest.fixture
def notion_world(notion_world: NotionSandbox) -> NotionSandbox:
    notion_world.burst = 1000  # these tests are about routing, not about Notion's budget
    return notion_world


@pytest.fixture
def both(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    notion: NotionProvider,
) -> tuple[IntegrationUtility, DispatchWorker]:
    wiring = wire(sessions, clock, {CLICKUP: clickup, NOTION: notion}, seed=3)
    return wiring.utility, wiring.worker


async def connect_both(
    utility: IntegrationUtility, clickup_world: ClickUpSandbox, notion_world: NotionSandbox
) -> tuple[str, str]:
    clickup_token = clickup_world.issue_token(101, ["9001"])
    await utility.connect_completed(team_id="T1", user_id="U1", account=ProviderAccount(
        CLICKUP, OAuthTokens(clickup_token), (Workspace("9001", "Acme"),)))  # fmt: skip
    access, refresh = notion_world.issue_tokens("u-ana")
    await utility.connect_completed(team_id="T1", user_id="U1", account=ProviderAccount(
        NOTION, OAuthTokens(access, refresh), (Workspace("ws-acme", "Acme"),)))  # fmt: skip
    return clickup_token, access


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[Task]:
    async with sessions() as session:
        return list((await session.scalars(select(Task).order_by(Task.item_id))).all())


async def test_smart_routing_sends_each_item_to_its_tool(
    both: tuple[IntegrationUtility, DispatchWorker],
    sessions: async_sessionmaker[AsyncSession],
    clickup_world: ClickUpSandbox,
    notion_world: NotionSandbox,
) -> None:
    utility, worker = both
    await connect_both(utility, clickup_world, notion_world)
    await utility.process_meeting(meeting(
        item(1, title="Roadmap review", project_name="product roadmap"),
        item(2, title="Hotfix", priority="urgent"),
        item(3, title="Design doc", description="detail " * 100),
        item(4, title="Plain"),
    ))  # fmt: skip
    await worker.run_once()
    by_item = {r.item_id: r for r in await rows(sessions)}
    assert {k: (r.provider, r.state) for k, r in by_item.items()} == {
        "a1": ("notion", "created"), "a2": ("clickup", "created"),
        "a3": ("notion", "created"), "a4": ("clickup", "created"),
    }  # fmt: skip
    assert by_item["a1"].destination_id == "ds-roadmap"
    assert len(notion_world.pages) == 2 and len(clickup_world.tasks) == 2


async def test_ask_me_waits_for_the_owners_click(
    both: tuple[IntegrationUtility, DispatchWorker],
    sessions: async_sessionmaker[AsyncSession],
    clickup_world: ClickUpSandbox,
    notion_world: NotionSandbox,
) -> None:
    utility, worker = both
    await connect_both(utility, clickup_world, notion_world)
    await utility.set_preferences("U1", team_id="T1", routing_mode=RoutingMode.USER_CHOICE)
    result = await utility.process_meeting(meeting(item(1, title="Choose me")))
    (waiting,) = result.items
    assert waiting.status is TaskState.AWAITING_CHOICE
    assert await worker.run_once() == 0
    with pytest.raises(NotAllowed):
        await utility.choose_provider(waiting.task_id, user_id="U2", provider=NOTION)
    chosen = await utility.choose_provider(waiting.task_id, user_id="U1", provider=NOTION)
    again = await utility.choose_provider(waiting.task_id, user_id="U1", provider=CLICKUP)
    assert chosen.status is TaskState.QUEUED and again.provider is NOTION  # a double click
    await worker.run_once()
    (row,) = await rows(sessions)
    assert row.state == "created" and row.provider == "notion"
    assert len(notion_world.pages) == 1 and clickup_world.tasks == {}


async def test_a_refused_notion_token_is_refreshed_once_and_the_task_created(
    both: tuple[IntegrationUtility, DispatchWorker],
    sessions: async_sessionmaker[AsyncSession],
    clickup_world: ClickUpSandbox,
    notion_world: NotionSandbox,
) -> None:
    utility, worker = both
    _, access = await connect_both(utility, clickup_world, notion_world)
    await utility.process_meeting(meeting(item(1, title="Spec", project_name="roadmap product")))
    notion_world.tokens[access]["revoked"] = True  # the access token expired at Notion
    await worker.run_once()
    (row,) = await rows(sessions)
    assert row.state == "created" and len(notion_world.pages) == 1
    assert notion_world.count("POST", "/v1/oauth/token") == 1


async def test_a_dead_notion_refresh_means_reconnect(
    both: tuple[IntegrationUtility, DispatchWorker],
    sessions: async_sessionmaker[AsyncSession],
    clickup_world: ClickUpSandbox,
    notion_world: NotionSandbox,
) -> None:
    utility, worker = both
    await connect_both(utility, clickup_world, notion_world)
    await utility.process_meeting(meeting(item(1, title="Spec", project_name="roadmap product")))
    notion_world.refresh_tokens.clear()
    notion_world.faults.add(FaultKind.REVOKED, method="POST", path="/v1/pages")
    await worker.run_once()
    (row,) = await rows(sessions)
    assert row.state == "pending_auth"
    status = await utility.get_auth_status("U1", team_id="T1")
    assert status.notion.needs_reconnect and status.clickup.connected


@pytest.mark.parametrize("user_information", ["none", "without_email"])
async def test_notion_without_user_information_still_creates_and_says_why_unassigned(
    both: tuple[IntegrationUtility, DispatchWorker],
    sessions: async_sessionmaker[AsyncSession],
    clickup_world: ClickUpSandbox,
    notion_world: NotionSandbox,
    user_information: str,
) -> None:
    # The integration lacks "Read user information including email addresses": GET /v1/users
    # answers 403 restricted_resource (or people without e-mail). The databases are shared.
    notion_world.user_information = user_information
    utility, worker = both
    await connect_both(utility, clickup_world, notion_world)
    await utility.process_meeting(meeting(
        item(1, title="Spec", project_name="roadmap product",
             assignee={"email": "cy@acme.example", "name": "Cy"}),  # in Notion, not in Slack
        item(2, title="Notes", project_name="meeting notes"),
    ))  # fmt: skip
    await worker.run_once()
    spec, notes = await rows(sessions)
    assert (spec.state, notes.state) == ("created", "created")
    assert "Read user information including email addresses" in (spec.route_reason or "")
    assert "share" not in (spec.route_reason or "") + (spec.last_error or "")
    assert "Read user information" not in (notes.route_reason or "")  # nobody to assign
    page = notion_world.pages_with_marker(spec.marker)[0]
    assert "Assignee" not in page["properties"]
    assert "Assignee named in the meeting: Cy" in str(page["children"])
