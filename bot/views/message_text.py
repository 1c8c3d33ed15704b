"""A Slack message's text as a person reads it, for a task made from the message.

A message's `text` is Slack's markup: `<@U123>` for a mention, `<#C123|general>` for a channel,
`<https://…|label>` for a link, `<!here>`, `<!date^…|fallback>`, `&lt;` `&gt;` `&amp;` for the
three control characters, and `*bold*` `_italic_` `~strike~` `` `code` `` around words. A task
title or description in ClickUp or Notion shows none of it, so:

    as_plain("Ship <https://x.io|the page> for <@U1>: *today* &amp; _tomorrow_", {"U1": "Ana"})
        == "Ship the page (https://x.io) for @Ana: today & tomorrow"

`message_text(message)` is the markup to start from: the message's `text`, or for a message an
app posted with blocks or attachments only, their text.

`links=False` keeps a link's label alone (for a title). A mention whose name is not known
shows as `@` and the id. Emoji codes (`:tada:`) are kept: Slack shows them in the modal, and
they read as words anywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_ANGLE = re.compile(r"<([^<>]*)>")
_MENTION = re.compile(r"^@([UW][A-Z0-9]+)$")
# Slack's formatting marks, each around text that does not start or end with a space, and
# not inside a word (snake_case and 2*3*4 stay as written).
_MARKS = [
    re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"),
    re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"),
    re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"),
]
_FENCE = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_QUOTE = re.compile(r"^&gt;\s?", re.MULTILINE)
_SPACES = re.compile(r"[ \t]+")
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text in Slack's markup: its `text`, else (a message an app posted with
    blocks or attachments only) the text of its sections and attachments."""
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return text
    parts: list[str] = []
    for block in message.get("blocks") or ():
        if isinstance(block, dict) and block.get("type") in ("section", "header"):
            inner = block.get("text") or {}
            if isinstance(inner, dict) and isinstance(inner.get("text"), str):
                parts.append(inner["text"])
    for attachment in message.get("attachments") or ():
        if isinstance(attachment, dict):
            found = attachment.get("text") or attachment.get("fallback")
            if isinstance(found, str):
                parts.append(found)
    return "\n".join(part for part in parts if part.strip())


def mentioned_users(text: str) -> list[str]:
    """The user ids mentioned without a name (`<@U123>`), each once, in order."""
    found: dict[str, None] = {}
    for inner in _ANGLE.findall(text):
        match = _MENTION.match(inner)
        if match:
            found[match.group(1)] = None
    return list(found)


def as_plain(text: str, names: Mapping[str, str] | None = None, *, links: bool = True) -> str:
    """`text` (Slack's markup) as plain text; `names` are people's names by user id."""
    names = names or {}

    def angle(match: re.Match[str]) -> str:
        return _angle(match.group(1), names, links=links)

    text = _FENCE.sub(lambda m: m.group(1), text)
    text = _CODE.sub(lambda m: m.group(1), text)
    text = _QUOTE.sub("", text)
    text = _ANGLE.sub(angle, text)
    for mark in _MARKS:
        text = mark.sub(lambda m: m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(lines).strip()


def _angle(inner: str, names: Mapping[str, str], *, links: bool) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        user_id = target[1:]
        return "@" + (label or names.get(user_id) or user_id)
    if target.startswith("#"):
        return "#" + (label or "channel")
    if target.startswith("!"):
        word = target[1:].split("^", 1)[0]
        if word in _SPECIAL:
            return _SPECIAL[word]
        if word == "subteam":
            return label or "@group"
        return label or ""  # a date's fallback text
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    if label and label != target:
        return f"{label} ({target})" if links else label
    return target
