"""`/tasks` through really signed requests: every answer is private (in the command's ack),
about the person who typed it, and reads as a sentence — never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.listeners.commands import Subcommand, TasksRequest, parse_tasks
from sandbox.slack_requests import slash_command as slack_slash_command
from storage.models import UserAuthToken
from tests.bot.blockkit import check_message, texts
from tests.bot.harness import SlackHarness, slack_harness
from tests.bot.listening import (
    CLICKUP,
    NOTION,
    buttons,
    connect,
    deliver,
    link_owner,
    task_for,
    tasks_command,
)
from tests.fakes import FakeClock
from tests.sidecar.harness import ANA, BO


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[SlackHarness]:
    async with slack_harness(database_url, clock) as harness:
        yield harness


async def tasks(slack: SlackHarness, text: str, user_id: str = ANA) -> dict[str, Any]:
    """`/tasks <text>` typed by `user_id`; the private answer, checked against Block Kit."""
    response = await deliver(slack, tasks_command(text, user_id))
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert answer["response_type"] == "ephemeral"  # shown to the person who typed it alone
    check_message(answer)
    return answer


def said(answer: dict[str, Any]) -> str:
    return str(answer["text"]) + "\n" + texts(answer["blocks"])


def nothing_posted(slack: SlackHarness) -> bool:
    return not any(slack.calls(method) for method in ("chat.postMessage", "chat.postEphemeral"))


@pytest.mark.parametrize(
    ("text", "request_"),
    [
        ("", TasksRequest(Subcommand.HELP)),
        ("  HELP ", TasksRequest(Subcommand.HELP)),
        ("Connect", TasksRequest(Subcommand.CONNECT)),
        ("connect   ClickUp", TasksRequest(Subcommand.CONNECT, "clickup")),
        ("CONNECT notion", TasksRequest(Subcommand.CONNECT, "notion")),
        ("disconnect  Notion  ", TasksRequest(Subcommand.DISCONNECT, "notion")),
        ("disconnect", TasksRequest(Subcommand.DISCONNECT)),
        ("Status", TasksRequest(Subcommand.STATUS)),
        ("pending", TasksRequest(Subcommand.PENDING)),
        ("status please", TasksRequest(Subcommand.HELP, unknown="status please")),
        ("connect clickup now", TasksRequest(Subcommand.HELP, unknown="connect clickup now")),
        ("make me a sandwich", TasksRequest(Subcommand.HELP, unknown="make me a sandwich")),
    ],
)
def test_the_text_is_read_in_any_case_with_any_spacing(text: str, request_: TasksRequest) -> None:
    assert parse_tasks(text) == request_


async def test_help_lists_every_command(slack: SlackHarness) -> None:
    answer = await tasks(slack, "help")
    for command in ("connect", "disconnect", "status", "pending", "help"):
        assert f"/tasks {command}" in said(answer)
    assert "I don't know" not in said(answer)
    assert nothing_posted(slack)


async def test_unknown_input_prints_help_saying_what_was_not_understood(
    slack: SlackHarness,
) -> None:
    answer = await tasks(slack, "frobnicate <the> & *thing*")
    text = said(answer)
    assert "I don't know `frobnicate &lt;the&gt; &amp; *thing*`" in text
    assert "/tasks pending" in text


async def test_connect_gives_the_person_their_own_link_for_each_tool_not_connected(
    slack: SlackHarness,
) -> None:
    answer = await tasks(slack, "connect")

    found = buttons(answer["blocks"])
    assert set(found) == {"link:clickup", "link:notion"}
    assert "/auth/clickup/initiate?t=" in found["link:clickup"]["url"]
    assert link_owner(slack, found["link:clickup"]["url"], CLICKUP) == ANA
    assert link_owner(slack, found["link:notion"]["url"], NOTION) == ANA
    assert nothing_posted(slack)

    await connect(slack, ANA, CLICKUP)
    answer = await tasks(slack, "connect")
    assert set(buttons(answer["blocks"])) == {"link:notion"}


async def test_connect_a_named_tool_even_when_connected_says_it_replaces_it(
    slack: SlackHarness,
) -> None:
    await connect(slack, BO, NOTION)
    answer = await tasks(slack, "connect NOTION", user_id=BO)

    [(action_id, button)] = buttons(answer["blocks"]).items()
    assert action_id == "link:notion"
    assert link_owner(slack, button["url"], NOTION) == BO
    assert "replaces" in said(answer)


async def test_connect_when_everything_is_connected_says_so(slack: SlackHarness) -> None:
    await connect(slack, ANA, CLICKUP)
    await connect(slack, ANA, NOTION)
    answer = await tasks(slack, "connect")
    assert buttons(answer["blocks"]) == {}
    assert "ClickUp and Notion are connected already." in said(answer)


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("connect jira", "I don't know the tool `jira`; say `clickup` or `notion`."),
        ("disconnect", "Say which tool to disconnect: `/tasks disconnect` and `clickup` or"),
        ("disconnect <asana>", "I don't know the tool `&lt;asana&gt;`"),
    ],
)
async def test_a_wrong_tool_is_one_sentence_saying_what_to_do(
    slack: SlackHarness, text: str, sentence: str
) -> None:
    answer = await tasks(slack, text)
    assert sentence in said(answer)
    assert buttons(answer["blocks"]) == {}


async def test_disconnect_forgets_only_the_persons_own_connection(slack: SlackHarness) -> None:
    await connect(slack, ANA, CLICKUP)
    await connect(slack, BO, CLICKUP)

    answer = await tasks(slack, "disconnect clickup")
    again = await tasks(slack, "disconnect clickup")

    assert "ClickUp is disconnected." in said(answer)
    assert "ClickUp was not connected to your Slack account." in said(again)
    async with slack.h.sessions() as session:
        left = (await session.scalars(select(UserAuthToken.user_id))).all()
    assert left == [BO]


async def test_status_shows_connections_and_routing(slack: SlackHarness) -> None:
    await connect(slack, ANA, CLICKUP)
    await task_for(slack, BO, "Bo's task")  # Bo's, not Ana's

    text = said(await tasks(slack, "status"))

    assert "*ClickUp*: connected (Acme)" in text
    assert "*Notion*: not connected" in text
    assert "Smart" in text
    assert "Nothing waits." in text


async def test_pending_lists_the_persons_waiting_tasks_with_their_buttons(
    slack: SlackHarness,
) -> None:
    mine = await task_for(slack, ANA, "Fix <script> & *bold* 🚀 now")
    await task_for(slack, BO, "Bo's own task")

    answer = await tasks(slack, "pending")

    text = said(answer)
    assert "Fix &lt;script&gt; &amp; *bold* 🚀 now" in text
    assert "Bo's own task" not in text
    assert set(buttons(answer["blocks"])) == {
        f"connect:clickup:{mine.task_id}",
        f"connect:notion:{mine.task_id}",
        f"dismiss:{mine.task_id}",
    }
    assert nothing_posted(slack)


async def test_pending_with_nothing_waiting(slack: SlackHarness) -> None:
    assert "Nothing is waiting." in said(await tasks(slack, "pending", user_id=BO))


async def test_an_unexpected_failure_reads_as_one_sentence_and_is_logged(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """The tasks table is out of reach (renamed away, then back): the database error is
    logged, and the person reads one sentence."""
    async with slack.h.sessions() as session, session.begin():
        await session.execute(text("ALTER TABLE tasks RENAME TO tasks_away"))
    try:
        with caplog.at_level(logging.ERROR):
            answer = await tasks(slack, "pending")
    finally:
        async with slack.h.sessions() as session, session.begin():
            await session.execute(text("ALTER TABLE tasks_away RENAME TO tasks"))

    assert said(answer).startswith("Something went wrong on our side; try again in a minute.")
    assert "tasks" not in said(answer).split("minute.")[1]
    assert "Traceback" not in said(answer)
    assert any("/tasks pending failed" in r.getMessage() for r in caplog.records)


async def test_a_command_not_signed_by_slack_does_nothing(slack: SlackHarness) -> None:
    await task_for(slack, ANA, "Secret plans")
    response = await slack.send(tasks_command("pending"), secret="not-the-signing-secret")
    assert response.status_code == 401
    assert "Secret plans" not in response.text


async def test_pending_shows_the_first_twenty_and_counts_them_all(slack: SlackHarness) -> None:
    for n in range(25):
        await task_for(slack, ANA, f"Task {n}")
        slack.h.clock.advance(1)
    answer = await tasks(slack, "pending")
    assert "*25 waiting tasks*" in texts(answer["blocks"])
    assert "and 5 more" in texts(answer["blocks"])
    assert "Task 0" in texts(answer["blocks"]) and "Task 24" not in texts(answer["blocks"])


async def test_a_command_from_a_workspace_this_token_does_not_serve_is_not_acted_on(
    slack: SlackHarness,
) -> None:
    """SLACK_BOT_TOKEN serves its own workspace: a request from another, even signed, is not
    answered with this workspace's people or tasks."""
    await task_for(slack, ANA, "Acme plans")
    other = slack_slash_command(
        "/tasks", "pending", team_id="T0OTHER", user_id=ANA, channel_id="C0ELSEWHERE",
        trigger_id="1700000000.0000000002.abc",
    )  # fmt: skip
    response = await slack.send(other)
    assert "Acme plans" not in response.text
    assert not any(c["team_id"] == "T0OTHER" for c in slack.h.slack_world.calls)
