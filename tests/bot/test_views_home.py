"""The App Home tab and the answers of its list and database menus: within 100 blocks and 100
options whatever the person has, each part showing what it should."""

from __future__ import annotations

from typing import Any

from bot.views import actions
from bot.views.home import RECENT_SHOWN, WAITING_SHOWN, HomeState, home_view
from bot.views.options import destination_options, option_text
from primitives.enums import ProviderName, RoutingMode, TaskState
from providers.base import Destination
from routing.connections import AuthStatus, ConnectionStatus
from routing.preferences import DefaultDestination, PreferenceDetails
from tests.bot.blockkit import action_ids, check_options, check_view, texts
from tests.bot.views_data import task

S = TaskState
CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
CONNECTED = ConnectionStatus(True, False, "Acme")
BROKEN = ConnectionStatus(False, True, "Acme Docs")
NONE = ConnectionStatus(False, False, None)
NO_PREFERENCES = PreferenceDetails(RoutingMode.SMART, None, None, None)


def auth(clickup: ConnectionStatus = NONE, notion: ConnectionStatus = NONE) -> AuthStatus:
    return AuthStatus(clickup, notion, 0, clickup.connected or notion.connected)


def render(state: HomeState) -> dict[str, Any]:
    view = home_view(state)
    check_view(view)
    return view


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def lists(count: int) -> list[Destination]:
    return [
        Destination(CLICKUP, f"9000{n}", f"Sprint {n}", "w1", path=("Engineering", "Backlog"))
        for n in range(count)
    ]


def test_a_newcomer_sees_connect_buttons_and_nothing_waiting() -> None:
    view = render(HomeState(auth(), NO_PREFERENCES))
    assert view["type"] == "home"
    clickup = block(view, "home:connection:clickup")
    assert clickup["text"]["text"] == ":white_circle: *ClickUp* — not connected"
    assert clickup["accessory"]["action_id"] == "connect:clickup"
    assert block(view, "home:connection:notion")["accessory"]["text"]["text"] == "Connect Notion"
    destination = block(view, "home:default_destination:clickup")
    assert "Connect ClickUp to choose one." in destination["text"]["text"]
    assert "accessory" not in destination
    assert "Nothing is waiting." in texts(view["blocks"])
    assert "No tasks yet." in texts(view["blocks"])


def test_connections_show_the_account_and_offer_disconnect() -> None:
    state = HomeState(
        auth(CONNECTED, NONE), NO_PREFERENCES, accounts={CLICKUP: "ada@acme.com <Ada>"}
    )
    row = block(render(state), "home:connection:clickup")
    assert row["text"]["text"] == (
        ":large_green_circle: *ClickUp* — connected as ada@acme.com &lt;Ada&gt; in Acme"
    )
    assert row["accessory"]["action_id"] == "disconnect:clickup"
    assert row["accessory"]["confirm"]["title"]["text"] == "Disconnect ClickUp?"
    assert actions.parse_action("disconnect:clickup", "clickup").tool is CLICKUP


def test_a_connection_that_stopped_working_gets_a_banner_with_the_reconnect_button() -> None:
    view = render(HomeState(auth(CONNECTED, BROKEN), NO_PREFERENCES))
    banner = view["blocks"][1]
    assert banner["block_id"] == "home:banner:notion"
    assert "Your Notion connection stopped working" in banner["text"]["text"]
    assert banner["accessory"]["text"]["text"] == "Reconnect Notion"
    assert banner["accessory"]["action_id"] == "connect:notion"
    row = block(view, "home:connection:notion")
    assert "stopped working in Acme Docs" in row["text"]["text"]
    assert row["accessory"]["action_id"] == "disconnect:notion"


def test_routing_mode_default_tool_and_destinations_show_their_current_values() -> None:
    preferences = PreferenceDetails(
        RoutingMode.USER_CHOICE,
        NOTION,
        DefaultDestination("90001", "Engineering / Backlog / Sprint 1"),
        None,
    )
    view = render(HomeState(auth(CONNECTED, CONNECTED), preferences))
    mode = block(view, "home:routing_mode")["accessory"]
    assert mode["type"] == "static_select"
    assert mode["action_id"] == actions.ROUTING_MODE
    assert [o["value"] for o in mode["options"]] == ["smart", "user_choice", "default"]
    assert mode["initial_option"]["text"]["text"] == "Ask me for each task"
    assert actions.parse_routing_mode(mode["initial_option"]["value"]) is RoutingMode.USER_CHOICE
    tool = block(view, "home:default_tool")["accessory"]
    assert tool["initial_option"] == {
        "text": {"type": "plain_text", "text": "Notion", "emoji": True},
        "value": "notion",
    }
    clickup = block(view, "home:default_destination:clickup")["accessory"]
    assert clickup["type"] == "external_select"
    assert clickup["min_query_length"] == 0
    assert clickup["action_id"] == actions.DEFAULT_DESTINATION[CLICKUP]
    assert clickup["initial_option"]["value"] == "90001"
    assert clickup["initial_option"]["text"]["text"] == "Engineering / Backlog / Sprint 1"
    notion = block(view, "home:default_destination:notion")
    assert "initial_option" not in notion["accessory"]
    assert "Not chosen: tasks go to the first database found." in notion["text"]["text"]
    assert actions.destination_menu_tool(notion["accessory"]["action_id"]) is NOTION


