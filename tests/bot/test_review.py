"""Review before creating, in Slack (`/tasks review`, the Home tab's menu, the review's direct
message and its Edit modal), through really signed requests, the Slack notifier and the
ClickUp emulator: one message per meeting updated in place, only the owner acts, an edited item
is created once with its edited values, a dismissed one sends nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest

from bot.views.actions import REVIEW_FIRST
from bot.views.review import EDIT_MODAL_ID
from bot.views.task_modal import DUE
from primitives.enums import TaskState
from routing.results import MeetingResult
from sandbox.slack_requests import block_actions
from tests.bot.blockkit import check_message, check_view, texts
from tests.bot.harness import SlackHarness, slack_harness
from tests.bot.interactions import answer_of, form_values, submission
from tests.bot.listening import (
    CLICKUP,
    GENERAL,
    buttons,
    click,
    connect,
    deliver,
    home_opened,
    select,
    tasks_command,
)
from tests.fakes import FakeClock
from tests.meetings import item, meeting
from tests.sidecar.harness import ANA, BO, TEAM

RETRIED = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
ANA_DM = f"D{TEAM[1:]}{ANA[1:]}"


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[SlackHarness]:
    async with slack_harness(database_url, clock, slack="told") as harness:
        yield harness


async def settled(slack: SlackHarness) -> None:
    assert slack.h.told is not None
    await slack.h.told.idle()


async def ana_reviews_a_meeting(slack: SlackHarness, *items: dict[str, Any]) -> MeetingResult:
    await connect(slack, ANA, CLICKUP)
    response = await deliver(slack, tasks_command("review on"))
    assert "From now on you review" in response.text
    result = await slack.h.utility.process_meeting(
        meeting(*items, team_id=TEAM, channel_id=GENERAL, owner={"slack_user_id": ANA})
    )
    await settled(slack)
    return result


def review_dms(slack: SlackHarness) -> list[dict[str, Any]]:
    """The review messages in Ana's conversation with the app, as they are now."""
    found = [
        message
        for message in slack.h.slack_world.messages.get(ANA_DM, [])
        if any(block.get("block_id") == "review:lead" for block in message.get("blocks", []))
    ]
    for message in found:
        check_message(message)
    return found


def edit_click(slack: SlackHarness, task_id: str, *, user_id: str = ANA) -> Any:
    world, clock = slack.h.slack_world, slack.h.clock
    action = {"action_id": f"edit:{task_id}", "block_id": "b", "type": "button",
              "value": task_id}  # fmt: skip
    return block_actions(
        action, team_id=TEAM, user_id=user_id, channel_id=ANA_DM,
        trigger_id=world.issue_trigger(user_id, at=clock.now()),
        message={"ts": "1700000000.000001", "text": "review"},
    )  # fmt: skip


def said_to(slack: SlackHarness, user_id: str) -> str:
    shown = slack.h.slack_world.ephemerals.get(user_id, [])
    direct = slack.h.slack_world.messages.get(f"D{TEAM[1:]}{user_id[1:]}", [])
    return "\n".join(texts(m.get("blocks", [])) for m in [*shown, *direct])


async def test_the_review_message_lists_the_items_and_the_channel_says_who_reviews(
    slack: SlackHarness,
) -> None:
    result = await ana_reviews_a_meeting(slack, item(1, title="Fix login"), item(2))
    assert [task.status for task in result.items] == [TaskState.REVIEW] * 2
    (dm,) = review_dms(slack)
    found = buttons(dm["blocks"])
    first, second = (task.task_id for task in result.items)
    for task_id in (first, second):
        assert {f"create:{task_id}", f"edit:{task_id}", f"dismiss:{task_id}"} <= set(found)
    meeting_id = next(a for a in found if a.startswith("create_all:")).split(":", 1)[1]
    assert found[f"create_all:{meeting_id}"]["text"]["text"] == "Create all (2)"
    (channel,) = slack.h.slack_world.messages[GENERAL]
    assert f"waiting for <@{ANA}> to review" in texts(channel["blocks"])
    assert slack.h.clickup_world.tasks == {}


async def test_edit_then_create_lands_once_with_the_edited_values_and_updates_in_place(
    slack: SlackHarness, clock: FakeClock
) -> None:
    result = await ana_reviews_a_meeting(slack, item(1, title="Fix the lgoin"), item(2))
    task_id = result.items[0].task_id
    (before,) = review_dms(slack)
    before_ts = before["ts"]
    clicked = edit_click(slack, task_id)
    opened = await deliver(slack, clicked)
    assert opened.status_code == 200
    await deliver(slack, clicked, headers=RETRIED)  # the same click again: one form, no word
    assert "could not open" not in said_to(slack, ANA)
    (view,) = slack.h.slack_world.views.values()  # the emulator checked it as Slack does
    assert view["callback_id"] == EDIT_MODAL_ID and view["private_metadata"] == task_id
    # A past day the item did not come with is refused on its field; nothing changes.
    past = clock.now().date() - timedelta(days=3)
    refused = await deliver(slack, submission(slack, view, form_values("Fix the login", due=past)))
    assert answer_of(refused)["errors"].keys() == {DUE}
    values = form_values(
        "Fix the login", description="Blank page on Safari", due=date(2026, 2, 2),
        priority="urgent", project="clickup:l3",
    )  # fmt: skip
    saved = await deliver(slack, submission(slack, view, values))
    assert answer_of(saved) == {}  # the modal closes
    await settled(slack)
    create = click(f"create:{task_id}", task_id, channel_id=ANA_DM)
    await deliver(slack, create)
    await deliver(slack, create, headers=RETRIED)  # Slack delivering the click again
    await deliver(slack, create)  # a double click
    await settled(slack)
    while await slack.h.worker.run_once():
        pass
    await settled(slack)
    (sent,) = slack.h.clickup_world.tasks.values()
    assert sent["name"] == "Fix the login" and sent["list"]["id"] == "l3"
    assert sent["priority"]["priority"] == "urgent"
    assert "Blank page on Safari" in sent["markdown_description"]
    (after,) = review_dms(slack)  # the same message, updated in place
    assert after["ts"] == before_ts
    shown = texts(after["blocks"])
    assert "Created" in shown and "Fix the login" in shown
    assert f"create:{task_id}" not in buttons(after["blocks"])
    # Edit once created: told privately, and no modal opens.
    await deliver(slack, edit_click(slack, task_id))
    assert "no longer under review" in said_to(slack, ANA)
    assert len(slack.h.slack_world.views) == 1


