"""Direct messages and `/tasks` replies, and the action ids every view shares with the
listeners."""

from __future__ import annotations

import pytest

from bot.views import actions
from bot.views.messages import (
    PENDING_SHOWN,
    connect_reply,
    connection_made,
    flush_done,
    help_reply,
    notice,
    pending_reply,
    reconnect_needed,
    status_reply,
)
from primitives.enums import ProviderName, RoutingMode, TaskState
from routing.connections import AuthStatus, ConnectionStatus
from routing.preferences import DefaultDestination, PreferenceDetails
from tests.bot.blockkit import action_ids, check_message, texts
from tests.bot.views_data import task

S = TaskState
CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION


def test_after_a_flush_the_person_hears_how_many_were_created_where() -> None:
    assert flush_done({CLICKUP: 5}).text == "5 waiting tasks were created in ClickUp"
    assert flush_done({NOTION: 1}).text == "1 waiting task was created in Notion"
    both = flush_done({CLICKUP: 3, NOTION: 2}, failed=1)
    assert both.text == (
        "3 waiting tasks were created in ClickUp and 2 in Notion; "
        "1 could not be — see `/tasks pending`"
    )
    check_message(both.payload())


def test_a_connection_that_stopped_working_asks_to_reconnect_with_a_button() -> None:
    message = reconnect_needed(NOTION, waiting=3)
    check_message(message.payload())
    assert message.text == "Reconnect Notion to keep creating tasks"
    block = message.blocks[0]
    assert block["text"]["text"] == (
        ":warning: Your Notion connection stopped working. "
        "Reconnect Notion to keep creating tasks; 3 waiting tasks until you do."
    )
    assert block["accessory"]["text"]["text"] == "Connect Notion"
    assert actions.parse_action(block["accessory"]["action_id"], block["accessory"]["value"]) == (
        actions.Action(actions.Verb.CONNECT, NOTION)
    )


def test_a_new_connection_names_the_account_and_offers_disconnect() -> None:
    message = connection_made(CLICKUP, "ada@acme.com", "Acme")
    check_message(message.payload())
    assert message.text == (
        "ClickUp (ada@acme.com, Acme) is now connected to your Slack account. Not you?"
    )
    button = message.blocks[0]["accessory"]
    assert (button["text"]["text"], button["action_id"]) == ("Disconnect", "disconnect:clickup")
    replaced = connection_made(NOTION, "<Eve & co>", None, replaced=True)
    check_message(replaced.payload())
    assert replaced.text == (
        "Notion (&lt;Eve &amp; co&gt;) now replaces your earlier Notion connection. Not you?"
    )
    assert connection_made(NOTION).text.startswith("Notion is now connected")


def test_help_lists_the_commands_and_names_what_was_not_understood() -> None:
    message = help_reply("frobnicate <all>")
    check_message(message.payload())
    assert message.text == "I don't know `frobnicate &lt;all&gt;`. Here is what `/tasks` can do:"
    for command in ("connect", "disconnect", "status", "pending", "help"):
        assert f"`/tasks {command}" in texts(message.blocks)
    assert help_reply().text == "Here is what `/tasks` can do:"


def test_status_shows_connections_routing_and_what_waits() -> None:
    auth = AuthStatus(
        ConnectionStatus(True, False, "Acme <HQ>"), ConnectionStatus(False, True, None), 4, True
    )
    preferences = PreferenceDetails(
        RoutingMode.DEFAULT, CLICKUP, DefaultDestination("1", "Space / Backlog"), None
    )
    message = status_reply(auth, preferences)
    check_message(message.payload())
    shown = texts(message.blocks)
    assert ":large_green_circle: *ClickUp*: connected (Acme &lt;HQ&gt;)" in shown
    assert ":warning: *Notion*: stopped working — `/tasks connect notion`" in shown
    assert "*Routing*: Always my default tool" in shown
    assert "*Default ClickUp list*: Space / Backlog" in shown
    assert "*Waiting for a connection*: 4" in shown
    assert message.text == "Connected: ClickUp"


