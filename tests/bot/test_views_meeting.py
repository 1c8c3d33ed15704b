"""The meeting message: a header with counts, one line per item with its buttons, within
Slack's limits however long the meeting or odd its titles; chunks that never move an item."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.views.actions import parse_action
from bot.views.meeting import ITEMS_PER_MESSAGE, MeetingMessages, meeting_messages
from bot.views.task_lines import TaskDetails
from primitives.enums import Priority, ProviderName, TaskState
from routing.results import MeetingResult, TaskResult
from tests.bot.blockkit import action_ids, check_message, texts
from tests.bot.views_data import task

S = TaskState
NASTY = "<script>alert('x')</script> & *bold* _it_ ~s~ `c` > 🎉👩🏽‍💻 <@U999> <!channel> &amp;"


def render(*items: TaskResult, **kwargs: object) -> MeetingMessages:
    messages = meeting_messages(
        MeetingResult("mtg_1", tuple(items), True),
        title=str(kwargs.pop("title", "Weekly sync")),
        **kwargs,  # type: ignore[arg-type]
    )
    for message in messages.all:
        check_message(message.payload())
    return messages


def item_block(messages: MeetingMessages, number: int) -> str:
    for message in messages.all:
        for block in message.blocks:
            if block.get("block_id") == f"item:{number}":
                return str(block["text"]["text"])
    raise AssertionError(f"no item {number}")


def buttons(messages: MeetingMessages, number: int) -> list[tuple[str, str, str]]:
    for message in messages.all:
        for block in message.blocks:
            if block.get("block_id") == f"item_buttons:{number}":
                return [(e["text"]["text"], e["action_id"], e["value"]) for e in block["elements"]]
    return []


def test_the_header_names_the_meeting_its_summary_and_the_counts_by_state() -> None:
    items = [task(n, S.CREATED) for n in range(1, 6)]
    items += [task(6, S.PENDING_AUTH), task(7, S.PENDING_AUTH), task(8, S.AWAITING_CHOICE)]
    messages = render(*items, summary="We planned the launch.")
    first = messages.first
    assert first.blocks[0] == {
        "type": "header",
        "block_id": "meeting:title",
        "text": {"type": "plain_text", "text": "Weekly sync", "emoji": True},
    }
    assert first.blocks[1]["text"]["text"] == "We planned the launch."
    counts = "5 created · 2 waiting for a connection · 1 to choose"
    assert first.blocks[2]["elements"][0]["text"] == counts
    assert first.text == f"Weekly sync: {counts}"
    assert messages.replies == ()


def test_a_meeting_without_items_says_so() -> None:
    messages = render()
    assert "No action items" in texts(messages.first.blocks)


def test_a_created_item_links_to_its_task_and_has_no_buttons() -> None:
    messages = render(task(1, S.CREATED, title="Ship <it> & tell"))
    line = item_block(messages, 1)
    assert line.startswith(
        ":white_check_mark: *Created* in ClickUp · "
        "<https://app.clickup.com/t/1|Ship &lt;it&gt; &amp; tell>"
    )
    assert "<@U1>" in line
    assert buttons(messages, 1) == []


def test_an_item_waiting_for_a_connection_shows_its_reason_and_connect_buttons() -> None:
    messages = render(task(1, S.PENDING_AUTH))
    line = item_block(messages, 1)
    assert ":electric_plug: *Waiting for a connection* · Action 1" in line
    assert "waiting for you to connect ClickUp or Notion" in line
    assert buttons(messages, 1) == [
        ("Connect ClickUp", "connect:clickup:tsk_1", "tsk_1"),
        ("Connect Notion", "connect:notion:tsk_1", "tsk_1"),
    ]
    action = parse_action("connect:notion:tsk_1", "tsk_1")
    assert (action.tool, action.task_id) == (ProviderName.NOTION, "tsk_1")


def test_only_the_tools_offered_get_a_connect_button() -> None:
    messages = render(task(1, S.PENDING_AUTH), tools=(ProviderName.NOTION,))
    assert [text for text, _, _ in buttons(messages, 1)] == ["Connect Notion"]


def test_an_ask_me_item_offers_both_tools_and_nothing_once_chosen() -> None:
    waiting = render(task(1, S.AWAITING_CHOICE))
    assert ":point_right: *Choose a tool*" in item_block(waiting, 1)
    assert buttons(waiting, 1) == [
        ("ClickUp", "choose:clickup:tsk_1", "tsk_1"),
        ("Notion", "choose:notion:tsk_1", "tsk_1"),
    ]
    chosen = render(task(1, S.QUEUED))
    assert ":hourglass_flowing_sand: *Queued*" in item_block(chosen, 1)
    assert buttons(chosen, 1) == []


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        (S.QUEUED, ":hourglass_flowing_sand: *Queued* · Action 1"),
        (S.IN_FLIGHT, ":arrows_counterclockwise: *Being created* · Action 1"),
        (S.RETRYING, ":repeat: *Retrying* · Action 1"),
        (S.FAILED, ":x: *Failed* · Action 1"),
        (S.DISMISSED, ":no_entry_sign: *Dismissed* · Action 1"),
    ],
)
def test_other_states_show_their_word_and_reason_without_buttons(
    state: TaskState, shown: str
) -> None:
    messages = render(task(1, state))
    line = item_block(messages, 1)
    assert line.startswith(shown)
    reason = task(1, state).reason
    assert reason is not None
    assert reason in line
    assert buttons(messages, 1) == []


def test_due_date_priority_and_assignee_are_on_the_line() -> None:
    details = {
        "tsk_1": TaskDetails(date(2026, 3, 9), Priority.URGENT, "Pat <Vendor>"),
        "tsk_2": TaskDetails(datetime(2026, 3, 9, 15, 30, tzinfo=UTC)),
    }
    messages = render(task(1), task(2), details=details)
    assert "<@U1> · for Pat &lt;Vendor&gt; · due Mon 09 Mar 2026 · priority urgent" in (
        item_block(messages, 1)
    )
    moment = int(datetime(2026, 3, 9, 15, 30, tzinfo=UTC).timestamp())
    assert (
        f"due <!date^{moment}^{{date_short_pretty}} {{time}}|Mon 09 Mar 2026 15:30 UTC>"
        in item_block(messages, 2)
    )


def test_an_owner_that_is_not_a_slack_id_is_shown_as_text() -> None:
    line = item_block(render(task(1, owner_user_id="<!everyone>")), 1)
    assert "&lt;!everyone&gt;" in line
    assert "<!everyone>" not in line


def test_a_120_item_meeting_stays_within_50_blocks_a_message() -> None:
    items = [task(n, (S.PENDING_AUTH, S.AWAITING_CHOICE)[n % 2]) for n in range(1, 121)]
    messages = render(*items, summary="x" * 5000)
    assert all(len(message.blocks) <= 50 for message in messages.all)
    assert len(messages.all) == -(-120 // ITEMS_PER_MESSAGE)
    numbers = [
        block["block_id"]
        for message in messages.all
        for block in message.blocks
        if block.get("block_id", "").startswith("item:")
    ]
    assert numbers == [f"item:{n}" for n in range(1, 121)]
    assert "Items 24 to 120 continue in the thread" in texts(messages.first.blocks)
    assert messages.replies[0].text == "Weekly sync (continued): items 24 to 46 of 120"
    assert messages.replies[-1].blocks[0]["elements"][0]["text"] == (
        "*Weekly sync* — continued: items 116 to 120 of 120"
    )


def test_chunks_keep_their_items_whatever_the_states() -> None:
    """The notifier updates each stored message in place: an item never moves to another."""

    def layout(messages: MeetingMessages) -> list[list[str]]:
        return [
            [b["block_id"] for b in m.blocks if b.get("block_id", "").startswith("item:")]
            for m in messages.all
        ]

    waiting = render(*[task(n, S.PENDING_AUTH) for n in range(1, 121)])
    done = render(*[task(n, S.CREATED if n % 3 else S.FAILED) for n in range(1, 121)])
    assert layout(waiting) == layout(done)
    assert render(*[task(n, S.PENDING_AUTH) for n in range(1, 121)]) == waiting


def test_titles_full_of_control_characters_and_emoji_are_escaped_and_fit() -> None:
    items = [
        task(1, S.CREATED, title=NASTY * 60, url="https://x.example/t?a=1&b=<2>"),
        task(2, S.CREATED, title=NASTY, url="https://x.example/t?a=1&b=2"),
        task(3, S.PENDING_AUTH, title=NASTY * 60, reason=NASTY * 60),
        task(4, S.AWAITING_CHOICE, title="&" * 3000),
        task(5, S.FAILED, title="", reason="<" * 5000),
    ]
    messages = render(*items, title=NASTY * 10, summary=NASTY * 100)
    assert len(messages.first.blocks[0]["text"]["text"]) <= 150
    line = item_block(messages, 2)
    label = "&lt;script&gt;alert('x')&lt;/script&gt; &amp; *bold*"
    assert f"<https://x.example/t?a=1&amp;b=2|{label}" in line
    assert "&lt;@U999&gt; &lt;!channel&gt; &amp;amp;" in line
    assert item_block(messages, 1).startswith(":white_check_mark: *Created* in ClickUp · &lt;")
    assert item_block(messages, 3).count("…") == 2
    assert item_block(messages, 4).endswith("…\n<@U1>\nyou asked to choose the tool for each task")
    assert "(untitled)" in item_block(messages, 5)
    assert "&lt;" in messages.first.text


def test_every_action_and_block_id_is_unique_and_short() -> None:
    long_id = "tsk_" + "x" * 60
    items = [task(n, (S.PENDING_AUTH, S.AWAITING_CHOICE)[n % 2]) for n in range(1, 47)]
    items.append(task(47, S.PENDING_AUTH, task_id=long_id))
    messages = render(*items)
    ids = [i for message in messages.all for i in action_ids(message.blocks)]
    assert len(ids) == len(set(ids)) == 47 * 2
    assert all(len(i) <= 255 for i in ids)


def test_a_task_id_our_buttons_cannot_carry_gets_no_buttons() -> None:
    messages = render(task(1, S.PENDING_AUTH, task_id="tsk:1|x"))
    assert "Action 1" in item_block(messages, 1)
    assert buttons(messages, 1) == []


def test_a_long_meeting_of_the_longest_items_stays_within_a_message_s_text() -> None:
    due = datetime(2026, 3, 9, 15, 30, tzinfo=UTC)
    worst = [
        task(
            n, (S.CREATED, S.PENDING_AUTH)[n % 2], title=NASTY * 60, reason=NASTY * 60,
            url="https://x.example/" + "a" * 380, owner_user_id="U" + "A" * 40,
        )
        for n in range(1, 121)
    ]  # fmt: skip
    details = {item.task_id: TaskDetails(due, Priority.URGENT, NASTY * 10) for item in worst}
    messages = render(*worst, title=NASTY * 10, summary=NASTY * 200, details=details)
    assert len(messages.all) == 6
    for message in messages.all:
        size = len(message.text) + len(texts(message.blocks))
        assert size <= 35_000
