"""The deliveries of the tools' webhooks (ClickUp, Notion): de-duplicated, and kept until
processed, so that a delivery answered 200 is never lost.

    inbox = WebhookInbox(sessions, clock)
    delivery_id = await inbox.record(ProviderName.CLICKUP, key, payload)   None: seen before
    … answer 200, then process …
    await inbox.processed(delivery_id)          (or `failed(delivery_id, error)`)
    for delivery in await inbox.pending(ProviderName.CLICKUP, received_before=…): …

An endpoint verifies the signature first, then `record`s the delivery, and only then answers
200: once the tool heard 200 the delivery is in the database, and a process that stops before
processing it leaves it `pending`, for the next sweep (of any process) to process. `record`
is an INSERT guarded by the unique `(provider, delivery_key)`: of the same event delivered
twice, or by two webhooks at once, exactly one is new. The key names the event (ClickUp: the
history item's id; Notion: the event's id), not the HTTP delivery.

A processed delivery keeps its key, not its payload: a replay is still recognised, and no
tool data is kept longer than needed. `purge` forgets keys older than the tools retry for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from primitives.ids import new_id
from storage.models import WebhookDelivery

ERROR_LIMIT = 500


@dataclass(frozen=True)
class PendingDelivery:
    id: str
    provider: ProviderName
    delivery_key: str
    payload: dict[str, Any]
    received_at: datetime
    attempts: int


class WebhookInbox:
    """The `webhook_deliveries` table; see the module docstring."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def record(
        self, provider: ProviderName, delivery_key: str, payload: dict[str, Any]
    ) -> str | None:
        """Store a verified delivery: its id, or None when this event was recorded before."""
        delivery_id = new_id("whd")
        try:
            async with self._sessions() as session, session.begin():
                session.add(
                    WebhookDelivery(
                        id=delivery_id,
                        provider=provider,
                        delivery_key=delivery_key[:255],
                        payload=payload,
                        received_at=self._clock.now(),
                    )
                )
        except IntegrityError:
            return None
        return delivery_id

    async def processed(self, delivery_id: str) -> None:
        """The delivery was acted on: keep its key, forget its payload."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(processed_at=self._clock.now(), payload=None, last_error=None)
            )

    async def failed(self, delivery_id: str, error: str) -> None:
        """Processing failed (it stays pending, for the next sweep); `error` must hold no
        secret."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(attempts=WebhookDelivery.attempts + 1, last_error=error[:ERROR_LIMIT])
            )

    async def pending(
        self,
        provider: ProviderName,
        *,
        received_before: datetime,
        limit: int = 100,
        max_attempts: int = 10,
    ) -> list[PendingDelivery]:
        """Deliveries not processed yet, received before `received_before` (so a sweep leaves
        alone what the receiving process is about to process), oldest first."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.processed_at.is_(None),
                        WebhookDelivery.provider == provider,
                        WebhookDelivery.received_at < received_before,
                        WebhookDelivery.attempts < max_attempts,
                    )
                    .order_by(WebhookDelivery.received_at, WebhookDelivery.id)
                    .limit(limit)
                )
            ).all()
        return [
            PendingDelivery(
                id=row.id,
                provider=row.provider,
                delivery_key=row.delivery_key,
                payload=row.payload or {},
                received_at=row.received_at,
                attempts=row.attempts,
            )
            for row in rows
        ]

    async def purge(self, *, before: datetime) -> int:
        """Forget processed deliveries received before `before`; how many."""
        async with self._sessions() as session, session.begin():
            done = await session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.processed_at.is_not(None),
                    WebhookDelivery.received_at < before,
                )
            )
        return int(getattr(done, "rowcount", 0) or 0)
