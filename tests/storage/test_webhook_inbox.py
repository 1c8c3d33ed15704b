"""The webhook inbox: a delivery recorded once, kept until processed, then only its key."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName
from storage.models import WebhookDelivery
from storage.webhook_inbox import WebhookInbox
from tests.fakes import FakeClock

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION


async def test_the_same_event_is_recorded_once_even_at_once(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    inbox = WebhookInbox(sessions, clock)
    ids = await asyncio.gather(*(inbox.record(CLICKUP, "evt-1", {"n": n}) for n in range(5)))
    assert len([i for i in ids if i is not None]) == 1
    assert await inbox.record(NOTION, "evt-1", {}) is not None  # keys are per tool


async def test_a_delivery_stays_pending_until_processed_then_keeps_only_its_key(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    inbox = WebhookInbox(sessions, clock)
    first = await inbox.record(CLICKUP, "evt-1", {"task_id": "t1"})
    clock.advance(5)
    second = await inbox.record(CLICKUP, "evt-2", {"task_id": "t2"})
    assert first and second
    # A sweep leaves alone what was received too lately (its receiver is processing it).
    found = await inbox.pending(CLICKUP, received_before=clock.now() - timedelta(seconds=1))
    assert [(d.id, d.payload) for d in found] == [(first, {"task_id": "t1"})]
    await inbox.failed(first, "the database was down")
    [again, _] = await inbox.pending(CLICKUP, received_before=clock.now() + timedelta(1))
    assert (again.id, again.attempts) == (first, 1)

    await inbox.processed(first)
    later = clock.now() + timedelta(1)
    assert [d.id for d in await inbox.pending(CLICKUP, received_before=later)] == [second]
    async with sessions() as session:
        row = await session.get(WebhookDelivery, first)
    assert row is not None and row.payload is None and row.processed_at == clock.now()
    assert await inbox.record(CLICKUP, "evt-1", {"task_id": "t1"}) is None  # a replay

    clock.advance(10 * 86400)
    assert await inbox.purge(before=clock.now() - timedelta(days=7)) == 1
    async with sessions() as session:
        keys = (await session.scalars(select(WebhookDelivery.delivery_key))).all()
    assert keys == ["evt-2"]  # unprocessed deliveries are never purged
