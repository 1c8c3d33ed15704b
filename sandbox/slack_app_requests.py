"""What a person does on the Slack emulator's pages, sent to the app as Slack sends it.

    world.app_requests = AppRequests(url="http://127.0.0.1:8000/slack/events",
                                     signing_secret="…")   # whoever runs the app sets this
    actions = PageActions(world, clock)
    await actions.act({...})          a click or a menu choice → `block_actions`
    await actions.options({...})      an external menu's options → `block_suggestion`
    await actions.home_opened(user)   → the `app_home_opened` event
    await actions.say({...})          "/tasks help" → a slash command, its answer shown to
                                      the person alone; other text is a message of theirs

A click is looked up in what the emulator holds (the message, the person's ephemeral message
or their Home tab, by block id and action id), so a page can only press what the app really
sent. Payloads are `sandbox.slack_requests`'s, signed with the app's signing secret at the wall
clock's time: the app checks the signature's timestamp against its own wall clock, whatever
clock the emulator keeps. Every request and the app's HTTP status are kept in
`world.app_requests.sent`.
"""

from __future__ import annotations

import json
import time as wall_time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import httpx

from primitives.clock import Clock
from sandbox.slack_messages import open_im
from sandbox.slack_requests import (
    VERIFICATION_TOKEN,
    SlackBody,
    app_home_opened,
    block_actions,
    event_callback,
    interaction,
    signed,
    slash_command,
)

if TYPE_CHECKING:
    from sandbox.slack import SlackSandbox

# What a click names: the blocks' holder, the channel, the message, the view.
Place = tuple[dict[str, Any], str | None, dict[str, Any] | None, dict[str, Any] | None]


@dataclass
class AppRequests:
    """Where the emulator sends what Slack sends an app: its Request URL (`…/slack/events`,
    for events, interactions and options alike) and its signing secret."""

    url: str
    signing_secret: str
    api_app_id: str = "A0SCRUMY"
    transport: httpx.AsyncBaseTransport | None = None  # tests may reach the app in process
    wall: Callable[[], float] = wall_time.time  # what the signature's timestamp is read from
    timeout: float = 10.0
    sent: list[dict[str, Any]] = field(default_factory=list)  # {"kind", "status", "detail"}

    async def send(self, kind: str, payload: SlackBody) -> httpx.Response | str:
        """POST `payload` signed; the answer, or why there was none."""
        headers = signed(self.signing_secret, payload, int(self.wall()))
        try:
            async with httpx.AsyncClient(
                transport=self.transport, timeout=self.timeout, trust_env=False
            ) as client:
                answer = await client.post(self.url, content=payload.body, headers=headers)
        except httpx.HTTPError as error:
            self.sent.append({"kind": kind, "status": None, "detail": repr(error)})
            return f"the app did not answer at {self.url}: {error!r}"
        self.sent.append({"kind": kind, "status": answer.status_code, "detail": ""})
        return answer


def find_element(blocks: Any, block_id: str, action_id: str) -> dict[str, Any] | None:
    """The interactive element `action_id` of the block `block_id` (an actions block's
    element or a section's accessory)."""
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict) or str(block.get("block_id", "")) != block_id:
            continue
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return None


def _options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


