"""The whole story in Slack, as `scrumy serve` wires it: a meeting arrives through the API, its
message appears in the channel, people click, tasks are created once, and the message follows.

The app's own Slack notifier runs (`slack="told"`) against the Slack emulator on a socket;
every request from Slack is really signed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.views import actions
from primitives.enums import ProviderName
from routing.clickup_webhooks import ClickUpWebhooks
from sandbox.clickup_webhooks import ClickUpWebhookApi
from storage.models import Task
from tests.bot.blockkit import check_message, texts
from tests.bot.harness import SlackHarness, slack_harness
from tests.bot.interactions import direct_messages, form_values, open_modal, submission
from tests.bot.listening import ask_me, buttons, click, connect, deliver, link_owner
from tests.fakes import FakeClock
from tests.sidecar.harness import ANA, BO, TEAM

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
GENERAL = "C0GENERAL"


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[SlackHarness]:
    async with slack_harness(database_url, clock, slack="told") as harness:
        yield harness


async def settle(slack: SlackHarness) -> None:
    """Run the worker until nothing is due, and let the meeting message catch up."""
    assert slack.h.told is not None
    while await slack.h.worker.run_once():
        pass
    await slack.h.told.idle()


async def post_meeting(slack: SlackHarness, items: list[dict[str, Any]], **fields: Any) -> Any:
    key = await slack.h.api_key()
    body = {
        "meeting_id": "standup-1", "title": "Standup <Thursday> & *friends* 🎉",
        "summary": "What we agreed", "team_id": TEAM, "channel_id": GENERAL,
        "owner": {"slack_user_id": ANA}, "action_items": items, **fields,
    }  # fmt: skip
    response = await slack.client.post(
        "/api/meetings", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 202, response.text
    assert slack.h.told is not None
    await slack.h.told.idle()
    return response.json()


def channel_message(slack: SlackHarness) -> dict[str, Any]:
    (message,) = [m for m in slack.h.slack_world.messages[GENERAL] if "thread_ts" not in m]
    check_message(message)
    return message


def item_of(answer: Any, item_id: str) -> dict[str, Any]:
    return next(i for i in answer["items"] if i["item_id"] == item_id)


async def test_a_waiting_item_gets_connect_buttons_that_give_each_clicker_their_own_link(
    slack: SlackHarness,
) -> None:
    answer = await post_meeting(slack, [{"id": "a1", "title": "Ship the <beta> & *docs*"}])
    assert answer["slack"] == {"posted": True, "error": None}
    message = channel_message(slack)
    assert "Ship the &lt;beta&gt; &amp;" in texts(message["blocks"])
    task_id = item_of(answer, "a1")["task_id"]
    shown = buttons(message["blocks"])
    connect_clickup = actions.connect(CLICKUP, task_id).action_id
    assert connect_clickup in shown

    # Bo is not the owner: his click gives him a link for himself, privately.
    button = shown[connect_clickup]
    await deliver(slack, click(connect_clickup, button.get("value", ""), user_id=BO))
    (reply,) = slack.h.slack_world.ephemerals[BO]
    links = [b["url"] for b in buttons(reply["blocks"]).values() if "url" in b]
    assert links and all(link_owner(slack, url, CLICKUP) == BO for url in links)


async def test_connecting_creates_the_waiting_task_and_the_message_turns_into_its_link(
    slack: SlackHarness,
) -> None:
    answer = await post_meeting(slack, [{"id": "a1", "title": "Write the release notes"}])
    task_id = item_of(answer, "a1")["task_id"]
    await connect(slack, ANA, CLICKUP, email="ana@acme.example")
    await settle(slack)

    message = channel_message(slack)
    (created,) = slack.h.clickup_world.tasks.values()
    assert created["url"] in texts(message["blocks"])
    assert not any(task_id in a for a in buttons(message["blocks"]))  # no buttons left
    assert slack.calls("chat.update")  # the same message, updated in place
    told = [m for channel, ms in slack.h.slack_world.messages.items() if channel != GENERAL
            for m in ms]  # fmt: skip
    assert any("now connected to your Slack account" in m.get("text", "") for m in told)


async def test_only_the_owner_chooses_and_clicks_twice_or_retried_create_one_task(
    slack: SlackHarness,
) -> None:
    await connect(slack, BO, CLICKUP)
    await connect(slack, BO, NOTION)
    await ask_me(slack, BO)
    answer = await post_meeting(
        slack, [{"id": "b1", "title": "Plan Q3", "assignee": {"slack_user_id": BO}}]
    )
    task_id = item_of(answer, "b1")["task_id"]
    assert item_of(answer, "b1")["status"] == "awaiting_choice"
    choose = actions.choose(CLICKUP, task_id).action_id
    button = buttons(channel_message(slack)["blocks"])[choose]

    await deliver(slack, click(choose, button.get("value", ""), user_id=ANA))
    (refused,) = slack.h.slack_world.ephemerals[ANA]
    assert "Only" in refused["text"]

    for retry in (None, None, "1"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
        await deliver(
            slack, click(choose, button.get("value", ""), user_id=BO),
            headers=headers if retry else None,
        )  # fmt: skip
    await settle(slack)

    assert len(slack.h.clickup_world.tasks) == 1
    message = channel_message(slack)
    assert not any(task_id in a for a in buttons(message["blocks"]))  # chosen: buttons gone


async def test_a_channel_the_bot_is_not_in_fails_visibly_and_the_tasks_are_still_created(
    slack: SlackHarness,
) -> None:
    await connect(slack, ANA, CLICKUP)
    answer = await post_meeting(
        slack, [{"id": "r1", "title": "Tidy the backlog"}], channel_id="C0RANDOM"
    )
    assert answer["slack"] == {"posted": False, "error": "not_in_channel"}
    await settle(slack)
    assert len(slack.h.clickup_world.tasks) == 1


async def test_a_task_made_from_a_message_is_told_with_its_link_once_created(
    slack: SlackHarness,
) -> None:
    """The "Create task" shortcut: the person is told where it went, and, once the worker
    created it, gets its link."""
    await connect(slack, ANA, CLICKUP)
    view = await open_modal(slack, "Check the <invoice> & *totals* 🧾", user_id=ANA)
    await deliver(slack, submission(slack, view, form_values("Check the invoice"), user_id=ANA))
    await settle(slack)

    (created,) = slack.h.clickup_world.tasks.values()
    told = [json.dumps(m.get("blocks", [])) for m in direct_messages(slack, ANA)]
    assert any(created["url"] in m and "Created" in m for m in told)


async def test_a_task_finished_in_clickup_shows_done_in_the_channel_through_its_webhook(
    slack: SlackHarness,
) -> None:
    await connect(slack, ANA, CLICKUP)
    hooks = slack.h.deps.webhooks[CLICKUP]
    assert isinstance(hooks, ClickUpWebhooks)
    await hooks.settle()  # the webhook registered in the background
    answer = await post_meeting(
        slack, [{"id": "a1", "title": "Ship it"}, {"id": "a2", "title": "Test it"}]
    )
    await settle(slack)
    async with slack.h.sessions() as session:
        task = await session.get(Task, item_of(answer, "a1")["task_id"])
    assert task is not None and task.provider_task_id
    clickup = ClickUpWebhookApi(slack.h.clickup_world, slack.h.clock)
    clickup.finish(task.provider_task_id)  # someone marks it done in ClickUp
    assert await clickup.deliver(slack.client) == 1  # signed, to POST /webhooks/clickup
    assert slack.h.told is not None
    await slack.h.told.idle()
    message = channel_message(slack)  # the same message, updated in place
    lines = [b["text"]["text"] for b in message["blocks"] if b["block_id"].startswith("item:")]
    assert "|Ship it> · ✓ done in ClickUp" in lines[0]
    assert "done in ClickUp" not in lines[1]

    # Reopened in ClickUp a minute later: the line says "created" again, nothing more.
    slack.h.clock.advance(60)
    assert clickup.set_status(task.provider_task_id, "to do")
    assert await clickup.deliver(slack.client) == 1
    await slack.h.told.idle()
    message = channel_message(slack)
    lines = [b["text"]["text"] for b in message["blocks"] if b["block_id"].startswith("item:")]
    assert lines[0].split("\n")[0].endswith("|Ship it>")
    assert "done in ClickUp" not in message["text"] + "".join(lines)
