"""`SlackWebApi` over slack_sdk's `AsyncWebClient`: which retries are whose, and how long a
connect page waits for a name."""

from __future__ import annotations

import pytest
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.directory import SingleWorkspace
from bot.people import SlackPeople
from bot.slack_api import SlackWebApi
from bot.slack_client import slack_web_client
from routing.errors import DirectoryUnavailable
from sandbox.faults import FaultKind
from sandbox.slack import SlackSandbox
from tests.emulators import SLACK_BOT_TOKEN, SLACK_TEAM, slack_api
from tests.fakes import FakeClock

NOBODY = "http://127.0.0.1:9/api/"  # the discard port: nothing listens, the connection is refused


def test_a_client_that_waits_out_429s_itself_is_refused(clock: FakeClock) -> None:
    """Its waits would be on the real clock and past `max_wait`: the 429s are ours to wait."""
    with pytest.raises(ValueError, match="rate_limit_retries=0"):
        SlackWebApi(slack_web_client(NOBODY), clock=clock)
    SlackWebApi(slack_web_client(NOBODY, rate_limit_retries=0), clock=clock)


async def test_a_lost_connection_is_tried_again_once_on_our_clock(clock: FakeClock) -> None:
    api = SlackWebApi(AsyncWebClient(base_url=NOBODY, retry_handlers=[]), clock=clock)
    with pytest.raises(DirectoryUnavailable, match="did not answer"):
        await api.call(SLACK_BOT_TOKEN, "users.info", {"user": "U0ANA"})
    assert len(clock.slept) == 1  # the jittered pause before the second try


async def test_a_lost_connection_the_client_tried_again_is_not_tried_a_third_time(
    clock: FakeClock,
) -> None:
    tries = AsyncConnectionErrorRetryHandler(
        max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0)
    )  # as slack_web_client's, without its real pause
    api = SlackWebApi(AsyncWebClient(base_url=NOBODY, retry_handlers=[tries]), clock=clock)
    with pytest.raises(DirectoryUnavailable, match="did not answer"):
        await api.call(SLACK_BOT_TOKEN, "users.info", {"user": "U0ANA"})
    assert clock.slept == []


async def test_a_name_is_not_waited_for_past_a_moment(
    slack_world: SlackSandbox, slack_served: str, clock: FakeClock
) -> None:
    people = SlackPeople(
        slack_api(slack_served, clock), tokens=SingleWorkspace(SLACK_BOT_TOKEN, SLACK_TEAM)
    )
    ana = await people.describe(SLACK_TEAM, "U0ANA")
    assert (ana.handle, ana.workspace) == ("Ana", "Acme")
    slack_world.faults.add(FaultKind.RATE_LIMIT, path="users.info", seconds=12)
    unnamed = await people.describe(SLACK_TEAM, "U0BO")
    assert (unnamed.handle, unnamed.workspace) == (None, "Acme")  # the page shows the id
    assert clock.slept == []
