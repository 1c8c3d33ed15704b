"""Buttons through really signed requests, on every surface: acknowledged at once, acted on for
the person who clicked (their own link, their own connection, only their own tasks), told
privately, and never twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from primitives.enums import TaskState
from routing.outbox import TaskUpdate, move
from sandbox.slack_messages import open_im
from storage.models import Task, UserAuthToken
from tests.bot.blockkit import check_message, check_view, texts
from tests.bot.harness import SlackHarness, slack_harness
from tests.bot.listening import (
    CLICKUP,
    GENERAL,
    NOTION,
    ask_me,
    buttons,
    click,
    connect,
    deliver,
    link_owner,
    task_for,
)
from tests.fakes import FakeClock
from tests.sidecar.harness import ANA, BO, CAROL, TEAM

RETRIED = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[SlackHarness]:
    async with slack_harness(database_url, clock) as harness:
        yield harness


def ephemerals(slack: SlackHarness, user_id: str) -> list[dict[str, Any]]:
    """What `user_id` was shown privately, each checked against Block Kit."""
    shown = slack.h.slack_world.ephemerals.get(user_id, [])
    for note in shown:
        check_message(note)
    return shown


def last_said(slack: SlackHarness, user_id: str) -> str:
    note = ephemerals(slack, user_id)[-1]
    return str(note["text"]) + "\n" + texts(note["blocks"])


def direct_messages(slack: SlackHarness, user_id: str) -> list[dict[str, Any]]:
    return slack.h.slack_world.messages.get(f"D{TEAM[1:]}{user_id[1:]}", [])


async def state_of(slack: SlackHarness, task_id: str) -> TaskState:
    async with slack.h.sessions() as session:
        row = await session.get(Task, task_id)
    assert row is not None
    return row.state


async def failed(slack: SlackHarness, task_id: str, reason: str) -> None:
    async with slack.h.sessions() as session, session.begin():
        await move(
            session, [task_id], TaskState.FAILED, TaskUpdate(reason=reason),
            now=slack.h.clock.now(),
        )  # fmt: skip


async def both_connected_asking(slack: SlackHarness, user_id: str = ANA) -> None:
    await connect(slack, user_id, CLICKUP)
    await connect(slack, user_id, NOTION)
    await ask_me(slack, user_id)


# --- connect: the clicker's own link ----------------------------------------------------------


async def test_the_ack_comes_first_and_says_nothing_in_the_channel(slack: SlackHarness) -> None:
    task = await task_for(slack, ANA, "Draft the notes")
    response = await deliver(slack, click(f"connect:clickup:{task.task_id}", task.task_id))
    assert response.status_code == 200
    assert response.text == ""
    assert slack.calls("chat.postMessage") == []
    assert slack.h.slack_world.messages.get(GENERAL, []) == []


async def test_connect_on_someone_elses_task_gives_the_clicker_their_own_link(
    slack: SlackHarness,
) -> None:
    task = await task_for(slack, ANA, "Draft the notes")

    await deliver(slack, click(f"connect:notion:{task.task_id}", task.task_id, user_id=BO))

    [note] = ephemerals(slack, BO)
    assert note["channel"] == GENERAL
    [button] = buttons(note["blocks"]).values()
    assert link_owner(slack, button["url"], NOTION) == BO  # never Ana's link
    assert ephemerals(slack, ANA) == []


async def test_connect_from_a_channel_the_clicker_is_not_in_comes_as_a_direct_message(
    slack: SlackHarness,
) -> None:
    task = await task_for(slack, ANA, "Draft the notes")

    await deliver(slack, click(f"connect:clickup:{task.task_id}", task.task_id, user_id=CAROL))

    assert ephemerals(slack, CAROL) == []  # Carol is not in #general: Slack refuses it there
    [message] = direct_messages(slack, CAROL)
    check_message(message)
    [button] = buttons(message["blocks"]).values()
    assert link_owner(slack, button["url"], CLICKUP) == CAROL


async def test_a_button_of_a_tasks_reply_in_a_channel_without_the_bot_answers_by_dm(
    slack: SlackHarness,
) -> None:
    task = await task_for(slack, ANA, "Draft the notes")
    await deliver(
        slack,
        click(f"dismiss:{task.task_id}", task.task_id, channel_id="C0RANDOM", ephemeral=True),
    )
    assert await state_of(slack, task.task_id) is TaskState.DISMISSED
    [message] = direct_messages(slack, ANA)
    assert "is dismissed" in message["text"]


async def test_the_link_button_itself_is_only_acknowledged(slack: SlackHarness) -> None:
    response = await deliver(slack, click("link:clickup", ""))
    assert response.status_code == 200
    assert ephemerals(slack, ANA) == [] and slack.calls("chat.postMessage") == []


# --- choose: only the owner, once ------------------------------------------------------------


async def test_only_the_owner_can_choose_and_anyone_else_is_told_who_can(
    slack: SlackHarness,
) -> None:
    await both_connected_asking(slack)
    task = await task_for(slack, ANA, "Plan the offsite")
    assert task.status is TaskState.AWAITING_CHOICE

    await deliver(slack, click(f"choose:clickup:{task.task_id}", task.task_id, user_id=BO))

    assert "Only <@U0ANA> can choose where this task goes." in last_said(slack, BO)
    assert await state_of(slack, task.task_id) is TaskState.AWAITING_CHOICE


async def test_two_clicks_and_a_retried_delivery_create_one_task(slack: SlackHarness) -> None:
    await both_connected_asking(slack)
    task = await task_for(slack, ANA, "Plan the offsite")
    choose = click(f"choose:clickup:{task.task_id}", task.task_id)

    await deliver(slack, choose)
    await deliver(slack, choose)
    await deliver(slack, choose, headers=RETRIED)
    await slack.h.worker.run_once()
    await deliver(slack, click(f"choose:notion:{task.task_id}", task.task_id))  # too late
    await slack.h.worker.run_once()

    assert [t["name"] for t in slack.h.clickup_world.tasks.values()] == ["Plan the offsite"]
    assert await state_of(slack, task.task_id) is TaskState.CREATED
    notes = ephemerals(slack, ANA)
    assert len(notes) == 4
    assert all("Plan the offsite" in n["text"] for n in notes)
    assert "is created in ClickUp" in notes[-1]["text"]


# --- retry and dismiss: only the owner ---------------------------------------------------------


async def test_the_owner_retries_a_failed_task_and_no_one_else_can(slack: SlackHarness) -> None:
    other = await task_for(slack, ANA, "Order pizza")
    await failed(slack, other.task_id, "ClickUp refused the list")
    await connect(slack, ANA, CLICKUP)
    task = await task_for(slack, ANA, "Book the venue")
    await slack.h.worker.run_once()

    await deliver(slack, click(f"retry:{other.task_id}", other.task_id, user_id=BO))
    assert "Only <@U0ANA> can retry this task." in last_said(slack, BO)
    assert await state_of(slack, other.task_id) is TaskState.FAILED

    await deliver(slack, click(f"retry:{other.task_id}", other.task_id))
    assert "“Order pizza” is being created in" in last_said(slack, ANA)
    await slack.h.worker.run_once()
    assert await state_of(slack, other.task_id) is TaskState.CREATED
    assert await state_of(slack, task.task_id) is TaskState.CREATED


async def test_the_owner_dismisses_and_no_one_else_can(slack: SlackHarness) -> None:
    task = await task_for(slack, ANA, "Fix <script> & *bold* 🚀")

    await deliver(slack, click(f"dismiss:{task.task_id}", task.task_id, user_id=BO))
    assert "Only <@U0ANA> can dismiss this task." in last_said(slack, BO)
    assert await state_of(slack, task.task_id) is TaskState.PENDING_AUTH

    await deliver(slack, click(f"dismiss:{task.task_id}", task.task_id))
    await deliver(slack, click(f"dismiss:{task.task_id}", task.task_id))
    assert await state_of(slack, task.task_id) is TaskState.DISMISSED
    said = last_said(slack, ANA)
    assert "“Fix &lt;script&gt; &amp; *bold* 🚀” is dismissed" in said


async def test_a_task_of_another_workspace_is_not_found(slack: SlackHarness) -> None:
    await deliver(slack, click("dismiss:tsk_nosuchtask", "tsk_nosuchtask"))
    assert "That task no longer exists." in last_said(slack, ANA)


@pytest.mark.parametrize(
    ("action_id", "value"),
    [("dismiss:tsk_1", "tsk_2"), ("choose:jira:tsk_1", "tsk_1"), ("retry:<x>", "<x>")],
)
async def test_a_button_we_did_not_make_is_out_of_date(
    slack: SlackHarness, action_id: str, value: str
) -> None:
    response = await deliver(slack, click(action_id, value))
    assert response.status_code == 200
    assert "That button is out of date" in last_said(slack, ANA)


# --- disconnect: the clicker's own connection ---------------------------------------------------


async def test_disconnect_from_a_direct_message_removes_the_clickers_own_connection(
    slack: SlackHarness,
) -> None:
    await connect(slack, ANA, CLICKUP)
    await connect(slack, BO, CLICKUP)
    dm = open_im(slack.h.slack_world, TEAM, BO).id  # where "connected… Not you?" was sent

    await deliver(slack, click("disconnect:clickup", "clickup", user_id=BO, channel_id=dm))

    async with slack.h.sessions() as session:
        left = (await session.scalars(select(UserAuthToken.user_id))).all()
    assert left == [ANA]
    assert "ClickUp is disconnected." in last_said(slack, BO)


# --- the Home tab: published again with the answer on top ------------------------------------


async def test_a_click_in_the_home_tab_publishes_it_again(slack: SlackHarness) -> None:
    task = await task_for(slack, ANA, "Draft the notes")

    await deliver(slack, click(f"dismiss:{task.task_id}", task.task_id, home=True))
    view = slack.h.slack_world.home_views[ANA]
    check_view(view)
    assert "“Draft the notes” is dismissed" in texts(view["blocks"])
    assert ephemerals(slack, ANA) == []

    await deliver(slack, click("connect:notion", "notion", home=True))
    view = slack.h.slack_world.home_views[ANA]
    check_view(view)
    link = buttons(view["blocks"])["link:notion"]
    assert link_owner(slack, link["url"], NOTION) == ANA


async def test_choose_and_disconnect_in_the_home_tab(slack: SlackHarness) -> None:
    await both_connected_asking(slack)
    task = await task_for(slack, ANA, "Plan the offsite")

    await deliver(slack, click(f"choose:notion:{task.task_id}", task.task_id, home=True))
    view = slack.h.slack_world.home_views[ANA]
    check_view(view)
    assert "“Plan the offsite” is being created in Notion." in texts(view["blocks"])

    await deliver(slack, click("disconnect:clickup", "clickup", home=True))
    view = slack.h.slack_world.home_views[ANA]
    check_view(view)
    shown = texts(view["blocks"])
    assert "ClickUp is disconnected." in shown
    assert "*ClickUp* — not connected" in shown
    assert ephemerals(slack, ANA) == []
