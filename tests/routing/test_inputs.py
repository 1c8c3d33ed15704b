"""Bad input is either normalised as documented or refused naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from primitives.enums import Priority
from routing.inputs import MAX_ITEMS, TITLE_LIMIT, ActionItem, MeetingIn, TaskRequest
from tests.meetings import meeting


def error_fields(error: ValidationError) -> set[str]:
    return {".".join(str(part) for part in e["loc"]) for e in error.errors()}


def test_titles_are_trimmed_and_long_ones_shortened_without_losing_words() -> None:
    item = ActionItem(title="  Send   the\nnotes  ")
    assert item.clean_title == "Send the notes"
    long_title = "Review " + "the quarterly numbers " * 30
    item = ActionItem(title=long_title, description="Details.")
    assert len(item.clean_title) <= TITLE_LIMIT and item.clean_title.endswith("…")
    assert item.full_description.startswith(long_title.strip()[:100])
    assert item.full_description.endswith("Details.")


@pytest.mark.parametrize("title", ["", "   ", "\n\t"])
def test_an_empty_title_is_refused(title: str) -> None:
    with pytest.raises(ValidationError) as raised:
        MeetingIn.model_validate(meeting(action_items=[{"title": "ok"}, {"title": title}]))
    assert error_fields(raised.value) == {"action_items.1.title"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [("URGENT", Priority.URGENT), ("normal", Priority.MEDIUM), ("P1", Priority.HIGH),
     ("lowest", Priority.LOW), ("", None), (None, None)],
)  # fmt: skip
def test_priority_aliases(given: str | None, expected: Priority | None) -> None:
    assert ActionItem(title="t", priority=given).priority is expected


def test_an_unknown_priority_names_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        MeetingIn.model_validate(meeting(action_items=[{"title": "t", "priority": "whenever"}]))
    assert error_fields(raised.value) == {"action_items.0.priority"}
    assert "expected urgent, high, medium or low" in str(raised.value)


def test_due_dates() -> None:
    assert ActionItem.model_validate({"title": "t", "due_date": "2026-03-09"}).due_date == date(
        2026, 3, 9
    )
    paris = ActionItem.model_validate({"title": "t", "due_date": "2026-03-09T17:00:00+01:00"})
    assert paris.due_date == datetime(2026, 3, 9, 17, tzinfo=timezone(timedelta(hours=1)))
    naive = ActionItem.model_validate({"title": "t", "due_date": "2026-03-09T17:00:00"})
    assert naive.due_date == datetime(2026, 3, 9, 17, tzinfo=UTC)
    zulu = ActionItem.model_validate({"title": "t", "due_date": "2026-03-09T17:00:00Z"})
    assert zulu.due_date == datetime(2026, 3, 9, 17, tzinfo=UTC)
    past = ActionItem.model_validate({"title": "t", "due_date": "1999-12-31"})
    assert past.due_date == date(1999, 12, 31)  # kept: an overdue item is still an item


@pytest.mark.parametrize("due", ["next friday", "2026-13-01", "09/03/2026", 20260309])
def test_an_unparseable_due_date_names_the_field(due: object) -> None:
    with pytest.raises(ValidationError) as raised:
        MeetingIn.model_validate(meeting(action_items=[{"title": "t", "due_date": due}]))
    assert error_fields(raised.value) == {"action_items.0.due_date"}


def test_people_need_an_id_an_email_or_a_name() -> None:
    with pytest.raises(ValidationError):
        MeetingIn.model_validate(meeting({"title": "t"}, owner={"name": "Only a name"}))
    with pytest.raises(ValidationError):
        MeetingIn.model_validate(meeting({"title": "t"}, owner={"email": "not-an-email"}))
    with pytest.raises(ValidationError):
        ActionItem.model_validate({"title": "t", "assignee": {}})
    item = ActionItem.model_validate({"title": "t", "assignee": {"email": "Ana@ACME.Example"}})
    assert item.assignee is not None and item.assignee.email == "Ana@acme.example"


def test_meetings_of_zero_and_a_thousand_items_are_accepted_but_not_more() -> None:
    assert MeetingIn.model_validate(meeting(action_items=[])).action_items == []
    many = [{"title": f"Item {n}"} for n in range(MAX_ITEMS)]
    assert len(MeetingIn.model_validate(meeting(action_items=many)).item_ids()) == MAX_ITEMS
    with pytest.raises(ValidationError) as raised:
        MeetingIn.model_validate(meeting(action_items=[*many, {"title": "one more"}]))
    assert error_fields(raised.value) == {"action_items"}


def test_derived_item_ids_are_stable_and_distinct() -> None:
    items = [
        {"title": "Call Bo"},
        {"title": "call  bo"},
        {"title": "Email Ana"},
        {"id": "x", "title": "Call Bo"},
    ]
    first = MeetingIn.model_validate(meeting(action_items=items)).item_ids()
    again = MeetingIn.model_validate(meeting(action_items=items)).item_ids()
    assert first == again
    assert len(set(first)) == 4 and first[3] == "x"


def test_duplicate_item_ids_are_refused() -> None:
    with pytest.raises(ValidationError, match="same id"):
        MeetingIn.model_validate(meeting(action_items=[{"id": "a", "title": "x"}] * 2))


def test_an_unknown_routing_mode_names_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        TaskRequest.model_validate(
            {"team_id": "T1", "user": {"slack_user_id": "U1"}, "task": {"title": "t"},
             "routing": "random"}
        )  # fmt: skip
    assert error_fields(raised.value) == {"routing"}
