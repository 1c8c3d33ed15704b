"""The meeting message: a header (title, summary, counts by state), then one line per action
item with its buttons; long meetings continue in thread replies.

    meeting_messages(result, title=…, summary=…, details=…) -> MeetingMessages

Always rendered whole from the meeting's current state, so whoever renders last shows the
truth. Slack takes at most 50 blocks a message; an item takes at most two (its line, and its
buttons while it waits for a connection or a choice), so each message holds a fixed
`ITEMS_PER_MESSAGE` items in the meeting's order: item n is always in message
(n - 1) // ITEMS_PER_MESSAGE, whatever the items' states. The notifier can therefore keep the
timestamp of each message and `chat.update` it in place — a state change never moves an item
to another message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.views.blocks import (
    MESSAGE_BLOCKS,
    MESSAGE_TEXT,
    SECTION_TEXT,
    Block,
    SlackMessage,
    action_row,
    context,
    header,
    section,
)
from bot.views.mrkdwn import cut, fit, one_line
from bot.views.task_lines import LOOKS, TaskDetails, look, meeting_buttons, task_line
from primitives.enums import ProviderName
from routing.results import MeetingResult, TaskResult

HEADER_BLOCKS = 3  # title, summary, counts
CONTINUATION_BLOCKS = 1  # "continued" line
ITEM_BLOCKS = 2  # the line, and its buttons
ITEMS_PER_MESSAGE = (MESSAGE_BLOCKS - HEADER_BLOCKS) // ITEM_BLOCKS  # 23
assert HEADER_BLOCKS + ITEMS_PER_MESSAGE * ITEM_BLOCKS <= MESSAGE_BLOCKS
assert CONTINUATION_BLOCKS + ITEMS_PER_MESSAGE * ITEM_BLOCKS <= MESSAGE_BLOCKS


@dataclass(frozen=True)
class MeetingMessages:
    """The message posted to the channel, and the thread replies that continue it (in order;
    reply k holds items k·N+N+1 to k·N+2N, N = `ITEMS_PER_MESSAGE`)."""

    first: SlackMessage
    replies: tuple[SlackMessage, ...]

    @property
    def all(self) -> tuple[SlackMessage, ...]:
        return (self.first, *self.replies)


def counts_text(items: Sequence[TaskResult]) -> str:
    """ "5 created · 2 waiting for a connection · 1 to choose" (states in lifecycle order)."""
    counted = Counter(item.status for item in items)
    order = [*LOOKS, *sorted(set(counted) - set(LOOKS))]
    parts = [f"{counted[state]} {look(state).counted}" for state in order if counted[state]]
    return " · ".join(parts) if parts else "No action items"


def meeting_messages(
    result: MeetingResult,
    *,
    title: str,
    summary: str | None = None,
    details: Mapping[str, TaskDetails] | None = None,
    tools: Sequence[ProviderName] = tuple(ProviderName),
) -> MeetingMessages:
    """The meeting's messages, from its items in the meeting's order.

    `details` gives, by task id, what a `TaskResult` does not hold (due date, priority, the
    assignee's name); `tools` are the tools this installation offers (the connect and choose
    buttons).
    """
    details = details or {}
    items = result.items
    size = ITEMS_PER_MESSAGE
    chunks = [items[start : start + size] for start in range(0, len(items), size)] or [()]
    name = one_line(title) or "Meeting"
    counts = counts_text(items)

    first_blocks: list[Block] = [header(name, block_id="meeting:title")]
    if summary and summary.strip():
        first_blocks.append(section(fit(summary.strip(), SECTION_TEXT), block_id="meeting:summary"))
    summary_line = [counts]
    if len(chunks) > 1:
        summary_line.append(f"Items {size + 1} to {len(items)} continue in the thread")
    first_blocks.append(context(*summary_line, block_id="meeting:counts"))
    first_blocks += _item_blocks(chunks[0], 1, details, tools)
    first = SlackMessage(cut(f"{fit(name, 1000)}: {counts}", MESSAGE_TEXT), tuple(first_blocks))

    replies: list[SlackMessage] = []
    for index, chunk in enumerate(chunks[1:], start=1):
        start = index * size + 1
        span = f"items {start} to {start + len(chunk) - 1} of {len(items)}"
        note = f"*{fit(name, 300)}* — continued: {span}"
        blocks = [context(note, block_id="meeting:continued")]
        blocks += _item_blocks(chunk, start, details, tools)
        text = cut(f"{fit(name, 1000)} (continued): {span}", MESSAGE_TEXT)
        replies.append(SlackMessage(text, tuple(blocks)))
    return MeetingMessages(first, tuple(replies))


def _item_blocks(
    chunk: Sequence[TaskResult],
    start: int,
    details: Mapping[str, TaskDetails],
    tools: Sequence[ProviderName],
) -> list[Block]:
    blocks: list[Block] = []
    for number, item in enumerate(chunk, start=start):
        blocks.append(
            section(task_line(item, details.get(item.task_id)), block_id=f"item:{number}")
        )
        buttons = meeting_buttons(item, tools)
        if buttons:
            blocks.append(action_row(buttons, block_id=f"item_buttons:{number}"))
    return blocks
