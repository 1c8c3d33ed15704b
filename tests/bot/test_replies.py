"""Private answers: a slash command's answer in its ack when ready in time, else "working on
it" and the answer after; errors as one sentence."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.listeners.replies import SOMETHING_WRONG, WORKING, answer, reply_within, sentence
from bot.views.blocks import SlackMessage
from bot.views.messages import notice
from routing.errors import InvalidInput, NotAllowed


class Acks:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, **body: Any) -> None:
        self.bodies.append(body)


async def test_work_done_in_time_is_the_ack() -> None:
    acks, later = Acks(), []

    async def follow_up(message: SlackMessage) -> None:
        later.append(message)

    await reply_within(acks, answer(_ready("Done."), "test"), follow_up=follow_up)

    assert acks.bodies == [{"response_type": "ephemeral", **notice("Done.").payload()}]
    assert later == []


async def test_slow_work_is_acknowledged_first_and_answered_after() -> None:
    acks, later = Acks(), []
    release, acked = asyncio.Event(), asyncio.Event()

    async def ack(**body: Any) -> None:
        await acks(**body)
        acked.set()

    async def slow() -> SlackMessage:
        await release.wait()
        return notice("Done at last.")

    async def follow_up(message: SlackMessage) -> None:
        later.append(message)

    replying = asyncio.ensure_future(
        reply_within(ack, answer(slow(), "test"), follow_up=follow_up, seconds=0)
    )
    await acked.wait()
    assert acks.bodies == [{"response_type": "ephemeral", **notice(WORKING).payload()}]
    release.set()
    await replying
    assert later == [notice("Done at last.")]


async def test_a_routing_error_is_its_sentence_and_anything_else_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await answer(_raising(NotAllowed("t1")), "x") == notice(
        "Only the person this task belongs to can do that."
    )
    assert await answer(_raising(InvalidInput("f", "connect <ClickUp> first")), "x") == notice(
        "Connect &lt;ClickUp&gt; first."
    )
    with caplog.at_level(logging.ERROR):
        assert await answer(_raising(KeyError("secret")), "a click") == notice(SOMETHING_WRONG)
    assert [r.getMessage() for r in caplog.records] == ["a click failed"]


def test_a_sentence_is_capitalised_and_ends_once() -> None:
    assert sentence("try again later") == "Try again later."
    assert sentence("Done!") == "Done!"
    assert sentence("  ") == SOMETHING_WRONG


async def _ready(text: str) -> SlackMessage:
    return notice(text)


async def _raising(error: Exception) -> SlackMessage:
    raise error
