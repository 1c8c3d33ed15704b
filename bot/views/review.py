"""The review's direct message, its reminder, and the Edit modal (`routing.review`).

    review_message(meeting_title, items, details, meeting_id=…) -> SlackMessage
    review_reminder(meeting_title, waiting)                      -> SlackMessage
    edit_modal(item, initial_project=…)                          -> the `view` of `views.open`
    read_edit(view, earliest=…, original_due=…)                  -> ReviewEdit, or field errors

The message lists one owner's items of one meeting, each with Create / Edit / Dismiss while it
is under review and its state once it is not, and "Create all" while any is left. It is
rendered whole from the database each time, and updated in place (`bot.review_message`). At
most `ITEMS_SHOWN` items (two blocks each) keep it within Slack's 50 blocks; the rest are in
the Home tab and `/tasks pending`, with the same buttons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.views import actions
from bot.views.blocks import (
    MESSAGE_BLOCKS,
    Block,
    SlackMessage,
    action_row,
    button,
    context,
    plain,
    section,
)
from bot.views.blocks import (
    option as menu_option,
)
from bot.views.mrkdwn import cut, fit, one_line
from bot.views.task_lines import TaskDetails, meeting_buttons, review_buttons, task_line
from bot.views.task_modal import DUE, project_value, read_submission, task_fields
from primitives.enums import ProviderName, TaskState
from routing.results import TaskResult
from routing.review import ReviewEdit, ReviewItem

EDIT_MODAL_ID = "review:edit"  # the Edit modal's callback_id; its private_metadata: the task id
ITEMS_SHOWN = 22
assert 1 + 2 * ITEMS_SHOWN + 2 <= MESSAGE_BLOCKS


def review_message(
    meeting_title: str,
    items: Sequence[TaskResult],
    details: Mapping[str, TaskDetails] | None = None,
    *,
    meeting_id: str,
    tools: Sequence[ProviderName] = tuple(ProviderName),
) -> SlackMessage:
    """One owner's items of one meeting, as they stand now: Create / Edit / Dismiss while an
    item is under review, and once created, the buttons it may need next (connect, while it
    waits for a connection; a tool, while it waits for the owner's choice)."""
    details = details or {}
    name = fit(one_line(meeting_title) or "a meeting", 300)
    waiting = [item for item in items if item.status is TaskState.REVIEW]
    if waiting:
        lead = (
            f":eyes: *{name}*: {len(waiting)} action item{'s' if len(waiting) != 1 else ''} "
            "for you to review. Nothing is created until you say so."
        )
    else:
        lead = f":white_check_mark: *{name}*: every item is reviewed."
    blocks: list[Block] = [section(lead, block_id="review:lead")]
    shown = items[:ITEMS_SHOWN]
    for number, item in enumerate(shown, start=1):
        blocks.append(
            section(
                task_line(item, details.get(item.task_id), show_owner=False),
                block_id=f"review:item:{number}",
            )
        )
        buttons = review_buttons(item) or meeting_buttons(item, tools)
        if buttons:
            blocks.append(action_row(buttons, block_id=f"review:buttons:{number}"))
    if len(items) > len(shown):
        more = f"and {len(items) - len(shown)} more — the Home tab or `/tasks pending`"
        blocks.append(context(more, block_id="review:more"))
    if len(waiting) > 1 and actions.TASK_ID.match(meeting_id):
        action = actions.create_all(meeting_id)
        blocks.append(
            action_row(
                [
                    button(
                        f"Create all ({len(waiting)})",
                        action_id=action.action_id,
                        value=action.value,
                        style="primary",
                    )
                ],
                block_id="review:all",
            )
        )
    text = cut(
        f"{one_line(meeting_title) or 'A meeting'}: {len(waiting)} item(s) to review"
        if waiting
        else f"{one_line(meeting_title) or 'A meeting'}: every item is reviewed",
        1000,
    )
    return SlackMessage(text, tuple(blocks))


def review_reminder(meeting_title: str, waiting: int) -> SlackMessage:
    """The one reminder of a review left alone."""
    name = fit(one_line(meeting_title) or "a meeting", 300)
    items = f"{waiting} action item{'s' if waiting != 1 else ''}"
    wait = "waits" if waiting == 1 else "wait"
    text = f"Reminder: {items} of {one_line(meeting_title) or 'a meeting'} still {wait} for you"
    line = (
        f":alarm_clock: Reminder: {items} of *{name}* still {wait} for your review. Nothing "
        "is created until you say so: use the buttons above, the Home tab or `/tasks pending`."
    )
    return SlackMessage(cut(text, 1000), (section(line, block_id="review:reminder"),))


def edit_modal(item: ReviewItem, *, project_label: str | None = None) -> dict[str, Any]:
    """The Edit modal, filled with the item as it is."""
    initial_project = None
    if item.provider is not None and item.destination_id:
        value = project_value(ProviderName(item.provider), item.destination_id)
        if len(value) <= 150:
            initial_project = menu_option(project_label or item.destination_name or value, value)
    blocks = task_fields(
        title=item.title, description=item.description or "", due=item.due,
        priority=item.priority, project=initial_project,
        project_label="List or database",
        project_hint="One of your ClickUp lists or Notion databases. Left empty, the item goes "
        "where your routing sends it when you create it.",
    )  # fmt: skip
    return {
        "type": "modal", "callback_id": EDIT_MODAL_ID, "title": plain("Edit the item", 24),
        "submit": plain("Save", 24), "close": plain("Cancel", 24), "blocks": blocks,
        "private_metadata": item.task_id,
    }  # fmt: skip


def read_edit(
    view: Mapping[str, Any], *, earliest: date, original_due: date | None
) -> ReviewEdit | dict[str, str]:
    """The submitted Edit form, or the errors to show on its fields. A due day already over
    is refused unless it is the one the item came with (a meeting may name a late item)."""
    floor = min(earliest, original_due) if original_due is not None else earliest
    form = read_submission(view, earliest=floor)
    if isinstance(form, dict):
        return form
    if form.due is not None and form.due < earliest and form.due != original_due:
        return {DUE: "That day is over. Pick today or a later day."}
    return ReviewEdit(form.title, form.description, form.due, form.priority, form.project)


# Where an item goes once its owner lets it go, in a few words ("2 items are being created").
_BEING_CREATED = (TaskState.QUEUED, TaskState.IN_FLIGHT, TaskState.RETRYING, TaskState.CREATED)
_RELEASED = {
    **dict.fromkeys(_BEING_CREATED, "being created"),
    TaskState.PENDING_AUTH: "waiting for you to connect a tool",
    TaskState.AWAITING_CHOICE: "waiting for you to choose a tool",
    TaskState.FAILED: "failed",
}


def released_sentence(tasks: Sequence[TaskResult]) -> str:
    """One sentence for the items "Create all" let go: "2 items are being created.", or
    "3 items: 2 being created, 1 waiting for you to connect a tool." """
    counts: dict[str, int] = {}
    for task in tasks:
        where = _RELEASED.get(task.status, "let go")
        counts[where] = counts.get(where, 0) + 1
    total = len(tasks)
    if len(counts) == 1:
        [where] = counts
        return f"{total} item{'s are' if total != 1 else ' is'} {where}."
    parts = ", ".join(f"{count} {where}" for where, count in counts.items())
    return f"{total} items: {parts}."
