"""Block Kit's limits in the Slack emulator: one test per limit that the emulator refuses what
Slack refuses (and takes what is just inside it), on messages and on views."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.slack import SlackSandbox
from sandbox.slack_blocks import block_errors, view_errors
from tests.sandbox.slack_calls import answer, button, section


def actions(*elements: dict[str, Any], block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": list(elements)}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def select(options: int) -> dict[str, Any]:
    return {"type": "static_select", "action_id": "pick",
            "placeholder": {"type": "plain_text", "text": "Pick"},
            "options": [{"text": {"type": "plain_text", "text": f"List {i}"}, "value": str(i)}
                        for i in range(options)]}  # fmt: skip


def refused(blocks: list[dict[str, Any]], message: str) -> None:
    """Refused with `message` and accepted without it."""
    errors = block_errors(blocks, "message")
    assert any(message in e for e in errors), errors


async def test_a_message_over_50_blocks_is_invalid_blocks_with_slacks_words(
    http: httpx.AsyncClient, slack_world: SlackSandbox
) -> None:
    fifty = [section(f"item {i}") for i in range(50)]
    assert (await answer(http, "chat.postMessage", channel="C0GENERAL", text="x", blocks=fifty))[
        "ok"
    ]
    body = await answer(http, "chat.postMessage", channel="C0GENERAL", text="x",
                        blocks=[*fifty, section("one more")])  # fmt: skip
    assert body["error"] == "invalid_blocks"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]
    assert body["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert len(slack_world.messages["C0GENERAL"]) == 1  # nothing posted


def test_a_view_over_100_blocks() -> None:
    rows = [section(f"row {i}") for i in range(100)]
    assert view_errors({"type": "home", "blocks": rows}) == []
    home = {"type": "home", "blocks": [*rows, section("one more")]}
    assert view_errors(home) == [
        "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"
    ]


def test_section_text_at_most_3000_characters() -> None:
    assert block_errors([section("a" * 3000)], "message") == []
    assert block_errors([section("a" * 3001)], "message") == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]


def test_header_text_at_most_150_plain_characters() -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}
    assert block_errors([header], "message") == []
    header["text"] = {"type": "plain_text", "text": "h" * 151}
    refused([header], "must be less than 151 characters [json-pointer:/blocks/0/text/text]")
    header["text"] = {"type": "mrkdwn", "text": "*bold*"}
    refused([header], "[json-pointer:/blocks/0/text/type]")


def test_block_id_at_most_255_characters() -> None:
    assert block_errors([section("x", block_id="b" * 255)], "message") == []
    refused([section("x", block_id="b" * 256)], "must be less than 256 characters")


def test_block_id_unique_within_the_message() -> None:
    refused(
        [section("x", block_id="row"), section("y", block_id="row")],
        '`block_id` "row" already exists [json-pointer:/blocks/1/block_id]',
    )


def test_action_id_at_most_255_characters() -> None:
    assert block_errors([actions(button("Go", "a" * 255))], "message") == []
    refused(
        [actions(button("Go", "a" * 256))],
        "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
    )


def test_action_id_unique_within_its_block() -> None:
    refused(
        [actions(button("ClickUp", "choose"), button("Notion", "choose"))],
        '`action_id` "choose" already exists [json-pointer:/blocks/0/elements/1/action_id]',
    )
    # The same action in every row's block is what Slack documents as fine.
    rows = [actions(button("Retry", "retry"), block_id=f"item-{i}") for i in range(3)]
    assert block_errors(rows, "message") == []


def test_at_most_25_elements_in_an_actions_block() -> None:
    assert block_errors([actions(*(button(f"{i}", f"b{i}") for i in range(25)))], "message") == []
    refused(
        [actions(*(button(f"{i}", f"b{i}") for i in range(26)))],
        "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
    )


def test_button_text_at_most_75_characters() -> None:
    assert block_errors([actions(button("b" * 75, "go"))], "message") == []
    refused(
        [actions(button("b" * 76, "go"))],
        "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
    )


def test_button_value_at_most_2000_characters() -> None:
    assert block_errors([actions(button("Go", "go", value="v" * 2000))], "message") == []
    refused(
        [actions(button("Go", "go", value="v" * 2001))],
        "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
    )


def test_static_select_at_most_100_options() -> None:
    assert block_errors([actions(select(100))], "message") == []
    refused(
        [actions(select(101))],
        "no more than 100 items allowed [json-pointer:/blocks/0/elements/0/options]",
    )


def test_modal_title_at_most_24_characters_and_submit_with_inputs() -> None:
    field = {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
             "element": {"type": "plain_text_input", "action_id": "value"}}  # fmt: skip
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "t" * 24},
             "submit": {"type": "plain_text", "text": "Create"}, "blocks": [field]}  # fmt: skip
    assert view_errors(modal) == []
    assert view_errors({**modal, "title": {"type": "plain_text", "text": "t" * 25}}) == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    assert view_errors({k: v for k, v in modal.items() if k != "submit"}) == [
        "[ERROR] missing required field: submit [json-pointer:/view/submit]"
    ]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "carousel"},  # not a block type
        {"type": "section"},  # neither text nor fields
        {"type": "section", "text": "a bare string"},  # text must be a text object
        {"type": "section", "text": {"type": "mrkdwn", "text": ""}},  # empty text
        {"type": "actions", "elements": [{"type": "slider", "action_id": "s"}]},  # no such element
        {"type": "input", "label": {"type": "plain_text", "text": "Due"}},  # no element
    ],
)
async def test_unknown_or_malformed_blocks_are_invalid_blocks(
    http: httpx.AsyncClient, block: dict[str, Any]
) -> None:
    body = await answer(http, "chat.postMessage", channel="C0GENERAL", text="x", blocks=[block])
    assert body["error"] == "invalid_blocks"
    assert all(m.startswith("[ERROR] ") and "[json-pointer:/blocks/0" in m
               for m in body["response_metadata"]["messages"])  # fmt: skip


def test_titles_full_of_markup_and_emoji_count_characters_not_bytes() -> None:
    title = "<Ana> & *Bo* 🎉" * 10  # 140 characters, far more bytes
    header = {"type": "header", "text": {"type": "plain_text", "text": title}}
    assert block_errors([header], "message") == []
