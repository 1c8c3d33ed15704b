"""What the shortcut, options and ack-time tests share: a person's connections, the "Create
task" modal opened on a message, its submission, the Home tab menus, and waiting for what the
app does after its ack."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from bot.views.actions import DEFAULT_DESTINATION
from bot.views.task_modal import (
    ACTION_IDS,
    CALLBACK_ID,
    DESCRIPTION,
    DUE,
    PRIORITY,
    PROJECT,
    PROJECT_MENU,
    TITLE,
)
from primitives.enums import ProviderName
from providers.base import OAuthTokens, ProviderAccount, Workspace
from sandbox.slack_blocks import view_errors
from sandbox.slack_requests import block_suggestion, message_action, view_submission
from storage.models import Task
from tests.bot.harness import SlackHarness
from tests.fakes import FakeClock
from tests.sidecar.harness import TEAM

CHANNEL = "C0GENERAL"
CLICKUP_USERS = {"U0ANA": 101, "U0BO": 102}
NOTION_USERS = {"U0ANA": "u-ana", "U0BO": "u-bo"}


async def eventually(check: Callable[[], bool], *, within: float = 5.0) -> None:
    """Wait (in real time) for work the app does after its ack, failing after `within` s."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the app did not get there in time")
        await asyncio.sleep(0.01)


async def connect_clickup(slack: SlackHarness, user_id: str) -> None:
    h = slack.h
    token = h.clickup_world.issue_token(CLICKUP_USERS[user_id], ["9001"])
    account = ProviderAccount(
        ProviderName.CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),)
    )
    await h.utility.connect_completed(team_id=TEAM, user_id=user_id, account=account)


async def connect_notion(slack: SlackHarness, user_id: str) -> None:
    h = slack.h
    access, refresh = h.notion_world.issue_tokens(NOTION_USERS[user_id])
    account = ProviderAccount(
        ProviderName.NOTION, OAuthTokens(access, refresh), (Workspace("ws-acme", "Acme"),)
    )
    await h.utility.connect_completed(team_id=TEAM, user_id=user_id, account=account)


def post_in_channel(slack: SlackHarness, text: str, *, author: str = "U0BO") -> dict[str, Any]:
    """A message someone posted in #general (the message the shortcut is used on)."""
    ts = slack.h.slack_world.store_message(CHANNEL, text, user=author)
    return {"type": "message", "user": author, "text": text, "ts": ts}


def shortcut(slack: SlackHarness, message: dict[str, Any], *, user_id: str = "U0ANA") -> Any:
    """The payload of "Create task" on `message`, with a fresh trigger."""
    world, clock = slack.h.slack_world, slack.h.clock
    return message_action(
        CALLBACK_ID, message, team_id=TEAM, user_id=user_id, channel_id=CHANNEL,
        trigger_id=world.issue_trigger(user_id, at=clock.now()),
    )  # fmt: skip


async def open_modal(
    slack: SlackHarness, text: str, *, user_id: str = "U0ANA", author: str = "U0BO"
) -> dict[str, Any]:
    """Use the shortcut on a new message; the modal the app opened (as the emulator keeps it)."""
    world = slack.h.slack_world
    before = set(world.views)
    response = await slack.send(shortcut(slack, post_in_channel(slack, text, author=author),
                                         user_id=user_id))  # fmt: skip
    assert response.status_code == 200
    await eventually(lambda: set(world.views) - before != set())
    (view_id,) = set(world.views) - before
    return world.views[view_id]


