"""Installed in two workspaces through Slack OAuth, served by one process: each workspace's
requests are answered and its messages sent with its own bot token; an uninstalled workspace
is forgotten."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.slack_requests import app_uninstalled, event_callback, signed, slash_command
from storage.api_keys import create_api_key
from tests.bot.harness import BASE_URL, SlackHarness, slack_harness
from tests.bot.test_installations import HIDDEN_FIELD
from tests.emulators import in_process_client
from tests.fakes import FakeClock
from tests.sidecar.harness import ANA, EVE, OTHER_TEAM, SIGNING_SECRET, TEAM

pytestmark = pytest.mark.filterwarnings(
    # slack_sdk's oauth.v2.access passes aiohttp.BasicAuth, which aiohttp now deprecates.
    "ignore::DeprecationWarning"
)
CHANNELS = {TEAM: "C0GENERAL", OTHER_TEAM: "C0OTHER"}
OWNERS = {TEAM: ANA, OTHER_TEAM: EVE}


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[SlackHarness]:
    async with slack_harness(database_url, clock, slack="installs") as harness:
        harness.h.slack_world.add_channel(OTHER_TEAM, "C0OTHER", "other", members={EVE})
        yield harness


async def install(slack: SlackHarness, team_id: str, user_id: str) -> None:
    """An admin of `team_id` presses "Add to Slack": Bolt's install page, Slack's consent page,
    "Allow", and back to the app with the state cookie."""
    async with in_process_client({BASE_URL: slack.h.app}) as browser:
        start = await browser.get(f"{BASE_URL}/slack/install", params={"team": team_id})
        assert start.status_code == 302, start.text
        # Bolt's state cookie is Secure, which httpx sends only over https: send it by hand.
        cookie = start.headers["set-cookie"].split(";")[0]
        consent = await browser.get(start.headers["location"])
        fields = dict(HIDDEN_FIELD.findall(consent.text))
        fields.update(user_id=user_id, decision="allow")
        allowed = await browser.post(f"{slack.h.slack_url}/oauth/v2/authorize", data=fields)
        assert allowed.status_code == 302, allowed.text
        done = await browser.get(allowed.headers["location"], headers={"Cookie": cookie})
        assert done.status_code == 200, done.text


async def post_meeting(slack: SlackHarness, team_id: str, meeting_id: str) -> Any:
    async with slack.h.sessions() as session, session.begin():
        key = await create_api_key(session, team_id=team_id, name="ai", now=slack.h.clock.now())
    body = {
        "meeting_id": meeting_id, "title": f"Weekly of {team_id}", "team_id": team_id,
        "channel_id": CHANNELS[team_id], "owner": {"slack_user_id": OWNERS[team_id]},
        "action_items": [{"id": "1", "title": "Write it down"}],
    }  # fmt: skip
    response = await slack.client.post(
        "/api/meetings", json=body, headers={"Authorization": f"Bearer {key.secret}"}
    )
    assert response.status_code == 202, response.text
    assert slack.h.told is not None
    await slack.h.told.idle()
    return response.json()


async def help_for(slack: SlackHarness, team_id: str) -> httpx.Response:
    command = slash_command(
        "/tasks", "help", team_id=team_id, user_id=OWNERS[team_id],
        channel_id=CHANNELS[team_id], trigger_id="1700000000.0000000009.abc",
    )  # fmt: skip
    return await slack.send(command)


async def test_each_workspace_is_answered_and_told_with_its_own_token(slack: SlackHarness) -> None:
    await install(slack, TEAM, ANA)
    await install(slack, OTHER_TEAM, EVE)

    for team_id in (TEAM, OTHER_TEAM):
        assert "/tasks connect" in (await help_for(slack, team_id)).text
        answer = await post_meeting(slack, team_id, f"weekly-{team_id}")
        assert answer["slack"] == {"posted": True, "error": None}

    posts = slack.calls("chat.postMessage")
    assert {(c["team_id"], c["args"]["channel"]) for c in posts} == {
        (TEAM, "C0GENERAL"),
        (OTHER_TEAM, "C0OTHER"),
    }
    assert slack.h.slack_world.messages["C0OTHER"] and slack.h.slack_world.messages["C0GENERAL"]


async def test_an_uninstalled_workspace_is_forgotten(slack: SlackHarness) -> None:
    await install(slack, TEAM, ANA)
    await install(slack, OTHER_TEAM, EVE)
    uninstalled = event_callback(app_uninstalled(), team_id=OTHER_TEAM, event_id="Ev0GONE")
    response = await slack.client.post(
        "/slack/events", content=uninstalled.body,
        headers=signed(SIGNING_SECRET, uninstalled, int(time.time())),
    )  # fmt: skip
    assert response.status_code == 200
    assert slack.h.told is not None
    await slack.h.told.idle()

    answer = await post_meeting(slack, OTHER_TEAM, "after-uninstall")
    assert answer["slack"]["posted"] is False
    assert (await post_meeting(slack, TEAM, "still-here"))["slack"]["posted"] is True
