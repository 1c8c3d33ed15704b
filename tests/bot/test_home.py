"""The App Home tab through really signed requests: published from the person's real state
when opened, changed by its menus and published again, within Slack's 100 blocks whatever the
person has."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update

from bot.views import actions
from primitives.enums import ProviderName, RoutingMode
from storage.models import UserAuthToken
from tests.bot.blockkit import action_ids, check_view, texts
from tests.bot.harness import SlackHarness, slack_harness
from tests.bot.listening import (
    CLICKUP,
    NOTION,
    connect,
    deliver,
    home_opened,
    select,
    task_for,
)
from tests.fakes import FakeClock
from tests.sidecar.harness import ANA, BO, TEAM


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[SlackHarness]:
    async with slack_harness(database_url, clock) as harness:
        yield harness


def home_of(slack: SlackHarness, user_id: str = ANA) -> dict[str, Any]:
    view = slack.h.slack_world.home_views[user_id]
    check_view(view)
    return view


def shown(slack: SlackHarness, user_id: str = ANA) -> str:
    return texts(home_of(slack, user_id)["blocks"])


async def test_opening_the_home_tab_publishes_the_persons_real_state(
    slack: SlackHarness,
) -> None:
    await connect(slack, ANA, CLICKUP, email="ana@acme.example")
    await task_for(slack, ANA, "Ship it <now> & *then* 🎉")
    await slack.h.worker.run_once()
    waiting = await slack.h.utility.create_task(
        ANA, {"title": "Needs Notion"}, "user_choice", team_id=TEAM
    )
    await slack.h.utility.dismiss_task(waiting.task_id, user_id=ANA)
    await task_for(slack, BO, "Bo's task")

    response = await deliver(slack, home_opened(ANA))

    assert response.status_code == 200
    [call] = slack.calls("views.publish")
    assert call["args"]["user_id"] == ANA
    text = shown(slack)
    assert "*ClickUp* — connected as ana@acme.example in Acme" in text
    assert "*Notion* — not connected" in text
    assert "Ship it &lt;now&gt; &amp; *then* 🎉" in text
    created = slack.h.clickup_world.tasks
    [url] = [t["url"] for t in created.values()]
    assert f"<{url}|Ship it &lt;now&gt; &amp; *then* 🎉>" in text
    assert "Bo's task" not in text
    assert "“Needs Notion”" not in text and "Needs Notion" in text  # recent: dismissed
    assert actions.ROUTING_MODE in action_ids(home_of(slack)["blocks"])


async def test_the_messages_tab_publishes_nothing(slack: SlackHarness) -> None:
    await deliver(slack, home_opened(ANA, tab="messages"))
    assert slack.calls("views.publish") == []


async def test_waiting_tasks_have_their_buttons_and_a_broken_connection_a_banner(
    slack: SlackHarness,
) -> None:
    await connect(slack, ANA, NOTION)
    async with slack.h.sessions() as session, session.begin():
        await session.execute(update(UserAuthToken).values(needs_reconnect=True))
    task = await task_for(slack, ANA, "Write the spec")

    await deliver(slack, home_opened(ANA))

    view = home_of(slack)
    ids = action_ids(view["blocks"])
    assert "connect:notion" in ids  # the banner's Reconnect
    assert f"dismiss:{task.task_id}" in ids
    assert "Your Notion connection stopped working." in texts(view["blocks"])


async def test_the_routing_menus_change_the_preferences_and_publish_again(
    slack: SlackHarness,
) -> None:
    await connect(slack, ANA, CLICKUP)
    await connect(slack, ANA, NOTION)

    await deliver(slack, select(actions.ROUTING_MODE, "user_choice"))
    assert "Routing: Ask me for each task." in shown(slack)
    await deliver(slack, select(actions.DEFAULT_TOOL, "notion"))
    assert "Your default tool is Notion." in shown(slack)
    await deliver(
        slack,
        select(actions.DEFAULT_DESTINATION[CLICKUP], "l2", kind="external_select"),
    )
    assert "Your default ClickUp list is" in shown(slack)

    details = await slack.h.utility.preference_details(ANA, team_id=TEAM)
    assert details.routing_mode is RoutingMode.USER_CHOICE
    assert details.default_provider is ProviderName.NOTION
    assert details.default_clickup_list is not None
    assert details.default_clickup_list.id == "l2"
    assert "Website Redesign" in details.default_clickup_list.name
    assert len(slack.calls("views.publish")) == 3
    assert (await slack.h.utility.preference_details(BO, team_id=TEAM)).default_provider is None


@pytest.mark.parametrize(
    ("action_id", "value", "sentence"),
    [
        (actions.DEFAULT_DESTINATION[NOTION], "ds-roadmap", "Connect Notion first."),
        (actions.DEFAULT_DESTINATION[CLICKUP], "l-not-mine", "None of your ClickUp lists has"),
        (actions.ROUTING_MODE, "whatever", "That menu is out of date"),
        (actions.DEFAULT_TOOL, "jira", "That menu is out of date"),
        (actions.DEFAULT_DESTINATION[CLICKUP], "none", "are still loading; try again"),
    ],
)
async def test_a_choice_that_cannot_be_saved_is_one_sentence_on_top(
    slack: SlackHarness, action_id: str, value: str, sentence: str
) -> None:
    await connect(slack, ANA, CLICKUP)
    await deliver(slack, select(action_id, value))
    assert sentence in shown(slack)
    details = await slack.h.utility.preference_details(ANA, team_id=TEAM)
    assert (details.routing_mode, details.default_clickup_list) == (RoutingMode.SMART, None)


async def test_many_tasks_stay_within_a_home_tabs_100_blocks(slack: SlackHarness) -> None:
    await connect(slack, ANA, CLICKUP)
    for n in range(30):
        await task_for(slack, ANA, f"Created <{n}> & *done* 🚀")
    await slack.h.worker.run_once()
    await slack.h.worker.run_once()
    async with slack.h.sessions() as session, session.begin():
        await session.execute(update(UserAuthToken).values(needs_reconnect=True))
    for n in range(60):
        await task_for(slack, ANA, f"Waiting <{n}> & *soon* 🎯 " + "x" * 150)

    await deliver(slack, home_opened(ANA))

    view = home_of(slack)  # the emulator refused nothing: it enforces the limits
    assert len(view["blocks"]) <= 100
    text = texts(view["blocks"])
    assert "Waiting tasks (60)" in text
    assert "and 50 more" in text
    assert "Created &lt;" in text