def form_values(
    title: str | None = "Ship it",
    *,
    description: str | None = None,
    due: date | None = None,
    priority: str | None = None,
    project: str | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """`state.values` of a submitted task modal."""

    def chosen(value: str | None) -> dict[str, Any] | None:
        return None if value is None else {"text": {"type": "plain_text", "text": value},
                                           "value": value}  # fmt: skip

    return {
        TITLE: {ACTION_IDS[TITLE]: {"type": "plain_text_input", "value": title}},
        DESCRIPTION: {ACTION_IDS[DESCRIPTION]: {"type": "plain_text_input", "value": description}},
        DUE: {ACTION_IDS[DUE]: {"type": "datepicker",
                                "selected_date": due.isoformat() if due else None}},
        PRIORITY: {ACTION_IDS[PRIORITY]: {"type": "static_select",
                                          "selected_option": chosen(priority)}},
        PROJECT: {ACTION_IDS[PROJECT]: {"type": "external_select",
                                        "selected_option": chosen(project)}},
    }  # fmt: skip


def submission(
    slack: SlackHarness, view: dict[str, Any], values: dict[str, Any], *, user_id: str = "U0ANA"
) -> Any:
    world, clock = slack.h.slack_world, slack.h.clock
    shown = {k: v for k, v in view.items() if k != "user"}
    return view_submission(
        shown, values, team_id=TEAM, user_id=user_id,
        trigger_id=world.issue_trigger(user_id, at=clock.now()),
    )  # fmt: skip


def answer_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON Bolt answered with (empty for a bare ack)."""
    assert response.status_code == 200, response.text
    return json.loads(response.text) if response.text.strip() else {}


def home_menu(
    tool: ProviderName, query: str, *, user_id: str = "U0ANA", view_id: str = "VHOME0001"
) -> Any:
    home = {"id": view_id, "type": "home", "blocks": [], "private_metadata": ""}
    return block_suggestion(
        DEFAULT_DESTINATION[tool], query, team_id=TEAM, user_id=user_id, view=home,
        block_id=f"home:default_destination:{tool.value}",
    )  # fmt: skip


def project_menu(view: dict[str, Any], query: str, *, user_id: str = "U0ANA") -> Any:
    shown = {k: v for k, v in view.items() if k != "user"}
    return block_suggestion(
        PROJECT_MENU, query, team_id=TEAM, user_id=user_id, view=shown, block_id=PROJECT
    )


async def tasks_of(slack: SlackHarness, user_id: str = "U0ANA") -> list[Task]:
    async with slack.h.sessions() as session:
        found = await session.scalars(
            select(Task).where(Task.owner_user_id == user_id).order_by(Task.created_at)
        )
        return list(found.all())


def direct_messages(slack: SlackHarness, user_id: str = "U0ANA") -> list[dict[str, Any]]:
    """What the app posted to the person's direct message with it."""
    return [
        call["args"] for call in slack.calls("chat.postMessage")
        if call["ok"] and call["args"].get("channel") == user_id
    ]  # fmt: skip


class RealTimeClock(FakeClock):
    """A clock whose time really passes (from the fake clock's start), for tests where an
    emulator's latency must cost real seconds: how long Slack waits for an answer."""

    def __init__(self) -> None:
        super().__init__()
        self._start_now, self._start_monotonic = self._now, self._monotonic
        self._origin = time.monotonic()
        self._offset = 0.0

    def _elapsed(self) -> float:
        return time.monotonic() - self._origin + self._offset

    def now(self) -> datetime:
        return self._start_now + timedelta(seconds=self._elapsed())

    def monotonic(self) -> float:
        return self._start_monotonic + self._elapsed()

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(max(0.0, seconds))
        await asyncio.sleep(max(0.0, seconds))


def options_problems(answer: dict[str, Any]) -> list[str]:
    """What Slack would refuse in an external menu's answer: more than 100 options (or
    groups), an option's text over 75 characters or not plain text, a value over 150, the
    same value twice."""
    problems: list[str] = []
    groups = answer.get("option_groups")
    if groups is not None:
        if not 1 <= len(groups) <= 100:
            problems.append(f"{len(groups)} option groups")
        options = [o for g in groups for o in g["options"]]
        for group in groups:
            label = group["label"]
            if label["type"] != "plain_text" or not 0 < len(label["text"]) <= 75:
                problems.append(f"group label {label!r}")
            if not 1 <= len(group["options"]) <= 100:
                problems.append(f"a group of {len(group['options'])} options")
    else:
        options = answer["options"]
    if len(options) > 100:
        problems.append(f"{len(options)} options")
    for opt in options:
        text = opt["text"]
        if text["type"] != "plain_text" or not 0 < len(text["text"]) <= 75:
            problems.append(f"option text {text!r}")
        if not 0 < len(opt["value"]) <= 150:
            problems.append(f"option value {opt['value']!r}")
    values = [o["value"] for o in options]
    if len(values) != len(set(values)):
        problems.append("the same value twice")
    if options:  # and as the emulator checks a menu's options (a static menu holds the same)
        menu = {"type": "static_select", "action_id": "menu",
                "placeholder": {"type": "plain_text", "text": "Pick"}, **answer}  # fmt: skip
        problems += view_errors({
            "type": "modal", "title": {"type": "plain_text", "text": "Menu"},
            "submit": {"type": "plain_text", "text": "OK"},
            "blocks": [{"type": "input", "label": {"type": "plain_text", "text": "Menu"},
                        "element": menu}],
        })  # fmt: skip
    return problems


def option_values(answer: dict[str, Any]) -> list[str]:
    groups = answer.get("option_groups")
    options = [o for g in groups for o in g["options"]] if groups else answer["options"]
    return [o["value"] for o in options]


def option_texts(answer: dict[str, Any]) -> list[str]:
    groups = answer.get("option_groups")
    options = [o for g in groups for o in g["options"]] if groups else answer["options"]
    return [o["text"]["text"] for o in options]
