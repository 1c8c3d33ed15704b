"""Notion's webhook events, from a verified delivery to the meeting's line (docs/routing.md,
"Status from the tools").

    updates = NotionStatusUpdates(...)
    delivery_id = await updates.receive(event, payload)   # stored; None: seen before
    … the endpoint answers 200 …
    await updates.process(delivery_id, event)             # read the page, apply its status
    await updates.sweep()                                 # what a stopped process left

An event names a page and says that something changed, never what: the page is read with its
owner's connection (`routing.status_reads`) and its status goes through
`RemoteStatuses.apply`, with the event's `timestamp` as the time of the news. The page is read
after the event happened, so what is read is at least as new as the event; an event no newer
than what is stored for every task of that page is not read at all (a duplicate that slipped
past the inbox, a late one, a retry of one already acted on) — no request is spent on it.

Nothing changes for a page we did not create (no task of ours has that id), for a task whose
owner's connection is to another Notion workspace than the event's, or when the page cannot be
read now (the delivery is then processed anyway: Notion's next event, or the poll, catches up).
A failure of ours (the database) leaves the delivery pending, for `sweep`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, TaskState
from providers.notion.webhooks import BadDelivery, NotionEvent, read_delivery
from routing.remote_status import RemoteStatuses
from routing.status_reads import StatusReader
from storage.engine import unreachable
from storage.models import Task
from storage.webhook_inbox import WebhookInbox
from storage.webhook_verifications import WebhookVerifications

log = logging.getLogger(__name__)

NOTION = ProviderName.NOTION
# A sweep leaves alone what was received this recently: the receiving process is on it.
SWEEP_GRACE = timedelta(seconds=30)
SWEEP_EVERY = 30.0  # seconds between two sweeps


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
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._inbox = inbox
        self._verifications = verifications
        self._reader = reader
        self._statuses = statuses

    async def verification_received(self, token: str) -> None:
        """Notion sent its subscription's verification token: keep it for the operator."""
        await self._verifications.keep(NOTION, token)
        log.warning(
            "Notion sent the verification token of its webhook subscription: see it with "
            "`scrumy notion-webhook-token`, paste it in Notion's Verify dialog and set it as "
            "NOTION_WEBHOOK_VERIFICATION_TOKEN"
        )

    async def receive(self, event: NotionEvent, payload: dict[str, Any]) -> str | None:
        """Store a verified event; its delivery id, None when this event was stored before."""
        return await self._inbox.record(NOTION, event.id, payload)

    async def process(self, delivery_id: str, event: NotionEvent) -> bool:
        """Act on a stored event and mark it processed; whether a task changed. An error of
        ours leaves it pending (logged), for the sweep."""
        try:
            changed = await self._act(event)
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
        """`sweep` every `every` seconds on the clock until `stop` is set."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception as error:
                if not unreachable(error):
                    log.exception("the sweep of Notion events failed; trying again")
            sleeping = asyncio.ensure_future(self._clock.sleep(every))
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in (sleeping, stopping):
                    waiting.cancel()
                await asyncio.gather(sleeping, stopping, return_exceptions=True)

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