def test_pending_lists_tasks_with_their_buttons_within_a_message() -> None:
    tasks = [task(1, S.FAILED), task(2, S.AWAITING_CHOICE), task(3, S.PENDING_AUTH)]
    tasks += [task(n, S.RETRYING, title="<&>" * 500) for n in range(4, 80)]
    message = pending_reply([*tasks, tasks[0]], total=120)
    check_message(message.payload())
    assert message.text == "120 waiting tasks"
    ids = action_ids(message.blocks)
    assert ids[:6] == [
        "retry:tsk_1",
        "dismiss:tsk_1",
        "choose:clickup:tsk_2",
        "choose:notion:tsk_2",
        "dismiss:tsk_2",
        "connect:clickup:tsk_3",
    ]
    assert f"dismiss:tsk_{PENDING_SHOWN}" in ids
    assert f"dismiss:tsk_{PENDING_SHOWN + 1}" not in ids
    assert f"and {120 - PENDING_SHOWN} more" in texts(message.blocks)
    assert pending_reply([]).text == "Nothing is waiting"


@pytest.mark.parametrize(
    ("action_id", "value", "expected"),
    [
        ("connect:clickup", "clickup", actions.Action(actions.Verb.CONNECT, CLICKUP)),
        ("connect:notion:tsk_a-B_1", "tsk_a-B_1", actions.connect(NOTION, "tsk_a-B_1")),
        ("disconnect:notion", None, actions.disconnect(NOTION)),
        ("choose:clickup:tsk_1", "tsk_1", actions.choose(CLICKUP, "tsk_1")),
        ("retry:tsk_1", "tsk_1", actions.retry("tsk_1")),
        ("dismiss:tsk_1", "tsk_1", actions.dismiss("tsk_1")),
    ],
)
def test_every_action_id_reads_back_as_the_action_it_was_made_from(
    action_id: str, value: str | None, expected: actions.Action
) -> None:
    parsed = actions.parse_action(action_id, value)
    assert parsed == expected
    assert parsed.action_id == action_id
    assert actions.PATTERNS[parsed.verb].match(action_id)


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("launch:tsk_1", "tsk_1"),
        ("connect:jira", "jira"),
        ("choose:clickup", "clickup"),
        ("retry:tsk_1", "tsk_2"),  # the halves disagree
        ("retry:tsk 1", None),
        ("dismiss:" + "x" * 65, None),
        ("disconnect:clickup:tsk_1", None),
    ],
)
def test_action_ids_we_do_not_make_are_refused(action_id: str, value: str | None) -> None:
    with pytest.raises(actions.UnknownAction):
        actions.parse_action(action_id, value)


def test_menu_values_are_read_back_or_refused() -> None:
    assert actions.parse_routing_mode("user_choice") is RoutingMode.USER_CHOICE
    assert actions.parse_tool("notion") is NOTION
    for bad in (lambda: actions.parse_routing_mode("random"), lambda: actions.parse_tool("x")):
        with pytest.raises(actions.UnknownAction):
            bad()
    with pytest.raises(actions.UnknownAction):
        actions.destination_menu_tool("home:routing_mode")


def test_connect_reply_gives_one_link_button_a_tool_and_says_which_it_replaces() -> None:
    links = {
        ProviderName.CLICKUP: "https://scrumy.example/auth/clickup/initiate?t=a.b",
        ProviderName.NOTION: "https://scrumy.example/auth/notion/initiate?t=c.d",
    }
    message = connect_reply(links, connected={ProviderName.NOTION}).payload()
    check_message(message)
    assert message["text"] == "Connect ClickUp and Notion with your own link"
    assert action_ids(message["blocks"]) == ["link:clickup", "link:notion"]
    assert [b["accessory"]["url"] for b in message["blocks"][1:]] == list(links.values())
    assert "replaces" in texts(message["blocks"][2:]) and "replaces" not in texts(
        message["blocks"][1:2]
    )


def test_a_notice_is_one_sentence_in_one_block() -> None:
    message = notice("ClickUp is disconnected.").payload()
    check_message(message)
    assert message == {
        "text": "ClickUp is disconnected.",
        "blocks": [
            {
                "type": "section",
                "block_id": "notice",
                "text": {"type": "mrkdwn", "text": "ClickUp is disconnected."},
            }
        ],
    }
