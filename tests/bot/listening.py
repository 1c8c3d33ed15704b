"""What the listener tests share: sending a request and waiting for the work Bolt does after
its ack, people's connections, and their tasks.

Bolt answers Slack at the ack and runs the rest of a listener as its own asyncio task;
`deliver` waits for those tasks (by their coroutine's name, so the emulator's server tasks are
left alone) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

from primitives.enums import ProviderName, RoutingMode
from providers.base import OAuthTokens, ProviderAccount, Workspace
from routing.results import TaskResult
from sandbox.slack_requests import SlackBody, app_home_opened, block_actions, event_callback
from sandbox.slack_requests import slash_command as slack_slash_command
from tests.bot.harness import SlackHarness
from tests.sidecar.harness import TEAM

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
GENERAL = "C0GENERAL"
CLICKUP_PEOPLE = {"U0ANA": 101, "U0BO": 102}
NOTION_PEOPLE = {"U0ANA": "u-ana", "U0BO": "u-bo"}
_LISTENER = "run_ack_function_asynchronously"


async def deliver(slack: SlackHarness, payload: SlackBody, **options: Any) -> httpx.Response:
    """Send `payload` signed, then wait until the listeners it started are done."""
    before = asyncio.all_tasks()
    response = await slack.send(payload, **options)
    while True:
        running = [
            task
            for task in asyncio.all_tasks() - before
            if not task.done() and _LISTENER in task.get_coro().__qualname__  # type: ignore[union-attr]
        ]
        if not running:
            return response
        await asyncio.wait_for(asyncio.gather(*running), timeout=30)


def tasks_command(text: str, user_id: str = "U0ANA", channel_id: str = GENERAL) -> SlackBody:
    return slack_slash_command(
        "/tasks", text, team_id=TEAM, user_id=user_id, channel_id=channel_id,
        trigger_id="1700000000.0000000001.abc",
    )  # fmt: skip


def click(
    action_id: str,
    value: str,
    *,
    user_id: str = "U0ANA",
    channel_id: str | None = GENERAL,
    home: bool = False,
    ephemeral: bool = False,
) -> SlackBody:
    """A button clicked in a message of `channel_id`, or in the Home tab (`home`)."""
    action = {"action_id": action_id, "block_id": "b", "type": "button", "value": value}
    view = {"id": "V0HOME", "type": "home", "blocks": []} if home else None
    message = {"ts": "1700000000.000001", "text": "meeting"}
    body = block_actions(
        action, team_id=TEAM, user_id=user_id, trigger_id="1700000000.0000000002.abd",
        channel_id=None if home else channel_id, message=None if home else message, view=view,
    )  # fmt: skip
    if ephemeral:  # a button of a `/tasks` reply
        payload = json.loads(parse_qs(body.body.decode())["payload"][0])
        payload["container"]["is_ephemeral"] = True
        body = SlackBody(urlencode({"payload": json.dumps(payload)}).encode(), body.content_type)
    return body


def select(
    action_id: str, value: str, *, user_id: str = "U0ANA", kind: str = "static_select"
) -> SlackBody:
    """A menu of the Home tab set to `value`."""
    action = {
        "action_id": action_id, "block_id": "b", "type": kind,
        "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
    }  # fmt: skip
    view = {"id": "V0HOME", "type": "home", "blocks": []}
    return block_actions(
        action, team_id=TEAM, user_id=user_id, trigger_id="1700000000.0000000003.abe", view=view
    )


def home_opened(user_id: str = "U0ANA", tab: str = "home", event_id: str = "Ev01") -> SlackBody:
    return event_callback(
        app_home_opened(user_id, f"D{user_id}", tab=tab), team_id=TEAM, event_id=event_id
    )


async def connect(
    slack: SlackHarness, user_id: str, tool: ProviderName, *, email: str | None = None
) -> None:
    """`user_id` connected `tool` (as the OAuth callback leaves it)."""
    h = slack.h
    if tool is CLICKUP:
        token = h.clickup_world.issue_token(CLICKUP_PEOPLE[user_id], ["9001"])
        account = ProviderAccount(
            CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),), account_email=email
        )
    else:
        access, refresh = h.notion_world.issue_tokens(NOTION_PEOPLE[user_id])
        account = ProviderAccount(
            NOTION, OAuthTokens(access, refresh), (Workspace("ws-acme", "Acme Docs"),),
            account_email=email,
        )  # fmt: skip
    await h.utility.connect_completed(team_id=TEAM, user_id=user_id, account=account)


async def ask_me(slack: SlackHarness, user_id: str) -> None:
    await slack.h.utility.set_preferences(
        user_id, team_id=TEAM, routing_mode=RoutingMode.USER_CHOICE
    )


async def task_for(slack: SlackHarness, user_id: str, title: str, **fields: Any) -> TaskResult:
    return await slack.h.utility.create_task(
        user_id, {"title": title, **fields}, "user_choice", team_id=TEAM
    )


def link_owner(slack: SlackHarness, url: str, tool: ProviderName) -> str:
    """Whom a connect link was made for."""
    token = parse_qs(url.split("?", 1)[1])["t"][0]
    return slack.h.links.verify(token, provider=tool).user_id


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every button of `blocks` by its action id."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "button":
                found[node["action_id"]] = node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found
