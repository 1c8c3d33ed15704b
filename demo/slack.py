"""What a person does in the emulated Slack, sent to the app as Slack sends it: slash
commands, button clicks, opening the Home tab and choosing in its menus, filling in a modal
— each request signed
with the app's signing secret (`sandbox.slack_requests`) and POSTed to `/slack/events`.

What the app answers lands in the Slack emulator's world (messages, ephemerals, Home tabs),
where the demo reads it as a person would see it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from demo import world
from demo.stack import Stack
from demo.steps import DemoFailure, seen, wait_for
from demo.world import Person
from sandbox.slack_messages import open_im
from sandbox.slack_requests import (
    SlackBody,
    app_home_opened,
    block_actions,
    event_callback,
    signed,
    slash_command,
    view_submission,
)


def elements(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every interactive element of a message or view: accessories and actions' elements."""
    for block in blocks:
        if "accessory" in block:
            yield block["accessory"]
        yield from block.get("elements", ())


class SlackClient:
    """A person's Slack app, as far as the demo needs it."""

    def __init__(self, stack: Stack, http: httpx.AsyncClient) -> None:
        self.stack = stack
        self.http = http
        self._serial = itertools.count(1)

    async def send(self, payload: SlackBody, step: str) -> httpx.Response:
        """POST `payload` to /slack/events, signed now as Slack signs it."""
        headers = signed(world.SLACK_SIGNING_SECRET, payload, int(time.time()))
        response = await self.http.post(
            f"{self.stack.urls.app}/slack/events", content=payload.body, headers=headers
        )
        if response.status_code != 200:
            raise DemoFailure(f"{step}: Slack's request was answered {response.status_code}")
        return response

    def _trigger(self) -> str:
        return f"{int(time.time())}.{next(self._serial):010d}.demo"

    async def command(self, person: Person, text: str) -> dict[str, Any]:
        """`/tasks <text>` in #general; the private answer in its acknowledgement."""
        payload = slash_command(
            "/tasks", text, team_id=world.TEAM, user_id=person.slack_id,
            channel_id=world.CHANNEL, trigger_id=self._trigger(),
        )  # fmt: skip
        response = await self.send(payload, f"/tasks {text}")
        answer: dict[str, Any] = response.json() if response.content else {}
        return answer

    async def connect_links(self, person: Person, text: str) -> dict[str, str]:
        """`/tasks connect …`: the person's own connect links, by tool."""
        answer = await self.command(person, text)
        links = {
            str(e["action_id"]).removeprefix("link:"): str(e["url"])
            for e in elements(answer.get("blocks", []))
            if "url" in e
        }
        if not links:
            raise DemoFailure(f"/tasks {text} gave {person.first_name} no connect link")
        return links

    def meeting_message(self) -> dict[str, Any] | None:
        """The app's message in #general (the meeting's), as Slack shows it now."""
        messages = self.stack.worlds.slack.messages.get(world.CHANNEL, [])
        return next((m for m in messages if m.get("bot_id") and not m.get("thread_ts")), None)

    async def click(self, person: Person, message: dict[str, Any], action_id: str) -> None:
        """`person` clicks the button `action_id` of a message in #general."""
        found = [
            (block, element)
            for block in message["blocks"]
            for element in elements([block])
            if element.get("action_id") == action_id
        ]
        if not found:
            raise DemoFailure(f"the message has no button {action_id}")
        [(block, button), *_] = found
        action = {"action_id": action_id, "block_id": block.get("block_id", ""),
                  "type": "button", "value": button.get("value", ""),
                  "text": button.get("text", {})}  # fmt: skip
        payload = block_actions(
            action, team_id=world.TEAM, user_id=person.slack_id, trigger_id=self._trigger(),
            channel_id=world.CHANNEL, message=message,
        )  # fmt: skip
        await self.send(payload, f"{person.first_name} clicking {action_id}")

    def direct_messages(self, person: Person) -> list[dict[str, Any]]:
        """The app's messages in its conversation with `person`, as Slack shows them now."""
        channel = open_im(self.stack.worlds.slack, world.TEAM, person.slack_id).id
        return list(self.stack.worlds.slack.messages.get(channel, []))

    async def click_in_view(
        self, person: Person, message: dict[str, Any], action_id: str, channel_id: str
    ) -> dict[str, Any]:
        """`person` clicks a button of `message` (in `channel_id`) that opens a modal; the
        modal the app opened, as the emulator keeps it."""
        before = set(self.stack.worlds.slack.views)
        button = next(
            (e for e in elements(message["blocks"]) if e.get("action_id") == action_id), None
        )
        if button is None:
            raise DemoFailure(f"the message has no button {action_id}")
        action = {"action_id": action_id, "block_id": "", "type": "button",
                  "value": button.get("value", ""), "text": button.get("text", {})}  # fmt: skip
        trigger = self.stack.worlds.slack.issue_trigger(person.slack_id, at=datetime.now(UTC))
        payload = block_actions(
            action, team_id=world.TEAM, user_id=person.slack_id, trigger_id=trigger,
            channel_id=channel_id, message=message,
        )  # fmt: skip
        await self.send(payload, f"{person.first_name} clicking {action_id}")

        def opened() -> dict[str, Any] | None:
            new = set(self.stack.worlds.slack.views) - before
            return self.stack.worlds.slack.views[new.pop()] if new else None

        return await wait_for(f"the modal {person.first_name} opened", seen(opened))

    async def submit(
        self, person: Person, view: dict[str, Any], changes: dict[str, str]
    ) -> dict[str, Any]:
        """`person` changes the text inputs named in `changes` (block id → text), leaves the
        rest as the modal showed it, and submits; the app's answer (empty: it closed)."""
        values: dict[str, dict[str, dict[str, Any]]] = {}
        for block in view.get("blocks", []):
            element = block.get("element") or {}
            if block.get("type") != "input" or "action_id" not in element:
                continue
            kind = element.get("type")
            value: dict[str, Any] = {"type": kind}
            if kind == "plain_text_input":
                value["value"] = changes.get(block["block_id"], element.get("initial_value"))
            elif kind == "datepicker":
                value["selected_date"] = element.get("initial_date")
            else:
                value["selected_option"] = element.get("initial_option")
            values[block["block_id"]] = {element["action_id"]: value}
        shown = {k: v for k, v in view.items() if k != "user"}
        trigger = self.stack.worlds.slack.issue_trigger(person.slack_id, at=datetime.now(UTC))
        payload = view_submission(
            shown, values, team_id=world.TEAM, user_id=person.slack_id, trigger_id=trigger
        )
        response = await self.send(payload, f"{person.first_name} submitting a form")
        answer: dict[str, Any] = response.json() if response.content.strip() else {}
        return answer

    def ephemerals(self, person: Person) -> list[dict[str, Any]]:
        return list(self.stack.worlds.slack.ephemerals.get(person.slack_id, []))

    async def open_home(self, person: Person) -> dict[str, Any]:
        """`person` opens the app's Home tab; the view the app published."""
        before = self.stack.worlds.slack.home_views.get(person.slack_id)
        event = event_callback(
            app_home_opened(person.slack_id, "D0" + person.slack_id[2:]), team_id=world.TEAM,
            event_id=f"Ev0DEMO{next(self._serial):04d}",
        )  # fmt: skip
        await self.send(event, f"{person.first_name} opening the Home tab")
        return await wait_for(
            f"{person.first_name}'s Home tab",
            seen(lambda: self._home_after(person, before)),
        )

    def _home_after(self, person: Person, before: object) -> dict[str, Any] | None:
        view = self.stack.worlds.slack.home_views.get(person.slack_id)
        return view if view is not None and view is not before else None

    async def choose_in_home(
        self, person: Person, view: dict[str, Any], action_id: str, value: str
    ) -> dict[str, Any]:
        """`person` picks `value` in the Home tab's menu `action_id`; the view published
        after it."""
        menu = next((e for e in elements(view["blocks"]) if e.get("action_id") == action_id), None)
        if menu is None:
            raise DemoFailure(f"{person.first_name}'s Home tab has no menu {action_id}")
        option = next((o for o in menu.get("options", []) if o["value"] == value), None)
        if option is None:
            raise DemoFailure(f"the menu {action_id} offers no {value}")
        action = {"action_id": action_id, "type": "static_select", "selected_option": option}
        payload = block_actions(
            action, team_id=world.TEAM, user_id=person.slack_id, trigger_id=self._trigger(),
            view=view,
        )  # fmt: skip
        await self.send(payload, f"{person.first_name} choosing {value}")
        return await wait_for(
            f"{person.first_name}'s Home tab after the change",
            seen(lambda: self._home_after(person, view)),
        )
