"""Everything a running process needs, built once from the settings and passed down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

from primitives.clock import Clock, SystemClock
from primitives.enums import ProviderName
from providers.base import Provider
from providers.clickup import ClickUpProvider, clickup_limiter
from providers.notion import NotionProvider, notion_limiter
from routing.catalogs import CatalogCache
from routing.flush import ConnectFlush
from routing.notify import LogNotifier, Notifier
from routing.notion_updates import NotionStatusUpdates
from routing.observe import DispatchObserver
from routing.owner_context import OwnerRouter
from routing.preferences import Preferences
from routing.remote_status import RemoteStatuses
from routing.results import Results
from routing.review import Reviews
from routing.status_poll import StatusPoll, StatusPollConfig
from routing.status_reads import StatusReader
from routing.wake import LocalWakeSignal, PostgresWakeSignal, WakeSignal
from routing.worker import DispatchWorker, WorkerConfig
from scrumy.settings import Settings
from scrumy.startup import Storage, open_storage
from storage.webhook_inbox import WebhookInbox
from storage.webhook_verifications import WebhookVerifications


@dataclass
class Services:
    settings: Settings
    storage: Storage
    clock: Clock
    http: httpx.AsyncClient
    providers: dict[ProviderName, Provider]
    catalogs: CatalogCache
    notifier: Notifier
    signal: WakeSignal
    _reader: StatusReader | None = field(default=None, repr=False)

    def worker(
        self, config: WorkerConfig | None = None, *, observer: DispatchObserver | None = None
    ) -> DispatchWorker:
        return DispatchWorker(
            sessions=self.storage.sessions, vault=self.storage.vault, clock=self.clock,
            providers=self.providers, catalogs=self.catalogs, notifier=self.notifier,
            config=config, observer=observer,
        )  # fmt: skip

    def status_reader(self) -> StatusReader:
        """The one reader of tasks' statuses at their tools (it remembers refused
        connections for the process)."""
        if self._reader is None:
            self._reader = StatusReader(
                sessions=self.storage.sessions, vault=self.storage.vault, clock=self.clock,
                providers=self.providers,
            )  # fmt: skip
        return self._reader

    def remote_statuses(self) -> RemoteStatuses:
        """Tasks' statuses at their tools, told with the notifier as it is now (Slack's once
        `tell_slack` ran)."""
        return RemoteStatuses(
            sessions=self.storage.sessions, notifier=self.notifier, clock=self.clock
        )

    def notion_updates(self) -> NotionStatusUpdates:
        """Notion's webhook events, from receipt to the meeting's line, verified with
        NOTION_WEBHOOK_VERIFICATION_TOKEN."""
        storage = self.storage
        key = self.settings.notion_webhook_verification_token
        return NotionStatusUpdates(
            key=key.get_secret_value() if key else None,
            sessions=storage.sessions, clock=self.clock,
            inbox=WebhookInbox(storage.sessions, self.clock),
            verifications=WebhookVerifications(storage.sessions, storage.vault, self.clock),
            reader=self.status_reader(), statuses=self.remote_statuses(),
        )  # fmt: skip

    def status_poll(self) -> StatusPoll:
        """The status poll, paced by the STATUS_POLL_* settings."""
        settings = self.settings
        return StatusPoll(
            sessions=self.storage.sessions, clock=self.clock, reader=self.status_reader(),
            statuses=self.remote_statuses(), tools=tuple(self.providers),
            config=StatusPollConfig(
                enabled=settings.status_poll_enabled, every=settings.status_poll_seconds,
                batch=settings.status_poll_batch,
            ),
        )  # fmt: skip

    async def follow_statuses(self, stop: asyncio.Event) -> None:
        """What a worker's process does for tasks' statuses until `stop`: the status poll,
        and the sweep of Notion events a process stored but did not live to act on."""
        updates = self.notion_updates()
        await asyncio.gather(
            self.status_poll().keep_polling(stop),
            updates.keep_sweeping(stop) if ProviderName.NOTION in self.providers else _idle(),
        )

    def connect_flush(self) -> ConnectFlush:
        """The connect flush on its own, for a process without the HTTP side (`scrumy
        worker`) to finish the flushes another process did not live to run (`sweep`)."""
        storage = self.storage
        router = OwnerRouter(vault=storage.vault, catalogs=self.catalogs, providers=self.providers)
        results = Results(
            tools=self.providers.keys(), notifier=self.notifier, wake=self.signal.notify
        )
        return ConnectFlush(
            sessions=storage.sessions, clock=self.clock, providers=self.providers,
            catalogs=self.catalogs, router=router, results=results, notifier=self.notifier,
        )  # fmt: skip

    def reviews(self) -> Reviews:
        """The reviews on their own, for `scrumy worker` to remind owners of reviews left
        alone (`keep_reminding`)."""
        storage = self.storage
        router = OwnerRouter(vault=storage.vault, catalogs=self.catalogs, providers=self.providers)
        results = Results(
            tools=self.providers.keys(), notifier=self.notifier, wake=self.signal.notify
        )
        preferences = Preferences(
            sessions=storage.sessions, clock=self.clock, catalogs=self.catalogs
        )
        return Reviews(
            sessions=storage.sessions, clock=self.clock, router=router, results=results,
            preferences=preferences, notifier=self.notifier,
            remind_after=self.settings.scrumy_review_remind_after,
        )  # fmt: skip


async def _idle() -> None:
    return None


def build_providers(
    settings: Settings, http: httpx.AsyncClient, clock: Clock
) -> dict[ProviderName, Provider]:
    """A client per tool whose OAuth app is configured."""
    providers: dict[ProviderName, Provider] = {}
    if settings.clickup_client_id and settings.clickup_client_secret:
        providers[ProviderName.CLICKUP] = ClickUpProvider(
            http,
            api_url=str(settings.clickup_api_url),
            auth_url=str(settings.clickup_auth_url),
            client_id=settings.clickup_client_id,
            client_secret=settings.clickup_client_secret.get_secret_value(),
            limiter=clickup_limiter(clock),
            clock=clock,
        )
    if settings.notion_client_id and settings.notion_client_secret:
        providers[ProviderName.NOTION] = NotionProvider(
            http,
            api_url=str(settings.notion_api_url),
            client_id=settings.notion_client_id,
            client_secret=settings.notion_client_secret.get_secret_value(),
            limiter=notion_limiter(clock),
            clock=clock,
        )
    return providers


@contextlib.asynccontextmanager
async def running_services(settings: Settings) -> AsyncIterator[Services]:
    """Open storage, HTTP client, providers and the wake signal; close them all on exit."""
    clock = SystemClock()
    storage = await open_storage(settings)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(storage.close)
        http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0))
        )
        signal: WakeSignal
        if settings.is_sqlite:
            signal = LocalWakeSignal()
        else:
            postgres = PostgresWakeSignal(settings.database_url)
            await postgres.start()
            stack.push_async_callback(postgres.close)
            signal = postgres
        yield Services(
            settings=settings,
            storage=storage,
            clock=clock,
            http=http,
            providers=build_providers(settings, http, clock),
            catalogs=CatalogCache(storage.sessions, clock),
            notifier=LogNotifier(),
            signal=signal,
        )