async def test_dismiss_sends_nothing_and_create_all_creates_the_rest_once(
    slack: SlackHarness,
) -> None:
    result = await ana_reviews_a_meeting(slack, item(1), item(2), item(3))
    first, second, third = (task.task_id for task in result.items)
    await deliver(slack, click(f"dismiss:{first}", first, channel_id=ANA_DM))
    (dm,) = review_dms(slack)
    meeting_id = next(a for a in buttons(dm["blocks"]) if a.startswith("create_all:"))
    meeting_id = meeting_id.split(":", 1)[1]
    everything = click(f"create_all:{meeting_id}", meeting_id, channel_id=ANA_DM)
    await deliver(slack, everything)
    await deliver(slack, everything, headers=RETRIED)
    await settled(slack)
    while await slack.h.worker.run_once():
        pass
    names = sorted(task["name"] for task in slack.h.clickup_world.tasks.values())
    assert names == ["Action 2", "Action 3"]
    told = said_to(slack, ANA)
    assert "2 items are being created." in told  # the click
    assert "Every item of yours in this meeting is already created or dismissed." in told
    states = [await slack.h.utility.get_task(t, team_id=TEAM) for t in (first, second, third)]
    assert [s.status for s in states if s] == [
        TaskState.DISMISSED, TaskState.CREATED, TaskState.CREATED,
    ]  # fmt: skip


async def test_only_the_owner_acts_on_a_review(slack: SlackHarness) -> None:
    result = await ana_reviews_a_meeting(slack, item(1))
    task_id = result.items[0].task_id
    await deliver(slack, click(f"create:{task_id}", task_id, user_id=BO))
    await deliver(slack, edit_click(slack, task_id, user_id=BO))
    told_bo = said_to(slack, BO)
    assert f"Only <@{ANA}> can create this task" in told_bo
    assert f"Only <@{ANA}> can edit this task" in told_bo
    assert slack.h.slack_world.views == {}
    task = await slack.h.utility.get_task(task_id, team_id=TEAM)
    assert task is not None and task.status is TaskState.REVIEW


async def test_a_forgotten_review_is_reminded_of_once(
    slack: SlackHarness, clock: FakeClock
) -> None:
    await ana_reviews_a_meeting(slack, item(1), item(2))
    clock.advance(timedelta(hours=25).total_seconds())
    assert await slack.h.utility.remind_reviews() == 1
    assert await slack.h.utility.remind_reviews() == 0
    await settled(slack)
    reminders = [
        m for m in slack.h.slack_world.messages.get(ANA_DM, []) if "Reminder" in m.get("text", "")
    ]
    assert len(reminders) == 1
    assert "2 action items of *Weekly sync* still wait for your review" in texts(
        reminders[0]["blocks"]
    )


async def test_review_is_switched_with_tasks_and_the_home_tab(slack: SlackHarness) -> None:
    status = await deliver(slack, tasks_command("review"))
    assert "Your action items are created at once" in status.text
    helped = await deliver(slack, tasks_command("help"))
    assert "/tasks review on|off" in helped.text
    wrong = await deliver(slack, tasks_command("review maybe"))
    assert "I don't know" in wrong.text
    await deliver(slack, home_opened())
    menu = _review_menu(slack)
    assert menu["initial_option"]["value"] == "off"
    await deliver(slack, select(REVIEW_FIRST, "on"))
    assert _review_menu(slack)["initial_option"]["value"] == "on"
    details = await slack.h.utility.preference_details(ANA, team_id=TEAM)
    assert details.review_first
    shown = await deliver(slack, tasks_command("status"))
    assert "Let me review them first" in shown.text


def _review_menu(slack: SlackHarness) -> dict[str, Any]:
    home = slack.h.slack_world.home_views[ANA]
    check_view(home)
    (block,) = [b for b in home["blocks"] if b.get("block_id") == "home:review"]
    return dict(block["accessory"])


async def test_the_home_tab_and_tasks_pending_offer_the_review_buttons(slack: SlackHarness) -> None:
    result = await ana_reviews_a_meeting(slack, item(1, title="Book the venue"))
    task_id = result.items[0].task_id
    pending = await deliver(slack, tasks_command("pending"))
    listed = answer_of(pending)
    assert {f"create:{task_id}", f"edit:{task_id}", f"dismiss:{task_id}"} <= set(
        buttons(listed["blocks"])
    )
    await deliver(slack, home_opened())
    home = slack.h.slack_world.home_views[ANA]
    check_view(home)
    assert f"create:{task_id}" in buttons(home["blocks"])
    await deliver(slack, click(f"create:{task_id}", task_id, home=True))
    home = slack.h.slack_world.home_views[ANA]
    check_view(home)
    assert "“Book the venue” is being created in ClickUp." in texts(home["blocks"])
    assert f"create:{task_id}" not in buttons(home["blocks"])
    await settled(slack)
    while await slack.h.worker.run_once():
        pass
    (sent,) = slack.h.clickup_world.tasks.values()
    assert sent["name"] == "Book the venue"
