"""Requests from Slack reach the app only when Slack really signed them (v0 HMAC, 5 minutes)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from sandbox.slack_requests import SlackBody, url_verification
from tests.bot.harness import SlackHarness, slack_harness
from tests.fakes import FakeClock


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[SlackHarness]:
    async with slack_harness(database_url, clock) as harness:
        yield harness


async def test_a_signed_url_verification_is_answered_with_its_challenge(
    slack: SlackHarness,
) -> None:
    response = await slack.send(url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7"))
    assert response.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7" in response.text


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("stale", {"age": 310}),
        ("from the future", {"age": -310}),
        ("tampered", {"tamper": True}),
        ("another secret", {"secret": "not-the-signing-secret"}),
    ],
)
async def test_a_request_slack_did_not_sign_now_is_refused(
    slack: SlackHarness, case: str, kwargs: dict[str, object]
) -> None:
    kwargs = dict(kwargs)
    age = kwargs.pop("age", None)
    if isinstance(age, int):  # seconds before now, counted when sent
        kwargs["timestamp"] = int(time.time()) - age
    response = await slack.send(url_verification("challenge-value"), **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 401, case
    assert "challenge-value" not in response.text


async def test_an_unsigned_request_is_refused_and_nothing_is_called(slack: SlackHarness) -> None:
    payload = url_verification("unsigned")
    made_at_start = len(slack.h.slack_world.calls)  # which workspace the bot token serves
    response = await slack.client.post(
        "/slack/events", content=payload.body, headers={"Content-Type": payload.content_type}
    )
    assert response.status_code == 401
    assert len(slack.h.slack_world.calls) == made_at_start


async def test_every_answer_to_slack_is_timed_in_the_ack_metric(slack: SlackHarness) -> None:
    await slack.send(url_verification("one"))
    await slack.send(SlackBody(json.dumps({"type": "url_verification"}).encode(), "text/plain"))
    metrics = (await slack.client.get("/metrics")).text
    assert "scrumy_slack_ack_seconds_count 2.0" in metrics
