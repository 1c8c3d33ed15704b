"""The review's direct message, its reminder and its Edit form, as pure views: within Slack's
limits whatever the number of items, buttons only while an item is under review."""

from __future__ import annotations

from datetime import date

from bot.views.actions import parse_action
from bot.views.review import (
    ITEMS_SHOWN,
    edit_modal,
    read_edit,
    released_sentence,
    review_message,
    review_reminder,
)
from bot.views.task_modal import DUE, TITLE
from primitives.enums import Priority, ProviderName, TaskState
from routing.results import TaskResult
from routing.review import ReviewEdit, ReviewItem
from tests.bot.blockkit import action_ids, check_message, texts
from tests.bot.views_data import task

S = TaskState


def test_each_item_under_review_has_its_buttons_and_create_all_counts_them() -> None:
    items = [task(1, S.REVIEW), task(2, S.CREATED), task(3, S.REVIEW), task(4, S.DISMISSED)]
    message = review_message("Weekly sync", items, meeting_id="mtg_1")
    check_message(message.payload())
    ids = action_ids(list(message.blocks))
    assert [parse_action(a).verb.value for a in ids] == [
        "create", "edit", "dismiss", "create", "edit", "dismiss", "create_all",
    ]  # fmt: skip
    assert "2 action items for you to review" in texts(list(message.blocks))
    assert "Create all (2)" in str(message.blocks[-1])


def test_a_review_with_nothing_left_has_no_buttons() -> None:
    message = review_message("Weekly sync", [task(1, S.CREATED)], meeting_id="mtg_1")
    check_message(message.payload())
    assert action_ids(list(message.blocks)) == []
    assert "every item is reviewed" in message.text


def test_a_long_meeting_stays_within_fifty_blocks() -> None:
    items = [task(n, S.REVIEW, title="x" * 400) for n in range(1, 41)]
    message = review_message("A" * 500, items, meeting_id="mtg_1")
    check_message(message.payload())
    assert len(message.blocks) <= 50
    assert f"and {40 - ITEMS_SHOWN} more" in texts(list(message.blocks))


def test_the_reminder_counts_the_items_left() -> None:
    message = review_message("Sync", [task(1, S.REVIEW)], meeting_id="mtg_1")
    reminder = review_reminder("Sync", 1)
    check_message(message.payload())
    check_message(reminder.payload())
    assert "1 action item of *Sync* still waits for your review" in texts(list(reminder.blocks))


def item(**fields: object) -> ReviewItem:
    values: dict[str, object] = {
        "task_id": "tsk_1", "team_id": "T1", "meeting_id": "mtg_1", "owner_user_id": "U1",
        "state": S.REVIEW, "title": "Fix login", "description": "", "due": date(2026, 1, 10),
        "priority": Priority.HIGH, "provider": ProviderName.CLICKUP, "destination_id": "l3",
        "destination_name": "Launch",
    }  # fmt: skip
    values.update(fields)
    return ReviewItem(**values)  # type: ignore[arg-type]


def test_the_edit_form_is_filled_with_the_item() -> None:
    view = edit_modal(item())
    elements = {block["block_id"]: block["element"] for block in view["blocks"]}
    assert elements[TITLE]["initial_value"] == "Fix login"
    assert elements[DUE]["initial_date"] == "2026-01-10"
    assert elements["task:priority"]["initial_option"]["value"] == "high"
    assert elements["task:project"]["initial_option"]["value"] == "clickup:l3"
    assert view["private_metadata"] == "tsk_1"


def values(title: str, due: str | None) -> dict[str, object]:
    return {"state": {"values": {
        TITLE: {"title": {"type": "plain_text_input", "value": title}},
        DUE: {"due": {"type": "datepicker", "selected_date": due}},
    }}}  # fmt: skip


def test_a_past_day_is_kept_only_when_the_item_came_with_it() -> None:
    today = date(2026, 1, 15)
    kept = read_edit(values("Fix login", "2026-01-10"), earliest=today,
                     original_due=date(2026, 1, 10))  # fmt: skip
    assert kept == ReviewEdit("Fix login", "", date(2026, 1, 10), None, None)
    moved = read_edit(values("Fix login", "2026-01-11"), earliest=today,
                      original_due=date(2026, 1, 10))  # fmt: skip
    assert moved == {DUE: "That day is over. Pick today or a later day."}
    assert read_edit(values("  ", None), earliest=today, original_due=None) == {
        TITLE: "Give the task a title."
    }


def test_an_item_created_into_a_wait_keeps_the_buttons_it_needs_next() -> None:
    items = [task(1, S.PENDING_AUTH), task(2, S.AWAITING_CHOICE), task(3, S.QUEUED)]
    message = review_message("Sync", items, meeting_id="mtg_1", tools=(ProviderName.CLICKUP,))
    check_message(message.payload())
    assert action_ids(list(message.blocks)) == ["connect:clickup:tsk_1", "choose:clickup:tsk_2"]


def test_create_all_says_where_the_items_went() -> None:
    def result(n: int, state: TaskState) -> TaskResult:
        return TaskResult(item_id=f"a{n}", task_id=f"tsk_{n}", status=state, provider=None,
                          url=None, reason=None, owner_user_id="U1", title=f"A{n}")  # fmt: skip

    queued = [result(1, TaskState.QUEUED), result(2, TaskState.QUEUED)]
    assert released_sentence(queued[:1]) == "1 item is being created."
    assert released_sentence(queued) == "2 items are being created."
    mixed = [*queued, result(3, TaskState.PENDING_AUTH)]
    assert released_sentence(mixed) == (
        "3 items: 2 being created, 1 waiting for you to connect a tool."
    )
