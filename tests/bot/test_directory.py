"""Who is in the workspace, asked of the Slack Web API emulator (users.info, lookupByEmail)."""

from __future__ import annotations

import httpx
import pytest

from bot.directory import SlackDirectory
from routing.errors import DirectoryUnavailable
from sandbox.faults import FaultKind
from sandbox.slack import SlackSandbox
from tests.emulators import SLACK_BOT_TOKEN, SLACK_TEAM, SLACK_URL
from tests.fakes import FakeClock

TEAM, BOT = SLACK_TEAM, SLACK_BOT_TOKEN
API = f"{SLACK_URL}/api"


@pytest.fixture
def slack_world(slack_world: SlackSandbox) -> SlackSandbox:
    slack_world.add_workspace("T0OTHER", "xoxb-other-bot")
    slack_world.add_user("T0OTHER", "U0EVE", "Eve Smith", "eve@other.example")
    return slack_world


def directory(
    http: httpx.AsyncClient, api_url: str, clock: FakeClock, tokens: dict[str, str]
) -> SlackDirectory:
    async def token_for(team_id: str) -> str | None:
        return tokens.get(team_id)

    return SlackDirectory(http, api_url=api_url, tokens=token_for, clock=clock)


async def test_members_and_emails(
    slack_world: SlackSandbox, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    people = directory(http, API, clock, {TEAM: BOT})
    assert await people.is_member(TEAM, "U0ANA")
    assert not await people.is_member(TEAM, "U0GONE")  # deactivated
    assert not await people.is_member(TEAM, "B0SCRUMY")  # a bot
    assert not await people.is_member(TEAM, "U0NOBODY")
    assert not await people.is_member(TEAM, "U0EVE")  # in another workspace
    assert await people.user_by_email(TEAM, "bo@acme.example") == "U0BO"
    assert await people.user_by_email(TEAM, "dee@acme.example") is None
    assert await people.user_by_email(TEAM, "eve@other.example") is None
    # Cached for a while: asking again costs no call; after five minutes it asks again.
    calls = sum(slack_world.requests.values())
    assert await people.is_member(TEAM, "U0ANA")
    assert await people.user_by_email(TEAM, "BO@acme.example") == "U0BO"
    assert sum(slack_world.requests.values()) == calls
    clock.advance(301)
    assert await people.is_member(TEAM, "U0ANA")
    assert sum(slack_world.requests.values()) == calls + 1


async def test_slack_trouble_is_directory_unavailable(
    slack_world: SlackSandbox, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    people = directory(http, API, clock, {TEAM: BOT, "T0BAD": "xoxb-revoked"})
    slack_world.faults.add(FaultKind.RATE_LIMIT, seconds=12)
    with pytest.raises(DirectoryUnavailable) as limited:
        await people.is_member(TEAM, "U0ANA")
    assert limited.value.retry_after == 12
    slack_world.faults.add(FaultKind.BAD_GATEWAY_HTML)
    with pytest.raises(DirectoryUnavailable, match="without JSON"):
        await people.is_member(TEAM, "U0BO")
    with pytest.raises(DirectoryUnavailable, match="invalid_auth") as refused:
        await people.is_member("T0BAD", "U0ANA")
    assert "xoxb" not in str(refused.value)
    with pytest.raises(DirectoryUnavailable, match="not installed"):
        await people.is_member("T0NONE", "U0ANA")
    gone = directory(http, "http://127.0.0.1:9/api", clock, {TEAM: BOT})
    with pytest.raises(DirectoryUnavailable, match="did not answer"):
        await gone.is_member(TEAM, "U0ANA")


async def test_the_emulator_keeps_slacks_budget(
    slack_world: SlackSandbox, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    slack_world.per_minute = 3
    people = directory(http, API, clock, {TEAM: BOT})
    for user in ("U0ANA", "U0BO", "U0CY"):
        await people.is_member(TEAM, user)
    with pytest.raises(DirectoryUnavailable) as limited:
        await people.is_member(TEAM, "U0GONE")
    assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 60
    clock.advance(60)
    assert not await people.is_member(TEAM, "U0GONE")


async def test_time_zones_come_with_the_answers_that_found_the_owner(
    slack_world: SlackSandbox, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    people = directory(http, API, clock, {TEAM: BOT})
    assert await people.is_member(TEAM, "U0ANA")
    assert await people.user_by_email(TEAM, "bo@acme.example") == "U0BO"
    calls = sum(slack_world.requests.values())
    assert await people.time_zone(TEAM, "U0ANA") == "America/Los_Angeles"
    assert await people.time_zone(TEAM, "U0BO") == "Europe/Berlin"
    assert sum(slack_world.requests.values()) == calls  # kept from those answers
    assert await people.time_zone(TEAM, "U0CY") == "Pacific/Auckland"  # asked: users.info
    assert sum(slack_world.requests.values()) == calls + 1
    assert await people.time_zone(TEAM, "U0NOBODY") is None
