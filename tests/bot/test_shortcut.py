"""The "Create task" message shortcut: the modal opened from a message, its checks, and the
task created for the person who clicked, once, with a direct message saying where it went."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest

from bot.views.task_modal import (
    DESCRIPTION,
    DUE,
    PROJECT,
    TITLE,
    TITLE_PREFILL,
    Origin,
    TaskForm,
    read_submission,
)
from primitives.enums import ProviderName, RoutingMode, TaskState
from sandbox.slack_blocks import block_errors, view_errors
from tests.bot.blockkit import check_mrkdwn
from tests.bot.harness import SlackHarness, slack_harness
from tests.bot.interactions import (
    CHANNEL,
    answer_of,
    connect_clickup,
    connect_notion,
    direct_messages,
    eventually,
    form_values,
    open_modal,
    post_in_channel,
    shortcut,
    submission,
    tasks_of,
)
from tests.fakes import FakeClock
from tests.sidecar.harness import TEAM


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[SlackHarness]:
    async with slack_harness(database_url, clock) as harness:
        yield harness


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return dict(block["element"])


def blocks_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = message.get("blocks")
    return list(json.loads(blocks) if isinstance(blocks, str) else blocks or [])


async def submit(
    slack: SlackHarness, view: dict[str, Any], values: dict[str, Any], *, user: str = "U0ANA"
) -> dict[str, Any]:
    return answer_of(await slack.send(submission(slack, view, values, user_id=user)))


# --- the modal -------------------------------------------------------------------------------


async def test_the_modal_is_prefilled_from_the_message(slack: SlackHarness) -> None:
    text = (
        "*Fix* the <https://acme.example/login|login page> for <@U0CY> &amp; <#C0GENERAL|general>"
        "\nIt breaks on Safari, see `auth.js`"
    )
    view = await open_modal(slack, text)
    assert not view_errors({k: v for k, v in view.items() if k not in ("id", "user")})
    title = element(view, TITLE)["initial_value"]
    assert title == "Fix the login page for @Cy & #general"
    description = element(view, DESCRIPTION)["initial_value"]
    assert description.startswith(
        "Fix the login page (https://acme.example/login) for @Cy & #general\n"
        "It breaks on Safari, see auth.js\n\nFrom Slack: https://t0acme.slack.com/archives/"
    )
    origin = Origin.of(view["private_metadata"])
    assert origin is not None and origin.channel_id == CHANNEL
    assert origin.permalink and origin.permalink in description
    assert [c["args"]["user"] for c in slack.calls("users.info")] == ["U0CY"]
    assert view["user"] == "U0ANA"


async def test_a_long_message_fits_the_modal_with_its_link_kept(slack: SlackHarness) -> None:
    long_line = " ".join(["word"] * 2000)  # 10,000 characters on the first line
    view = await open_modal(slack, f"{long_line}\nsecond line")
    title = element(view, TITLE)["initial_value"]
    assert len(title) <= TITLE_PREFILL and title.endswith("…")
    description = element(view, DESCRIPTION)["initial_value"]
    assert len(description) <= 3000
    assert "From Slack: https://" in description


async def test_a_message_without_text_opens_an_empty_title(slack: SlackHarness) -> None:
    view = await open_modal(slack, "")
    assert "initial_value" not in element(view, TITLE)
    assert element(view, DESCRIPTION)["initial_value"].startswith("From Slack: https://")


async def test_without_a_permalink_from_slack_the_link_is_built(slack: SlackHarness) -> None:
    slack.h.slack_world.faults.add("server_error", path="chat.getPermalink")
    view = await open_modal(slack, "Call the bank")
    origin = Origin.of(view["private_metadata"])
    assert origin is not None and origin.permalink is not None
    assert origin.permalink.startswith(f"https://t0acme.slack.com/archives/{CHANNEL}/p")


# --- checks on submission --------------------------------------------------------------------


async def test_an_empty_title_is_an_error_on_that_field(slack: SlackHarness) -> None:
    view = await open_modal(slack, "Something")
    for title in ("", "   ", None):
        answer = await submit(slack, view, form_values(title))
        assert answer["response_action"] == "errors"
        assert set(answer["errors"]) == {TITLE}
    assert await tasks_of(slack) == []


async def test_a_day_already_over_everywhere_is_refused(
    slack: SlackHarness, clock: FakeClock
) -> None:
    # 09:00 UTC on 15 January: it is still the 14th at UTC-12 (Baker Island), nowhere the 13th.
    assert clock.now().hour == 9
    today = clock.now().date()
    view = await open_modal(slack, "Something")
    answer = await submit(slack, view, form_values(due=today - timedelta(days=2)))
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {DUE}
    assert await submit(slack, view, form_values(due=today - timedelta(days=1))) == {}
    await eventually(lambda: bool(direct_messages(slack)))
    (task,) = await tasks_of(slack)
    assert task.due_date == today - timedelta(days=1)
    clock.advance(3 * 3600)  # 12:00 UTC: the 14th is over everywhere
    view = await open_modal(slack, "Something else")
    answer = await submit(slack, view, form_values(due=today - timedelta(days=1)))
    assert set(answer["errors"]) == {DUE}


async def test_both_errors_are_shown_at_once(slack: SlackHarness, clock: FakeClock) -> None:
    view = await open_modal(slack, "Something")
    answer = await submit(slack, view, form_values("", due=clock.now().date() - timedelta(9)))
    assert set(answer["errors"]) == {TITLE, DUE}


# --- the task --------------------------------------------------------------------------------


async def test_the_task_is_the_clickers_and_waits_for_a_connection(slack: SlackHarness) -> None:
    view = await open_modal(slack, "Renew the certificate", user_id="U0ANA", author="U0BO")
    values = form_values("Renew the certificate", description="before Friday", priority="high")
    assert await submit(slack, view, values) == {}  # the modal closes at once
    await eventually(lambda: bool(direct_messages(slack)))
    (task,) = await tasks_of(slack, "U0ANA")
    assert task.state is TaskState.PENDING_AUTH
    assert (task.title, task.description, task.priority) == (
        "Renew the certificate", "before Friday", "high",
    )  # fmt: skip
    assert await tasks_of(slack, "U0BO") == []
    (dm,) = direct_messages(slack)
    assert "waiting for you to connect ClickUp or Notion" in dm["text"]
    blocks = blocks_of(dm)
    assert not block_errors(blocks, "message")
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert ids == [f"connect:clickup:{task.id}", f"connect:notion:{task.id}"]
    assert any("this message" in e["text"] for b in blocks if b["type"] == "context"
               for e in b["elements"])  # fmt: skip


async def test_a_connected_person_gets_it_queued_in_their_tool(slack: SlackHarness) -> None:
    await connect_clickup(slack, "U0ANA")
    view = await open_modal(slack, "Deploy the fix")
    assert await submit(slack, view, form_values("Deploy the fix")) == {}
    await eventually(lambda: bool(direct_messages(slack)))
    (task,) = await tasks_of(slack)
    assert task.state is TaskState.QUEUED
    assert task.provider is ProviderName.CLICKUP
    (dm,) = direct_messages(slack)
    assert dm["text"] == "Creating “Deploy the fix” in ClickUp"
    # The provider is called by the worker, never by the listener.
    assert slack.h.clickup_world.count("POST", "/api/v2/list") == 0


async def test_the_picked_project_decides_over_ask_me(slack: SlackHarness) -> None:
    await connect_clickup(slack, "U0ANA")
    await connect_notion(slack, "U0ANA")
    await slack.h.utility.set_preferences("U0ANA", team_id=TEAM,
                                          routing_mode=RoutingMode.USER_CHOICE)  # fmt: skip
    view = await open_modal(slack, "Plan Q3")
    await submit(slack, view, form_values("Plan Q3", project="notion:ds-roadmap"))
    view = await open_modal(slack, "Plan Q4")
    await submit(slack, view, form_values("Plan Q4"))
    await eventually(lambda: len(direct_messages(slack)) == 2)
    # Both were stored at the same instant of the test's clock: told apart by title.
    chosen, asked = sorted(await tasks_of(slack), key=lambda task: task.title)
    assert (chosen.state, chosen.provider, chosen.destination_id) == (
        TaskState.QUEUED, ProviderName.NOTION, "ds-roadmap",
    )  # fmt: skip
    assert asked.state is TaskState.AWAITING_CHOICE
    texts = [dm["text"] for dm in direct_messages(slack)]
    assert texts == ["Creating “Plan Q3” in Notion", "Choose where to create “Plan Q4”"]


async def test_a_project_that_is_not_theirs_is_left_out_and_said(slack: SlackHarness) -> None:
    await connect_clickup(slack, "U0ANA")
    view = await open_modal(slack, "Plan")
    await submit(slack, view, form_values("Plan", project="clickup:not-a-list"))
    await eventually(lambda: bool(direct_messages(slack)))
    (task,) = await tasks_of(slack)
    assert task.project_name is None and task.state is TaskState.QUEUED
    (dm,) = direct_messages(slack)
    assert "left out" in json.dumps(blocks_of(dm))


@pytest.mark.parametrize("together", [True, False], ids=["at once", "one after the other"])
async def test_the_same_submission_twice_is_one_task_and_one_message(
    slack: SlackHarness, together: bool
) -> None:
    view = await open_modal(slack, "Only once")
    payload = submission(slack, view, form_values("Only once"))
    if together:
        answers = list(await asyncio.gather(slack.send(payload), slack.send(payload)))
    else:
        answers = [await slack.send(payload)]
        await eventually(lambda: bool(direct_messages(slack)))
        answers.append(await slack.send(payload))
    assert [answer_of(a) for a in answers] == [{}, {}]
    await eventually(lambda: bool(direct_messages(slack)))
    await asyncio.sleep(0.2)  # the second delivery's work, after its ack, has ended
    assert len(await tasks_of(slack)) == 1
    assert len(direct_messages(slack)) == 1


async def test_two_modals_are_two_tasks(slack: SlackHarness) -> None:
    for _ in range(2):
        view = await open_modal(slack, "Same words")
        await submit(slack, view, form_values("Same words"))
    await eventually(lambda: len(direct_messages(slack)) == 2)
    assert len(await tasks_of(slack)) == 2


# --- Block Kit under stress ------------------------------------------------------------------

NASTY = "<b>*bold* & _it_</b> 🚀🔥 <script>&amp;&lt;&gt; ~x~ `y` " + "🎉" * 40


async def test_titles_full_of_markup_and_emoji_fit_slack(slack: SlackHarness) -> None:
    await connect_clickup(slack, "U0ANA")
    view = await open_modal(slack, NASTY.replace("&", "&amp;").replace("<", "&lt;"))
    title = element(view, TITLE)["initial_value"]
    assert title.startswith("<b>bold & it</b> 🚀🔥 <script>")
    assert len(title) <= TITLE_PREFILL
    await submit(slack, view, form_values(NASTY, description=NASTY * 20))
    await eventually(lambda: bool(direct_messages(slack)))
    (dm,) = direct_messages(slack)
    blocks = blocks_of(dm)
    assert not block_errors(blocks, "message")
    for block in blocks:
        if block["type"] == "section":
            check_mrkdwn(block["text"]["text"])
    (task,) = await tasks_of(slack)
    assert task.title == NASTY


async def test_the_modal_holds_slacks_limits_for_any_message(slack: SlackHarness) -> None:
    text = ("&lt;&amp;*" * 3000) + "\n" + "<@U0CY> " * 50 + ":tada:" * 500
    view = await open_modal(slack, text)
    assert len(view["blocks"]) <= 100
    assert len(element(view, DESCRIPTION)["initial_value"]) <= 3000
    assert element(view, PROJECT)["type"] == "external_select"


async def test_a_burst_of_submissions_is_told_despite_slacks_rate_limit(
    slack: SlackHarness,
) -> None:
    # Slack takes about one message a second per conversation, three at once: the fourth
    # and fifth direct messages wait for Slack's Retry-After instead of being lost.
    views = [await open_modal(slack, f"Item {n}") for n in range(5)]
    await asyncio.gather(*(submit(slack, v, form_values(f"Item {n}")) for n, v in
                           enumerate(views)))  # fmt: skip
    await eventually(lambda: len(direct_messages(slack)) == 5, within=15)
    assert slack.h.slack_world.rate_limited["chat.postMessage"] > 0
    assert len(await tasks_of(slack)) == 5


async def test_someone_the_directory_does_not_know_is_told_why(slack: SlackHarness) -> None:
    slack.h.slack_world.channels[CHANNEL].members.add("U0CAROL")
    view = await open_modal(slack, "Mine", user_id="U0CAROL")
    assert await submit(slack, view, form_values("Mine"), user="U0CAROL") == {}
    await eventually(lambda: bool(direct_messages(slack, "U0CAROL")))
    (dm,) = direct_messages(slack, "U0CAROL")
    assert dm["text"].startswith("The task was not created: ")
    assert await tasks_of(slack, "U0CAROL") == []


async def test_a_message_of_blocks_only_gives_its_text(slack: SlackHarness) -> None:
    world = slack.h.slack_world
    message = post_in_channel(slack, "")
    message["blocks"] = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* v2"}}]
    before = set(world.views)
    await slack.send(shortcut(slack, message))
    await eventually(lambda: set(world.views) != before)
    (view_id,) = set(world.views) - before
    assert element(world.views[view_id], TITLE)["initial_value"] == "Deploy v2"


def test_a_submission_that_slack_did_not_make_is_read_safely() -> None:
    view = {
        "private_metadata": "not json",
        "state": {"values": form_values("T", priority="critical", project="jira:1")},
    }
    form = read_submission(view, earliest=date(2026, 1, 1))
    assert isinstance(form, TaskForm)
    assert (form.priority, form.project, form.origin) == (None, None, None)
    broken = {"state": {"values": {DUE: {"due": {"selected_date": "31/12/2026"}}}}}
    errors = read_submission(broken, earliest=date(2026, 1, 1))
    assert isinstance(errors, dict) and set(errors) == {TITLE, DUE}