class PageActions:
    """Clicks, menu choices and opened Home tabs of one world's pages, sent to its app."""

    def __init__(self, world: SlackSandbox, clock: Clock) -> None:
        self.world = world
        self.clock = clock
        self._events = 0

    def located(self, data: dict[str, Any], user_id: str) -> Place | str:
        """(the blocks' holder, channel, message, view) a click names, or why it names none."""
        where, channel = str(data.get("where", "")), str(data.get("channel") or "")
        ts = str(data.get("ts") or "")
        if where == "home":
            view = self.world.home_views.get(user_id)
            return (view, None, None, view) if view is not None else "no Home tab published"
        if where == "ephemeral":
            found = next((e for e in self.world.ephemerals.get(user_id, [])
                          if e.get("ts") == ts and e.get("channel") == channel), None)  # fmt: skip
        else:
            found = self.world.thread_of(channel, ts)
        if found is None:
            return "no such message"
        return found, channel, found, None

    async def act(self, data: dict[str, Any]) -> dict[str, Any]:
        world = self.world
        user_id = str(data.get("user") or "")
        user = world.users.get(user_id)
        if user is None:
            return {"ok": False, "error": f"no such person: {user_id}"}
        if world.app_requests is None:
            return {"ok": False, "error": "no app to send to: set world.app_requests"}
        place = self.located(data, user_id)
        if isinstance(place, str):
            return {"ok": False, "error": place}
        holder, channel, message, view = place
        block_id, action_id = str(data.get("block_id", "")), str(data.get("action_id", ""))
        element = find_element(holder.get("blocks"), block_id, action_id)
        if element is None:
            return {"ok": False, "error": f"no element {action_id} in block {block_id}"}
        action: dict[str, Any] = {"action_id": action_id, "block_id": block_id,
                                  "type": element.get("type")}  # fmt: skip
        if element.get("type") == "button":
            action["text"] = element.get("text")
            for key in ("value", "style"):
                if key in element:
                    action[key] = element[key]
        else:
            chosen = data.get("selected") or {}
            wanted = str(chosen.get("value", ""))
            option = next((o for o in _options_of(element) if o.get("value") == wanted), None)
            if option is None and element.get("type") == "external_select" and wanted:
                text = {"type": "plain_text", "text": str(chosen.get("text", wanted))}
                option = {"text": text, "value": wanted}
            if option is None:
                return {"ok": False, "error": f"no option {wanted!r} in {action_id}"}
            action["selected_option"] = option
        wall = world.app_requests.wall()
        body = block_actions(
            action, team_id=user["team_id"], user_id=user_id,
            trigger_id=world.issue_trigger(user_id, at=self.clock.now()),
            channel_id=channel, message=message, view=view, action_ts=f"{wall:.6f}",
            api_app_id=world.app_requests.api_app_id,
        )  # fmt: skip
        if data.get("where") == "ephemeral":  # Slack marks a click in an ephemeral message
            payload = json.loads(parse_qs(body.body.decode())["payload"][0])
            payload["container"]["is_ephemeral"] = True
            body = interaction(payload)
        return self.verdict(await world.app_requests.send("block_actions", body))

    async def options(self, data: dict[str, Any]) -> dict[str, Any]:
        """An external menu's options, asked of the app as Slack asks (`block_suggestion`)."""
        world = self.world
        user_id = str(data.get("user") or "")
        user = world.users.get(user_id)
        if user is None or world.app_requests is None:
            return {"ok": False, "options": []}
        place = self.located(data, user_id)
        if isinstance(place, str):
            return {"ok": False, "error": place, "options": []}
        team_id = user["team_id"]
        payload: dict[str, Any] = {
            "type": "block_suggestion", "user": {"id": user_id, "team_id": team_id,
            "name": user["name"], "username": user["name"]},
            "team": {"id": team_id, "domain": team_id.lower()},
            "api_app_id": world.app_requests.api_app_id, "token": VERIFICATION_TOKEN,
            "action_id": str(data.get("action_id", "")), "block_id": str(data.get("block_id", "")),
            "value": str(data.get("query", "")), "enterprise": None, "is_enterprise_install": False,
        }  # fmt: skip
        view = place[3]
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id", "")}
            payload["view"] = view
        else:
            payload["container"] = {"type": "message", "message_ts": place[2]["ts"] if place[2]
                                    else "", "channel_id": place[1]}  # fmt: skip
            payload["channel"] = {"id": place[1]}
        answer = await world.app_requests.send("block_suggestion", interaction(payload))
        if isinstance(answer, str) or answer.status_code != 200:
            return {"ok": False, "options": []}
        try:
            found = answer.json()
        except ValueError:
            return {"ok": False, "options": []}
        options = list(found.get("options") or [])
        for group in found.get("option_groups") or []:
            options.extend(group.get("options") or [])
        return {"ok": True, "options": [{"value": o.get("value"), "text":
                (o.get("text") or {}).get("text", o.get("value"))} for o in options]}  # fmt: skip

    async def home_opened(self, user_id: str) -> dict[str, Any]:
        world = self.world
        user = world.users.get(user_id)
        if user is None:
            return {"ok": False, "error": f"no such person: {user_id}"}
        if world.app_requests is None:
            return {"ok": False, "error": "no app to send to: set world.app_requests"}
        team_id = user["team_id"]
        self._events += 1
        event = app_home_opened(
            user_id, open_im(world, team_id, user_id).id, view=world.home_views.get(user_id)
        )
        body = event_callback(
            event, team_id=team_id, event_id=f"Ev0WEB{self._events:06d}",
            event_time=int(world.app_requests.wall()), bot_user_id=world.bot_of(team_id)[0],
            api_app_id=world.app_requests.api_app_id,
        )  # fmt: skip
        return self.verdict(await world.app_requests.send("app_home_opened", body))

    async def say(self, data: dict[str, Any]) -> dict[str, Any]:
        """What a person typed in a channel: a slash command goes to the app, and the answer
        of its acknowledgement is shown to them alone, as Slack shows it (or to the channel
        with `response_type: in_channel`); anything else is their message in the channel."""
        world = self.world
        user_id, text = str(data.get("user") or ""), str(data.get("text") or "").strip()
        user = world.users.get(user_id)
        channel = world.channels.get(str(data.get("channel") or ""))
        if user is None or channel is None or not text:
            return {"ok": False, "error": "a person, a channel and some text, please"}
        if not text.startswith("/"):
            said = {"type": "message", "user": user_id, "text": escape(text),
                    "ts": world.next_ts(self.clock.now())}  # fmt: skip
            world.messages[channel.id].append(said)
            return {"ok": True}
        if world.app_requests is None:
            return {"ok": False, "error": "no app to send to: set world.app_requests"}
        command, _, rest = text.partition(" ")
        body = slash_command(
            command, rest.strip(), team_id=user["team_id"], user_id=user_id,
            channel_id=channel.id, trigger_id=world.issue_trigger(user_id, at=self.clock.now()),
            user_name=user["name"], channel_name=channel.name,
            api_app_id=world.app_requests.api_app_id,
        )  # fmt: skip
        answer = await world.app_requests.send("slash_command", body)
        if isinstance(answer, str) or answer.status_code != 200 or not answer.content:
            return self.verdict(answer)
        try:
            said = answer.json()
        except ValueError:
            said = {"text": answer.text}
        if not isinstance(said, dict):
            said = {"text": str(said)}
        note: dict[str, Any] = {"channel": channel.id, "ts": world.next_ts(self.clock.now()),
                                "text": str(said.get("text", ""))}  # fmt: skip
        if said.get("blocks"):
            note["blocks"] = said["blocks"]
        if said.get("response_type") == "in_channel":
            bot_user, bot_id = world.bot_of(channel.team_id)
            world.messages[channel.id].append({"type": "message", "user": bot_user,
                                               "bot_id": bot_id, **note})  # fmt: skip
        else:
            world.ephemerals[user_id].append(note)
        return {"ok": True}

    @staticmethod
    def verdict(answer: httpx.Response | str) -> dict[str, Any]:
        if isinstance(answer, str):
            return {"ok": False, "error": answer}
        if answer.status_code != 200:
            return {"ok": False, "error": f"the app answered HTTP {answer.status_code}"}
        return {"ok": True}
