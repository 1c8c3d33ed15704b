"""Messages in the Slack emulator: `chat.postMessage`, `chat.update`, `chat.postEphemeral`,
`chat.getPermalink` and `conversations.open`, as Slack answers them.

- `channel` is a channel id of the workspace, a person's id (the bot's direct message with them,
  opened on the way, as Slack posts to the app's Messages tab) or a channel's name; anything else,
  a private channel the bot is not in, or another workspace's channel is `channel_not_found`. A
  public channel the bot is not in is `not_in_channel`, unless the token has
  `chat:write.public`.
- A message needs `text`, `blocks` or `attachments` (`no_text`); `blocks` are checked against
  Block Kit's limits (`invalid_blocks`, with `errors` and `response_metadata.messages` naming
  each fault by its JSON pointer; blocks that are not a JSON array are
  `invalid_blocks_format`). A message with blocks but no `text` is posted, as Slack posts it,
  with the emulator's own warning `missing_text_or_fallback` in `warning` and
  `response_metadata.warnings` (slack_sdk warns on the client side; Slack's Web API says
  nothing), so tests can hold the app to always sending a notification text.
- `thread_ts` must be a message of the channel (a reply's ts means its parent's thread).
- `chat.update` takes the `channel` and `ts` of a message the same bot posted:
  `message_not_found`, `cant_update_message` for anyone else's; blocks left out are kept, as
  Slack keeps them.
- `chat.postEphemeral` reaches a member of the channel only (`user_not_in_channel`); ephemeral
  messages are kept per person in `world.ephemerals` and cannot be updated.
- `conversations.open` with `users` (one: `im:write`; two to eight: `mpim:write`) answers the
  direct message's channel id; `user_not_found`, `user_disabled`, `users_list_not_supplied`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sandbox.slack_blocks import block_errors

if TYPE_CHECKING:
    from sandbox.slack import Call, SlackSandbox

MISSING_TEXT = "missing_text_or_fallback"


@dataclass
class Channel:
    id: str
    team_id: str
    name: str
    private: bool = False
    members: set[str] = field(default_factory=set)
    im_user: str | None = None  # the person of a direct message with the bot

    @property
    def is_im(self) -> bool:
        return self.im_user is not None


def _missing_scope(call: Call, needed: str) -> dict[str, Any]:
    return {"ok": False, "error": "missing_scope", "needed": needed,
            "provided": ",".join(sorted(call.granted))}  # fmt: skip


def open_im(world: SlackSandbox, team_id: str, user_id: str) -> Channel:
    """The bot's direct message with a person, opened the first time it is asked for."""
    channel_id = f"D{team_id[1:]}{user_id[1:]}"
    channel = world.channels.get(channel_id)
    if channel is None:
        bot_user = world.bot_of(team_id)[0]
        channel = Channel(channel_id, team_id, user_id, private=True,
                          members={bot_user, user_id}, im_user=user_id)  # fmt: skip
        world.channels[channel_id] = channel
    return channel


def _person(world: SlackSandbox, team_id: str, user_id: str) -> dict[str, Any] | None:
    user = world.users.get(user_id)
    if user is None:
        return None
    other = user["team_id"]
    return user if other == team_id or frozenset({team_id, other}) in world.shared else None


def resolve(world: SlackSandbox, call: Call, name: str = "channel") -> Channel | str:
    """The channel a call names, or the error Slack answers."""
    wanted = str(call.values.get(name) or "")
    if wanted[:1] in ("U", "W") and _person(world, call.team_id, wanted) is not None:
        return open_im(world, call.team_id, wanted)
    channel = world.channels.get(wanted)
    if channel is None:
        plain = wanted.removeprefix("#")
        channel = next(
            (c for c in world.channels.values() if c.team_id == call.team_id and c.name == plain),
            None,
        )
    if channel is None or channel.team_id != call.team_id:
        return "channel_not_found"
    bot_user = world.bot_of(call.team_id)[0]
    if bot_user not in channel.members:
        if channel.private:
            return "channel_not_found"
        if "chat:write.public" not in call.granted or call.method != "chat.postMessage":
            return "not_in_channel"
    return channel


def _content(call: Call) -> tuple[dict[str, Any], list[str]] | dict[str, Any]:
    """The text and blocks of a message and its warnings, or the refusal."""
    values = call.values
    text = values.get("text")
    blocks = values.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks) if blocks.strip() else None
        except ValueError:
            return {"ok": False, "error": "invalid_blocks_format"}
    if blocks is not None and not isinstance(blocks, list):
        return {"ok": False, "error": "invalid_blocks_format"}
    if not text and not blocks and not values.get("attachments"):
        return {"ok": False, "error": "no_text"}
    if blocks:
        errors = block_errors(blocks, "message")
        if errors:
            return {"ok": False, "error": "invalid_blocks",
                    "errors": [e.removeprefix("[ERROR] ") for e in errors],
                    "response_metadata": {"messages": errors}}  # fmt: skip
    content: dict[str, Any] = {"text": str(text or "")}
    if blocks is not None:
        content["blocks"] = blocks
    warnings = [MISSING_TEXT] if blocks and not text else []
    return content, warnings


