"""ClickUp's deliveries to `POST /webhooks/clickup`: verified, recorded, then processed.

    deliveries = ClickUpDeliveries(sessions=…, vault=…, clock=…, statuses=…, inbox=…)
    receipt = await deliveries.receive(raw_body, headers)   (routing.webhooks.WebhookReceiver)
    await deliveries.sweep()                                 what a stopped process left

The webhook is found by the delivery's `webhook_id` (the rows `routing.clickup_webhooks`
registers), its signature checked (hex HMAC-SHA256 of the raw body under the webhook's secret,
`hmac.compare_digest`) before anything is stored, and the delivery recorded in the inbox
(`storage.webhook_inbox`) before the answer: 200, then processed — `RemoteStatuses.apply` for
each status change, the status mapped by its type (`providers.clickup.webhooks`), at
ClickUp's time of the change. So: a forged delivery is refused (401) and changes nothing; a
replay or a duplicate is the same event key, answered 200 and not processed again; an older
change arriving late does not overwrite a newer one; a delivery answered but not processed
(the process stopped) is processed by the next sweep of any process. A delivery for a webhook
we do not know (one we removed, or could not remove at ClickUp) is answered 410, on which
ClickUp suspends it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.clickup.webhooks import delivery_of, status_changes, verify_signature
from routing.remote_status import RemoteStatuses
from routing.webhooks import WebhookReceipt
from storage.models import ToolWebhook
from storage.vault import TokenVault
from storage.webhook_inbox import WebhookInbox

log = logging.getLogger(__name__)

CLICKUP = ProviderName.CLICKUP
SWEEP_AFTER = timedelta(minutes=1)  # a delivery this old and unprocessed was left behind


class ClickUpDeliveries:
    """Receives and processes ClickUp's webhook deliveries; see the module docstring."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        clock: Clock,
        statuses: RemoteStatuses,
        inbox: WebhookInbox,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._statuses = statuses
        self._inbox = inbox

    @property
    def provider(self) -> ProviderName:
        return CLICKUP

    async def receive(self, body: bytes, headers: Mapping[str, str]) -> WebhookReceipt:
        """Verify and record one delivery; see the module docstring."""
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return WebhookReceipt(400, "invalid_json")
        envelope = delivery_of(payload)
        if envelope is None:
            return WebhookReceipt(400, "not_a_delivery")
        async with self._sessions() as session:
            row = await session.scalar(
                select(ToolWebhook).where(
                    ToolWebhook.provider == CLICKUP, ToolWebhook.remote_id == envelope.webhook_id
                )
            )
        if row is None or row.encrypted_secret is None:
            return WebhookReceipt(410, "unknown_webhook")
        secret = self._vault.decrypt(row.encrypted_secret)
        if not verify_signature(secret, body, headers.get("x-signature")):
            return WebhookReceipt(401, "bad_signature")
        if not envelope.about_status:
            return WebhookReceipt(200, "ignored")
        team_id = row.team_id
        delivery_id = await self._inbox.record(
            CLICKUP, envelope.key, {"team_id": team_id, "payload": payload}
        )
        if delivery_id is None:
            return WebhookReceipt(200, "duplicate")
        received_at = self._clock.now()

        async def process() -> None:
            await self._process(delivery_id, team_id, payload, received_at)

        return WebhookReceipt(200, "ok", process)

    async def _process(
        self, delivery_id: str, team_id: str, payload: dict[str, Any], received_at: datetime
    ) -> None:
        try:
            for change in status_changes(payload):
                await self._statuses.apply(
                    CLICKUP, change.task_id, change.status, change.observed_at or received_at,
                    team_id=team_id,
                )  # fmt: skip
            await self._inbox.processed(delivery_id)
        except Exception as error:
            log.exception("could not process ClickUp delivery %s", delivery_id)
            with contextlib.suppress(Exception):
                await self._inbox.failed(delivery_id, type(error).__name__)

    async def sweep(self) -> int:
        """Process the deliveries recorded but left unprocessed (a process stopped after
        answering); how many."""
        now = self._clock.now()
        pending = await self._inbox.pending(CLICKUP, received_before=now - SWEEP_AFTER)
        for delivery in pending:
            stored = delivery.payload
            payload, team_id = stored.get("payload"), stored.get("team_id")
            if not isinstance(payload, dict) or not isinstance(team_id, str):
                await self._inbox.processed(delivery.id)  # nothing we can act on
                continue
            await self._process(delivery.id, team_id, payload, delivery.received_at)
        return len(pending)
