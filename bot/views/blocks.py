"""Block Kit's pieces, each built within Slack's limits (`../shared/reference/slack-platform.md`).

Builders take text already made safe for `mrkdwn` (see `bot.views.mrkdwn`) and cut what they
are given to the element's limit, so a long name can make a message shorter but never invalid.
Blocks are plain dictionaries, ready for `chat.postMessage`, `chat.update` and `views.publish`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.views.mrkdwn import cut

Block = dict[str, Any]

MESSAGE_BLOCKS = 50  # blocks in one message
VIEW_BLOCKS = 100  # blocks in a Home tab or a modal
SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS = 100  # options in a menu, or in one answer of an external menu
ID_LENGTH = 255  # action_id, block_id
ACTIONS_ELEMENTS = 25
CONTEXT_ELEMENTS = 10
CONFIRM_TITLE, CONFIRM_TEXT, CONFIRM_BUTTON = 100, 300, 30
MESSAGE_TEXT = 4000  # the notification text we send with a message (Slack takes 40,000)


@dataclass(frozen=True)
class SlackMessage:
    """One message: the notification `text` (and screen readers' fallback) and its blocks."""

    text: str
    blocks: tuple[Block, ...]

    def payload(self) -> dict[str, Any]:
        """The `text` and `blocks` arguments of `chat.postMessage` / `chat.update`."""
        return {"text": self.text, "blocks": list(self.blocks)}


def _checked_id(value: str) -> str:
    if not value or len(value) > ID_LENGTH:
        raise ValueError(f"a Block Kit id must be 1 to {ID_LENGTH} characters: {value[:40]!r}…")
    return value


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit), "emoji": True}


def markdown(text: str) -> dict[str, Any]:
    """A `mrkdwn` text object; `text` must already be escaped (bot.views.mrkdwn)."""
    return {"type": "mrkdwn", "text": cut(text, SECTION_TEXT)}


def header(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "header", "text": plain(text or " ", HEADER_TEXT)}
    if block_id:
        block["block_id"] = _checked_id(block_id)
    return block


def section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    """A section of `mrkdwn` text (escaped by the caller), at most 3,000 characters."""
    block: Block = {"type": "section", "text": markdown(text or " ")}
    if block_id:
        block["block_id"] = _checked_id(block_id)
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(*texts: str, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "context",
        "elements": [markdown(text) for text in texts[:CONTEXT_ELEMENTS]],
    }
    if block_id:
        block["block_id"] = _checked_id(block_id)
    return block


def divider() -> Block:
    return {"type": "divider"}


def action_row(elements: Sequence[Block], *, block_id: str) -> Block:
    return {
        "type": "actions",
        "block_id": _checked_id(block_id),
        "elements": list(elements[:ACTIONS_ELEMENTS]),
    }


def confirm(title: str, text: str, yes: str, no: str = "Cancel") -> dict[str, Any]:
    """A confirmation dialog; `text` is `mrkdwn`, escaped by the caller."""
    return {
        "title": plain(title, CONFIRM_TITLE),
        "text": {"type": "mrkdwn", "text": cut(text, CONFIRM_TEXT)},
        "confirm": plain(yes, CONFIRM_BUTTON),
        "deny": plain(no, CONFIRM_BUTTON),
    }


def button(
    text: str,
    *,
    action_id: str,
    value: str | None = None,
    style: Literal["primary", "danger"] | None = None,
    url: str | None = None,
    confirmation: dict[str, Any] | None = None,
) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT),
        "action_id": _checked_id(action_id),
    }
    if value is not None:
        element["value"] = value[:BUTTON_VALUE]
    if style is not None:
        element["style"] = style
    if url is not None:
        element["url"] = url
    if confirmation is not None:
        element["confirm"] = confirmation
    return element


def option(text: str, value: str) -> dict[str, Any]:
    """A menu option; `value` must fit (`OPTION_VALUE`) — callers skip values that do not."""
    if not value or len(value) > OPTION_VALUE:
        raise ValueError(f"an option's value must be 1 to {OPTION_VALUE} characters")
    return {"text": plain(text or value, OPTION_TEXT), "value": value}


def static_select(
    placeholder: str,
    *,
    action_id: str,
    options: Sequence[dict[str, Any]],
    initial: dict[str, Any] | None = None,
) -> Block:
    element: Block = {
        "type": "static_select",
        "action_id": _checked_id(action_id),
        "placeholder": plain(placeholder, OPTION_TEXT),
        "options": list(options[:OPTIONS]),
    }
    if initial is not None:
        element["initial_option"] = initial
    return element


def external_select(
    placeholder: str, *, action_id: str, initial: dict[str, Any] | None = None
) -> Block:
    """A menu whose options Slack asks us for as the person types (`bot.views.options`)."""
    element: Block = {
        "type": "external_select",
        "action_id": _checked_id(action_id),
        "placeholder": plain(placeholder, OPTION_TEXT),
        "min_query_length": 0,
    }
    if initial is not None:
        element["initial_option"] = initial
    return element