def _with_warnings(answer: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if warnings:
        answer["warning"] = ",".join(warnings)
        answer["response_metadata"] = {"warnings": warnings}
    return answer


def post_message(world: SlackSandbox, call: Call) -> dict[str, Any]:
    channel = resolve(world, call)
    if isinstance(channel, str):
        return {"ok": False, "error": channel}
    content = _content(call)
    if isinstance(content, dict):
        return content
    body, warnings = content
    user_id, bot_id = world.bot_of(call.team_id)
    message: dict[str, Any] = {"type": "message", "user": user_id, "bot_id": bot_id,
                               "team": call.team_id, **body}  # fmt: skip
    thread_ts = call.values.get("thread_ts")
    if thread_ts:
        parent = world.thread_of(channel.id, str(thread_ts))
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        message["thread_ts"] = parent.get("thread_ts", parent["ts"])
    message["ts"] = world.next_ts(call.now)
    world.messages[channel.id].append(message)
    answer = {"ok": True, "channel": channel.id, "ts": message["ts"], "message": message}
    return _with_warnings(answer, warnings)


def update_message(world: SlackSandbox, call: Call) -> dict[str, Any]:
    channel = resolve(world, call)
    if isinstance(channel, str):
        return {"ok": False, "error": channel}
    message = world.thread_of(channel.id, str(call.values.get("ts") or ""))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    if message.get("bot_id") != world.bot_of(call.team_id)[1]:
        return {"ok": False, "error": "cant_update_message"}
    values = dict(call.values)
    if not values.get("text") and not values.get("blocks"):
        values.setdefault("blocks", message.get("blocks"))
    content = _content(replace(call, values=values))
    if isinstance(content, dict):
        return content
    body, warnings = content
    message.update(body)
    message["edited"] = {"user": message["user"], "ts": world.next_ts(call.now)}
    answer = {"ok": True, "channel": channel.id, "ts": message["ts"],
              "text": message["text"], "message": message}  # fmt: skip
    return _with_warnings(answer, warnings)


def post_ephemeral(world: SlackSandbox, call: Call) -> dict[str, Any]:
    channel = resolve(world, call)
    if isinstance(channel, str):
        return {"ok": False, "error": channel}
    user = str(call.values.get("user") or "")
    if user not in channel.members:
        return {"ok": False, "error": "user_not_in_channel"}
    content = _content(call)
    if isinstance(content, dict):
        return content
    body, warnings = content
    ts = world.next_ts(call.now)
    note = {"channel": channel.id, "ts": ts, **body}
    if call.values.get("thread_ts"):
        note["thread_ts"] = str(call.values["thread_ts"])
    world.ephemerals[user].append(note)
    return _with_warnings({"ok": True, "message_ts": ts}, warnings)


def get_permalink(world: SlackSandbox, call: Call) -> dict[str, Any]:
    channel = world.channels.get(str(call.values.get("channel") or ""))
    if channel is None or channel.team_id != call.team_id:
        return {"ok": False, "error": "channel_not_found"}
    message = world.thread_of(channel.id, str(call.values.get("message_ts") or ""))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    link = f"https://{call.team_id.lower()}.slack.com/archives/{channel.id}/p"
    link += message["ts"].replace(".", "")
    if "thread_ts" in message:
        link += "?" + urlencode({"thread_ts": message["thread_ts"], "cid": channel.id})
    return {"ok": True, "channel": channel.id, "permalink": link}


def open_conversation(world: SlackSandbox, call: Call) -> dict[str, Any]:
    if call.values.get("channel"):
        channel = world.channels.get(str(call.values["channel"]))
        if channel is None or channel.team_id != call.team_id:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": channel.id}}
    users = [u.strip() for u in str(call.values.get("users") or "").split(",") if u.strip()]
    if not users:
        return {"ok": False, "error": "users_list_not_supplied"}
    if len(users) > 8:
        return {"ok": False, "error": "too_many_users"}
    needed = "im:write" if len(users) == 1 else "mpim:write"
    if needed not in call.granted:
        return _missing_scope(call, needed)
    for user_id in users:
        person = _person(world, call.team_id, user_id)
        if person is None:
            return {"ok": False, "error": "user_not_found"}
        if person["deleted"]:
            return {"ok": False, "error": "user_disabled"}
    if len(users) > 1:
        channel_id = "G" + "".join(sorted(u[1:] for u in users))[:20]
        bot_user = world.bot_of(call.team_id)[0]
        already = channel_id in world.channels
        world.channels.setdefault(channel_id, Channel(channel_id, call.team_id, channel_id,
                                  private=True, members={bot_user, *users}))  # fmt: skip
    else:
        already = f"D{call.team_id[1:]}{users[0][1:]}" in world.channels
        channel_id = open_im(world, call.team_id, users[0]).id
    answer: dict[str, Any] = {"ok": True, "channel": {"id": channel_id}}
    if already:
        answer.update({"no_op": True, "already_open": True})
    return answer


MESSAGE_METHODS: dict[str, Callable[[SlackSandbox, Call], dict[str, Any]]] = {
    "chat.postMessage": post_message,
    "chat.update": update_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
    "conversations.open": open_conversation,
}
