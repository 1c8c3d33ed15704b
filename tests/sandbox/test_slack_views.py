"""The Slack emulator's views: the App Home with views.publish, modals with views.open (a
trigger used once within three seconds) and views.update."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.slack import SlackSandbox
from tests.fakes import FakeClock
from tests.sandbox.slack_calls import answer, section, slack

HOME = {"type": "home", "blocks": [section("*Integrations*")]}


def modal(title: str = "Create task", blocks: int = 1) -> dict[str, Any]:
    return {"type": "modal", "callback_id": "create_task",
            "title": {"type": "plain_text", "text": title},
            "blocks": [section(f"row {i}") for i in range(blocks)]}  # fmt: skip


async def test_publish_the_home_tab(slack_world: SlackSandbox, http: httpx.AsyncClient) -> None:
    body = await answer(http, "views.publish", user_id="U0ANA", view=HOME)
    assert body["ok"] and body["view"]["type"] == "home" and body["view"]["hash"]
    assert slack_world.home_views["U0ANA"]["blocks"] == HOME["blocks"]
    # As a form with the view as a JSON string, keeping the view's id; a stale hash conflicts.
    again = await answer(http, "views.publish", user_id="U0ANA", view=HOME, form=True,
                         hash=body["view"]["hash"])  # fmt: skip
    assert again["view"]["id"] == body["view"]["id"]
    stale = await answer(http, "views.publish", user_id="U0ANA", view=HOME,
                         hash=body["view"]["hash"])  # fmt: skip
    assert stale["error"] == "hash_conflict"
    unknown = await answer(http, "views.publish", user_id="U0NOBODY", view=HOME)
    assert unknown["error"] == "invalid_arguments"
    assert unknown["response_metadata"]["messages"] == ["invalid `user_id`"]
    slack_world.home_tab_enabled = False
    assert (await answer(http, "views.publish", user_id="U0ANA", view=HOME))["error"] == (
        "not_enabled"
    )


async def test_a_home_tab_over_100_blocks_is_refused(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    big = {"type": "home", "blocks": [section(f"row {i}") for i in range(101)]}
    body = await answer(http, "views.publish", user_id="U0ANA", view=big)
    assert body["error"] == "invalid_arguments"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"
    ]
    assert "U0ANA" not in slack_world.home_views


async def test_views_need_no_scope(slack_world: SlackSandbox, http: httpx.AsyncClient) -> None:
    slack_world.add_workspace("T0ACME", "xoxb-bare", scopes=set())
    bare = await slack(http, "views.publish", token="xoxb-bare", user_id="U0ANA", view=HOME)
    assert bare.json()["ok"]


async def test_a_trigger_opens_one_modal_within_three_seconds(
    slack_world: SlackSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    trigger = slack_world.issue_trigger("U0BO", at=clock.now())
    clock.advance(2.9)
    opened = await answer(http, "views.open", trigger_id=trigger, view=modal())
    assert opened["ok"] and slack_world.views[opened["view"]["id"]]["user"] == "U0BO"
    again = await answer(http, "views.open", trigger_id=trigger, view=modal())
    assert again["error"] == "exchanged_trigger_id"
    late = slack_world.issue_trigger("U0BO", at=clock.now())
    clock.advance(3.1)
    assert (await answer(http, "views.open", trigger_id=late, view=modal()))["error"] == (
        "expired_trigger_id"
    )
    assert (await answer(http, "views.open", trigger_id="123.456.abc", view=modal()))[
        "error"
    ] == "invalid_trigger_id"
    assert (await answer(http, "views.open", view=modal()))["error"] == "invalid_arguments"


async def test_a_modal_is_checked_before_its_trigger_is_spent(
    slack_world: SlackSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    trigger = slack_world.issue_trigger("U0BO", at=clock.now())
    long_title = await answer(http, "views.open", trigger_id=trigger, view=modal("t" * 25))
    assert long_title["error"] == "invalid_arguments"
    too_many = await answer(http, "views.open", trigger_id=trigger, view=modal(blocks=101))
    assert too_many["response_metadata"]["messages"] == [
        "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"
    ]
    home = await answer(http, "views.open", trigger_id=trigger, view=HOME)
    assert home["error"] == "invalid_arguments"
    assert (await answer(http, "views.open", trigger_id=trigger, view=modal()))["ok"]


async def test_update_a_modal(
    slack_world: SlackSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    trigger = slack_world.issue_trigger("U0BO", at=clock.now())
    opened = (await answer(http, "views.open", trigger_id=trigger,
                           view={**modal(), "external_id": "task-7"}))["view"]  # fmt: skip
    updated = await answer(http, "views.update", view_id=opened["id"], hash=opened["hash"],
                           view={**modal("Created"), "external_id": "task-7"})  # fmt: skip
    assert updated["ok"] and updated["view"]["title"]["text"] == "Created"
    stale = await answer(http, "views.update", view_id=opened["id"], hash=opened["hash"],
                         view=modal())  # fmt: skip
    assert stale["error"] == "hash_conflict"
    by_external = await answer(http, "views.update", external_id="task-7", view=modal("Again"))
    assert by_external["ok"] and by_external["view"]["id"] == opened["id"]
    assert (await answer(http, "views.update", view_id="V404", view=modal()))["error"] == (
        "not_found"
    )


async def test_views_are_tier_4(slack_world: SlackSandbox, http: httpx.AsyncClient) -> None:
    for _ in range(100):
        await slack(http, "views.publish", user_id="U0ANA", view=HOME)
    limited = await slack(http, "views.publish", user_id="U0ANA", view=HOME)
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert slack_world.rate_limited["views.publish"] == 1
