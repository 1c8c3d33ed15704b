"""Notion's webhook (`POST /webhooks/notion`, through `sidecar.webhooks`): from a delivery to
the meeting's line (docs/routing.md, "Status from the tools"; set-up in docs/setup.md).

    receipt = await updates.receive(raw_body, headers)   # verified and stored, or refused
    … answered with receipt.status …
    await receipt.process()                              # read the page, apply its status
    await updates.sweep()                                # what a stopped process left

`receive` (the `routing.webhooks.WebhookReceiver` seam):

- unsigned, the only thing accepted is the subscription's one-time verification request
  (`{"verification_token": …}`): the token is kept, encrypted, for the operator
  (`scrumy notion-webhook-token`), and a log line says so — never the token itself;
- every event must carry `X-Notion-Signature: sha256=<hex>` of the raw body under
  NOTION_WEBHOOK_VERIFICATION_TOKEN (`key`), compared in constant time; otherwise 401 and
  nothing is stored. Without the setting no event is accepted;
- a verified event about a page's status is stored (de-duplicated by the event's id) before
  the answer and acted on after it; a second delivery of the same event is answered 200 and
  not acted on again. Other event types are answered 200 and dropped.

An event names a page and says that something changed, never what: the page is read with its
owner's connection (`routing.status_reads`) and its status goes through
`RemoteStatuses.apply`, with the event's `timestamp` as the time of the news. The page is read
after the event happened, so what is read is at least as new as the event; an event no newer
than what is stored for every task of that page is not read at all (a duplicate that slipped
past the inbox, a late one, a retry of one already acted on) — no request is spent on it.

Nothing changes for a page we did not create (no task of ours has that id), or for a task
whose owner's connection is to another Notion workspace than the event's. A page Notion cannot
give now (429, 5xx, no answer), or a failure of ours (the database), leaves the delivery
pending, for `sweep`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, TaskState
from providers.notion.webhooks import (
    SIGNATURE_HEADER,
    BadDelivery,
    NotionEvent,
    VerificationRequest,
    read_delivery,
    signature_valid,
)
from routing.pacing import pause
from routing.remote_status import RemoteStatuses
from routing.status_reads import StatusReader
from routing.webhooks import WebhookReceipt
from storage.engine import unreachable
from storage.models import Task
from storage.webhook_inbox import WebhookInbox
from storage.webhook_verifications import WebhookVerifications

log = logging.getLogger(__name__)

NOTION = ProviderName.NOTION
# A sweep leaves alone what was received this recently: the receiving process is on it.
SWEEP_GRACE = timedelta(seconds=30)
SWEEP_EVERY = 30.0  # seconds between two sweeps
# Notion retries an event for about a day; a replay of one older than this only makes us read
# the page again.
KEEP_KEYS = timedelta(days=7)


class ReadLater(Exception):
    """The page could not be read now; the event is to be processed again later."""


class NotionStatusUpdates:
    """See the module docstring; one per process."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        inbox: WebhookInbox,
        verifications: WebhookVerifications,
        reader: StatusReader,
        statuses: RemoteStatuses,
        key: str | None,
    ) -> None:
        self._key = key
        self._sessions = sessions
        self._clock = clock
        self._inbox = inbox
        self._verifications = verifications
        self._reader = reader
        self._statuses = statuses

    @property
    def provider(self) -> ProviderName:
        return NOTION

    async def receive(self, body: bytes, headers: Mapping[str, str]) -> WebhookReceipt:
        """Verify and record one delivery; see the module docstring. Never raises for bad
        input."""
        signature = headers.get(SIGNATURE_HEADER)
        if signature is None:
            return await self._unsigned(body)
        if self._key is None:
            log.warning(
                "a signed Notion webhook delivery was refused: NOTION_WEBHOOK_VERIFICATION_TOKEN "
                "is not set (docs/setup.md, Notion webhooks)"
            )
            return WebhookReceipt(401, "not_verified")
        if not signature_valid(self._key, body, signature):
            return WebhookReceipt(401, "bad_signature")
        try:
            delivery = read_delivery(body)
        except BadDelivery:
            return WebhookReceipt(400, "not_a_delivery")
        if isinstance(delivery, VerificationRequest):
            await self.verification_received(delivery.token)
            return WebhookReceipt(200)
        if not delivery.about_status:
            return WebhookReceipt(200, "ignored")
        delivery_id = await self.record(delivery, json.loads(body))
        if delivery_id is None:
            return WebhookReceipt(200, "duplicate")
        event = delivery

        async def process() -> None:
            await self.process(delivery_id, event)

        return WebhookReceipt(200, "ok", process)

    async def _unsigned(self, body: bytes) -> WebhookReceipt:
        try:
            delivery = read_delivery(body)
        except BadDelivery:
            delivery = None
        if not isinstance(delivery, VerificationRequest):
            return WebhookReceipt(401, "unsigned")
        await self.verification_received(delivery.token)
        return WebhookReceipt(200)

    async def verification_received(self, token: str) -> None:
        """Notion sent its subscription's verification token: keep it for the operator."""
        await self._verifications.keep(NOTION, token)
        log.warning(
            "Notion sent the verification token of its webhook subscription: see it with "
            "`scrumy notion-webhook-token`, paste it in Notion's Verify dialog and set it as "
            "NOTION_WEBHOOK_VERIFICATION_TOKEN"
        )

    async def record(self, event: NotionEvent, payload: dict[str, Any]) -> str | None:
        """Store a verified event; its delivery id, None when this event was stored before."""
        return await self._inbox.record(NOTION, event.id, payload)

    async def process(self, delivery_id: str, event: NotionEvent) -> bool:
        """Act on a stored event and mark it processed; whether a task changed. A page Notion
        cannot give us now (429, 5xx, no answer), or an error of ours, leaves it pending, for
        the sweep (up to the inbox's attempts)."""
        try:
            changed = await self._act(event)
        except ReadLater as later:
            log.info("Notion event %s waits for the sweep: %s", event.id, later)
            await self._inbox.failed(delivery_id, str(later))
            return False
        except Exception as error:
            log.exception("processing Notion event %s failed; a sweep retries it", event.id)
            await self._inbox.failed(delivery_id, type(error).__name__)
            return False
        await self._inbox.processed(delivery_id)
        return changed

    async def sweep(self, *, limit: int = 100) -> int:
        """Process the events received before the grace and still pending; how many."""
        pending = await self._inbox.pending(
            NOTION, received_before=self._clock.now() - SWEEP_GRACE, limit=limit
        )
        for delivery in pending:
            try:
                event = read_delivery(_encoded(delivery.payload))
            except BadDelivery:
                await self._inbox.processed(delivery.id)  # cannot be acted on, ever
                continue
            if isinstance(event, NotionEvent):
                await self.process(delivery.id, event)
            else:
                await self._inbox.processed(delivery.id)
        return len(pending)

    async def keep_sweeping(self, stop: asyncio.Event, *, every: float = SWEEP_EVERY) -> None:
        """`sweep` every `every` seconds on the clock until `stop` is set, forgetting the
        keys of events processed more than KEEP_KEYS ago."""
        while not stop.is_set():
            try:
                await self.sweep()
                await self._inbox.purge(before=self._clock.now() - KEEP_KEYS)
            except Exception as error:
                if not unreachable(error):
                    log.exception("the sweep of Notion events failed; trying again")
            await pause(self._clock, every, stop)

    async def _act(self, event: NotionEvent) -> bool:
        if not event.about_status:
            return False
        tasks = await self._tasks_of(event.page_id)
        changed = False
        for (team_id, user_id), rows in _by_owner(tasks).items():
            if all(r.remote_status_at is not None and r.remote_status_at >= event.timestamp
                   for r in rows):  # fmt: skip
                continue  # we know of something at least as new: nothing to read
            connection = await self._reader.connection(NOTION, team_id, user_id)
            if connection is None:
                continue
            if connection.workspace_id and connection.workspace_id != event.workspace_id:
                log.warning(
                    "a Notion event for page %s came from workspace %s, not the owner's; "
                    "ignored", event.page_id, event.workspace_id,
                )  # fmt: skip
                continue
            read = await self._reader.read(connection, event.page_id)
            if read.busy or read.passing:
                # Notion is busy or failing: the event stays pending, for the sweep.
                raise ReadLater(f"the page could not be read now ({event.page_id})")
            if read.status is None or read.status.status is None:
                continue
            changed |= await self._statuses.apply(
                NOTION, event.page_id, read.status.status, event.timestamp, team_id=team_id
            )
        return changed

    async def _tasks_of(self, page_id: str) -> Sequence[Task]:
        async with self._sessions() as session:
            return (
                await session.scalars(
                    select(Task).where(
                        Task.provider == NOTION,
                        Task.provider_task_id == page_id,
                        Task.state == TaskState.CREATED,
                    )
                )
            ).all()


def _by_owner(tasks: Sequence[Task]) -> dict[tuple[str, str], list[Task]]:
    owners: dict[tuple[str, str], list[Task]] = {}
    for task in tasks:
        owners.setdefault((task.team_id, task.owner_user_id), []).append(task)
    return owners


def _encoded(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
