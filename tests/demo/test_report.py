"""The demo's end checks name what ended wrong: an item elsewhere than the story expects, a
task created twice in a tool, or one the app thinks created that the tool does not hold."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from demo.report import Expected, Row, problems, table
from demo.world import ANA, BO, Worlds, seed_worlds
from primitives.enums import ProviderName, RemoteStatus, TaskState

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
NOW_MS = int(datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp() * 1000)


def store(worlds: Worlds, title: str) -> str:
    """A task in ClickUp's Backlog, as if the app had created it; its link."""
    task = worlds.clickup.store_task("l1", title, markdown="", creator_id=101, created_ms=NOW_MS)
    return str(task["url"])


def test_everything_where_expected_is_no_problem() -> None:
    worlds = seed_worlds("http://127.0.0.1:1")
    url = store(worlds, "Update the pricing page")
    rows = [Row("3", "Update the pricing page", BO.slack_id, TaskState.CREATED, CLICKUP,
                "Engineering / Backlog", url, "ClickUp is the only tool")]  # fmt: skip
    expected = {"3": Expected(BO.slack_id, TaskState.CREATED, CLICKUP)}

    assert problems(rows, expected, worlds) == []
    header, _rule, line = table(rows)
    assert header.split() == ["item", "owner", "state", "tool", "list/database", "link", "reason"]
    assert "Bo Chen" in line and url in line


def test_the_reason_says_why_the_tool_and_a_star_marks_a_list_nobody_chose() -> None:
    reason = (
        "urgent → ClickUp; the first list found, Engineering / Backlog — choose a default "
        "list in the Home tab (found after a lost response; not created twice)"
    )
    row = Row("5", "Fix it", BO.slack_id, TaskState.CREATED, CLICKUP, "Engineering / Backlog",
              "https://app.clickup.com/t/1", reason)  # fmt: skip

    cells = row.cells()

    assert cells[4] == "Engineering / Backlog *"
    assert cells[6] == "urgent → ClickUp (found after a lost response; not created twice)"
    assert table([row])[-1].startswith("* the first one found")


def test_an_item_elsewhere_and_a_task_made_twice_are_named() -> None:
    worlds = seed_worlds("http://127.0.0.1:1")
    url = store(worlds, "Draft the launch announcement")
    store(worlds, "Draft the launch announcement")
    rows = [
        Row("1", "Draft the launch announcement", ANA.slack_id, TaskState.CREATED, CLICKUP,
            "Engineering / Backlog", url, None),
        Row("8", "Review the new design mockups", ANA.slack_id, TaskState.AWAITING_CHOICE,
            None, None, None, "choose a tool"),
    ]  # fmt: skip
    expected = {
        "1": Expected(ANA.slack_id, TaskState.CREATED, CLICKUP),
        "8": Expected("U0DANA", TaskState.CREATED, NOTION),
        "9": Expected(BO.slack_id, TaskState.CREATED, CLICKUP),
    }

    found = problems(rows, expected, worlds)

    assert found == [
        "item 8 (Review the new design mockups): Ana Lima, awaiting_choice, no tool; "
        "expected Dana Ortiz, created, Notion",
        "item 9: no task",
        "ClickUp holds 2 task(s) for 1 created: something was created twice or lost",
    ]


def test_a_task_not_finished_in_its_tool_as_the_story_expects_is_named() -> None:
    worlds = seed_worlds("http://127.0.0.1:1")
    url = store(worlds, "Update the pricing page")
    row = Row("3", "Update the pricing page", BO.slack_id, TaskState.CREATED, CLICKUP,
              "Engineering / Backlog", url, "ClickUp is the only tool")  # fmt: skip
    expected = {"3": Expected(BO.slack_id, TaskState.CREATED, CLICKUP, remote=RemoteStatus.DONE)}

    assert problems([row], expected, worlds) == [
        "item 3 (Update the pricing page): ClickUp says nothing; expected done"
    ]
    done = dataclasses.replace(row, remote_status=RemoteStatus.DONE)
    assert problems([done], expected, worlds) == []
    assert "created, done in ClickUp" in table([done])[2]
