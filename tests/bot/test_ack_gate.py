"""Work after an ack waits for the other requests' acks (`bot.background.AckGate`), for a
bounded time."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import AckGate
from bot.listeners import _count_acks
from bot.listeners.commands import BUSY_ANSWER_WITHIN, BUSY_AT, answer_within
from bot.listeners.replies import ANSWER_WITHIN
from tests.bot.listening import tasks_command


async def test_work_after_an_ack_waits_until_every_request_is_answered() -> None:
    gate = AckGate(most=60.0)
    gate.arrived()
    gate.arrived()
    order: list[str] = []

    async def after_ack() -> None:
        await gate.after_acks()
        order.append("work")

    work = asyncio.create_task(after_ack())
    await asyncio.sleep(0)
    gate.answered()
    order.append("first ack")
    await asyncio.sleep(0)
    assert not work.done()
    gate.answered()
    order.append("second ack")
    await work
    assert order == ["first ack", "second ack", "work"]
    assert gate.pending == 0


async def test_with_nothing_waiting_work_goes_at_once() -> None:
    gate = AckGate(most=60.0)
    await asyncio.wait_for(gate.after_acks(), 1.0)
    gate.arrived()
    gate.answered()
    await asyncio.wait_for(gate.after_acks(), 1.0)


async def test_work_waits_at_most_its_bound() -> None:
    gate = AckGate(most=0.01)
    gate.arrived()  # never answered: a request Bolt did not finish
    await asyncio.wait_for(gate.after_acks(), 5.0)
    assert gate.pending == 1


def test_a_command_answers_in_its_ack_unless_a_burst_waits_for_theirs() -> None:
    gate = AckGate()
    gate.arrived()  # the command itself
    assert answer_within(gate) == ANSWER_WITHIN
    for _ in range(BUSY_AT):
        gate.arrived()
    assert answer_within(gate) == ANSWER_WITHIN  # BUSY_AT others: not yet a burst
    gate.arrived()
    assert answer_within(gate) == BUSY_ANSWER_WITHIN < ANSWER_WITHIN


async def test_the_app_counts_each_request_from_its_dispatch_to_its_ack() -> None:
    """What `register_listeners` installs: a request is counted while Bolt dispatches it and no
    longer once answered, so a listener's work after its ack sees the others still waiting."""
    app = AsyncApp(
        client=AsyncWebClient(token="xoxb-test"),
        signing_secret="not-checked",
        request_verification_enabled=False,
        authorize=_authorized,
    )
    acks = AckGate()
    seen: list[int] = []

    async def tasks(ack: Any) -> None:
        seen.append(acks.pending)  # this request, before its ack
        await ack(text="ok")

    app.command("/tasks")(tasks)
    _count_acks(app, acks)
    payload = tasks_command("help")
    request = AsyncBoltRequest(
        body=payload.body.decode(), headers={"content-type": [payload.content_type]}
    )
    response = await app.async_dispatch(request)
    assert response.status == 200
    assert seen == [1]
    assert acks.pending == 0


async def _authorized(**_: Any) -> AuthorizeResult:
    return AuthorizeResult(enterprise_id=None, team_id="T0ACME", bot_token="xoxb-test")