def test_waiting_tasks_have_retry_and_dismiss_and_the_list_is_capped() -> None:
    waiting = [task(1, S.FAILED), task(2, S.AWAITING_CHOICE), task(3, S.PENDING_AUTH)]
    waiting += [task(n, S.RETRYING) for n in range(4, 40)]
    view = render(
        HomeState(auth(CONNECTED, CONNECTED), NO_PREFERENCES, waiting=waiting, waiting_total=250)
    )
    ids = action_ids(view["blocks"])
    assert {"retry:tsk_1", "dismiss:tsk_1", "choose:notion:tsk_2", "dismiss:tsk_2"} <= set(ids)
    assert "retry:tsk_4" not in ids
    assert "dismiss:tsk_10" in ids
    assert "dismiss:tsk_11" not in ids
    assert block(view, "home:waiting")["text"]["text"] == "Waiting tasks (250)"
    more = block(view, "home:waiting:more")["elements"][0]["text"]
    assert more == f"and {250 - WAITING_SHOWN} more — `/tasks pending`"
    first = block(view, "home:waiting:1")["text"]["text"]
    assert first.startswith(":x: *Failed* · Action 1")
    assert "<@U1>" not in first  # it is the person's own Home


def test_recent_tasks_link_to_them() -> None:
    recent = [task(n, S.CREATED) for n in range(1, 30)]
    view = render(HomeState(auth(CONNECTED), NO_PREFERENCES, recent=recent))
    line = block(view, "home:recent:1")["text"]["text"]
    assert "<https://app.clickup.com/t/1|Action 1>" in line
    shown = [b for b in view["blocks"] if b.get("block_id", "").startswith("home:recent:")]
    assert len(shown) == RECENT_SHOWN


def test_the_fullest_home_stays_within_100_blocks_with_unique_ids() -> None:
    nasty = "<&>*_~`🎉" * 200
    # Review items carry the most buttons (Create, Edit, Dismiss): half of them are.
    waiting = [
        task(n, S.REVIEW if n % 2 else S.AWAITING_CHOICE, title=nasty, reason=nasty)
        for n in range(1, 300)
    ]
    recent = [task(n, S.CREATED, title=nasty) for n in range(200, 500)]  # overlaps waiting
    preferences = PreferenceDetails(
        RoutingMode.DEFAULT, CLICKUP, DefaultDestination("1", nasty), DefaultDestination("2", nasty)
    )
    state = HomeState(
        auth(BROKEN, BROKEN), preferences, waiting=waiting, waiting_total=10_000,
        recent=recent, accounts={CLICKUP: nasty, NOTION: nasty},
    )  # fmt: skip
    view = render(state)
    assert len(view["blocks"]) <= 100
    assert "and 9990 more" in texts(view["blocks"])
    assert {"create:tsk_1", "edit:tsk_1", "dismiss:tsk_1"} <= set(action_ids(view["blocks"]))


def test_options_for_a_person_with_500_lists_are_at_most_100() -> None:
    answer = destination_options(lists(500))
    check_options(answer)
    assert len(answer["options"]) == 100
    assert answer["options"][0] == {
        "text": {"type": "plain_text", "text": "Engineering / Backlog / Sprint 0", "emoji": True},
        "value": "90000",
    }


def test_typing_narrows_the_options_and_names_starting_with_it_come_first() -> None:
    destinations = [
        *lists(500),
        Destination(CLICKUP, "1", "Website", "w1", path=("Marketing",)),
        Destination(CLICKUP, "2", "Old website redesign", "w1"),
    ]
    answer = destination_options(destinations, "web")
    check_options(answer)
    assert [o["value"] for o in answer["options"]] == ["1", "2"]
    answer = destination_options(destinations, "SPRINT 49")
    wanted = sorted(n for n in range(500) if "49" in str(n))
    assert [o["value"] for o in answer["options"]] == [f"9000{n}" for n in wanted]
    assert destination_options(destinations, "nothing like it") == {"options": []}


def test_long_names_keep_their_end_and_bad_ids_are_skipped() -> None:
    long_path = tuple(f"Folder number {n}" for n in range(10))
    destinations = [
        Destination(NOTION, "a" * 151, "Too long an id", "w1"),
        Destination(NOTION, "ok", "Roadmap <2026> & more", "w1", path=long_path),
        Destination(NOTION, "ok", "Duplicate", "w1"),
        Destination(NOTION, "big", "x" * 300, "w1"),
    ]
    answer = destination_options(destinations)
    check_options(answer)
    assert [o["value"] for o in answer["options"]] == ["ok", "big"]
    text = answer["options"][0]["text"]["text"]
    assert text.startswith("… / ")
    assert text.endswith("Folder number 9 / Roadmap <2026> & more")
    assert len(answer["options"][1]["text"]["text"]) == 75
    assert option_text("Short") == "Short"


def test_the_answer_to_a_click_and_a_fresh_link_go_on_top() -> None:
    url = "https://scrumy.example/auth/notion/initiate?t=abc.def"
    view = render(
        HomeState(
            auth(clickup=BROKEN),
            NO_PREFERENCES,
            notice="“Fix &lt;it&gt;” is dismissed.",
            connect_links={NOTION: url},
        )
    )
    ids = [b.get("block_id") for b in view["blocks"]]
    assert ids[:3] == ["home:title", "home:notice", "home:link:notion"]
    link = block(view, "home:link:notion")["accessory"]
    assert (link["action_id"], link["url"]) == ("link:notion", url)
    assert actions.OPEN_LINK.match(link["action_id"])
    assert "connect:clickup" in action_ids(view["blocks"])  # the banner's Reconnect, once


def test_a_link_for_a_tool_not_offered_is_not_shown() -> None:
    view = render(
        HomeState(auth(), NO_PREFERENCES, tools=(CLICKUP,), connect_links={NOTION: "https://x"})
    )
    assert "link:notion" not in action_ids(view["blocks"])
