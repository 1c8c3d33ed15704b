"""Work after an ack waits for the other requests' acks (`bot.background.AckGate`), for a
bounded time."""

from __future__ import annotations

import asyncio

from bot.background import AckGate


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
