"""A small check of Slack's Block Kit limits (`../shared/reference/slack-platform.md`) for the
views' tests: block counts, text lengths, ids unique and short, and `mrkdwn` whose only control
sequences are the ones we mean (links, mentions, dates) — so a title full of `<`, `>` and `&`
shows as written."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

# Our own control sequences: a mention, a date, a link with its label.
_CONTROL = re.compile(
    r"<@[UW][A-Z0-9]+>|<!date\^\d+\^[^|<>]*\|[^<>]*>|<https?://[^\s|<>]+\|[^<>]*>"
)
_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


class Invalid(AssertionError):
    """What Slack would answer `invalid_blocks` (or `msg_too_long`) to."""


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise Invalid(what)


def check_mrkdwn(text: str) -> None:
    rest = _CONTROL.sub("", text)
    _need("<" not in rest and ">" not in rest, f"unescaped < or > in {text[:120]!r}")
    _need(not _ENTITY.search(text), f"unescaped & in {text[:120]!r}")


def _text(obj: dict[str, Any], limit: int, *, plain_only: bool = False) -> None:
    _need(
        obj.get("type") in (("plain_text",) if plain_only else ("plain_text", "mrkdwn")), str(obj)
    )
    _need(0 < len(obj["text"]) <= limit, f"text of {len(obj['text'])} > {limit}")
    if obj["type"] == "mrkdwn":
        check_mrkdwn(obj["text"])


def _elements(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "accessory" in block:
        yield block["accessory"]
    if block["type"] == "actions":
        yield from block["elements"]


def _option(option: dict[str, Any]) -> None:
    _text(option["text"], 75, plain_only=True)
    _need(0 < len(option["value"]) <= 150, f"option value {option['value']!r}")


def _element(element: dict[str, Any]) -> None:
    _need(0 < len(element["action_id"]) <= 255, f"action_id {element['action_id']!r}")
    if element["type"] == "button":
        _text(element["text"], 75, plain_only=True)
        _need(len(element.get("value", "")) <= 2000, "button value")
        _need(len(element.get("url", "")) <= 3000, "button url")
        if "confirm" in element:
            box = element["confirm"]
            _text(box["title"], 100, plain_only=True)
            _text(box["text"], 300)
            _text(box["confirm"], 30, plain_only=True)
            _text(box["deny"], 30, plain_only=True)
    elif element["type"] in ("static_select", "external_select"):
        _text(element["placeholder"], 150, plain_only=True)
        options = element.get("options", [])
        _need(element["type"] == "external_select" or 0 < len(options) <= 100, "options")
        for option in options:
            _option(option)
        if "initial_option" in element:
            _option(element["initial_option"])
            if element["type"] == "static_select":
                _need(element["initial_option"] in options, "initial option not among options")
    else:
        raise Invalid(f"element type not checked here: {element['type']}")


def check_blocks(blocks: Sequence[dict[str, Any]], max_blocks: int) -> None:
    _need(0 < len(blocks) <= max_blocks, f"{len(blocks)} blocks > {max_blocks}")
    block_ids: list[str] = []
    action_ids: list[str] = []
    for block in blocks:
        if "block_id" in block:
            _need(0 < len(block["block_id"]) <= 255, f"block_id {block['block_id']!r}")
            block_ids.append(block["block_id"])
        kind = block["type"]
        if kind == "header":
            _text(block["text"], 150, plain_only=True)
        elif kind == "section":
            _text(block["text"], 3000)
        elif kind == "context":
            _need(0 < len(block["elements"]) <= 10, "context elements")
            for text in block["elements"]:
                _text(text, 3000)
        elif kind == "actions":
            _need(0 < len(block["elements"]) <= 25, "actions elements")
        else:
            _need(kind == "divider", f"block type not checked here: {kind}")
        for element in _elements(block):
            _element(element)
            action_ids.append(element["action_id"])
    _need(len(set(block_ids)) == len(block_ids), f"block_id repeated: {sorted(block_ids)}")
    _need(len(set(action_ids)) == len(action_ids), f"action_id repeated: {sorted(action_ids)}")


def check_message(message: dict[str, Any]) -> None:
    """`message` is the `text` and `blocks` of `chat.postMessage` / `chat.update`."""
    _need(0 < len(message["text"]) <= 40_000, "message text")
    check_mrkdwn(message["text"])
    check_blocks(message["blocks"], 50)
    size = len(message["text"]) + len(texts(message["blocks"]))
    _need(size <= 40_000, f"{size} characters of text in one message > 40,000")


def check_view(view: dict[str, Any]) -> None:
    _need(view["type"] in ("home", "modal"), "view type")
    check_blocks(view["blocks"], 100)


def check_options(answer: dict[str, Any]) -> None:
    """The answer to an external select's options request."""
    _need(len(answer["options"]) <= 100, f"{len(answer['options'])} options > 100")
    for option in answer["options"]:
        _option(option)
    values = [option["value"] for option in answer["options"]]
    _need(len(set(values)) == len(values), "option value repeated")


def action_ids(blocks: Sequence[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for block in blocks for e in _elements(block)]


def texts(blocks: Sequence[dict[str, Any]]) -> str:
    """Every text of `blocks`, one per line (to look for words in tests)."""
    found: list[str] = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        if block["type"] == "context":
            found += [element["text"] for element in block["elements"]]
        found += [element["text"]["text"] for element in _elements(block) if "text" in element]
    return "\n".join(found)
