"""A person's lists and databases for a menu that must answer while they type.

Slack waits 3 seconds for the options of an external menu (the Home tab's default list and
database, the "Create task" modal's project), and a tool can take longer than that to list a
workspace: ClickUp needs one request per space and folder. So a menu never waits on a tool
it does not have to:

- a catalog in the cache is answered at once, even when older than the cache's TTL; an old
  one is read again in the background, for the next keystroke;
- with nothing cached (the read at connect time failed, or the cache was dropped), the tool
  is asked, but for at most `wait` seconds: past that the menu answers "still reading" and
  the read goes on in the background, filling the cache.

A person typing asks at every keystroke: the catalog a menu read is kept in memory for
`MEMORY_SECONDS` and answers the next keystrokes without a query or parsing it again (a
catalog this process stores or drops meanwhile is read afresh; one refreshed by another
process shows within those seconds).

One read per person and tool runs at a time, however fast they type. A read that fails is
logged, the cache keeps what it had, and the tool is not asked again for that person's menu
for `RETRY_AFTER_FAILURE` seconds (a menu asks at every keystroke).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import Catalog, Credentials, Destination, Provider
from routing.catalogs import DEFAULT_TTL, CatalogCache
from routing.owner_context import OwnerRouter, credentials_of

log = logging.getLogger(__name__)

MENU_WAIT = 2.0  # seconds a menu may wait for a tool at most; Slack gives up at 3
RETRY_AFTER_FAILURE = 30.0  # seconds before a menu asks a tool again after a failed read
MEMORY_SECONDS = 10.0  # a menu's catalog answers the next keystrokes from memory this long
MEMORY_KEPT = 1000  # catalogs kept in memory at most


@dataclass(frozen=True)
class DestinationChoices:
    """What a menu can offer of one tool: the person's destinations there, whether the tool
    is connected (and working), and whether the tool was still being read when the menu had
    to answer (`loading`: the list may be missing, or a little old)."""

    provider: ProviderName
    destinations: tuple[Destination, ...]
    connected: bool
    loading: bool = False


Key = tuple[str, str, ProviderName]


class DestinationReader:
    """Reads destinations for menus from the catalog cache, asking a tool only within
    `wait` seconds and otherwise in the background."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        router: OwnerRouter,
        catalogs: CatalogCache,
        providers: Mapping[ProviderName, Provider],
        wait: float = MENU_WAIT,
        stale_after: timedelta = DEFAULT_TTL,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._router = router
        self._catalogs = catalogs
        self._providers = providers
        self._wait = wait
        self._stale_after = stale_after
        self._reads: dict[Key, asyncio.Task[Catalog]] = {}
        self._failed: dict[Key, float] = {}  # when the last read failed (monotonic)
        # (catalog, when it was read (monotonic), the cache's version of it then)
        self._memory: dict[Key, tuple[Catalog, float, int]] = {}

    async def choices(
        self, team_id: str, user_id: str, provider: ProviderName, *, wait: float | None = None
    ) -> DestinationChoices:
        """The person's destinations in `provider`, asking the tool for at most `wait`
        seconds (the reader's own bound when None) when nothing is cached."""
        key = (team_id, user_id, provider)
        version = self._catalogs.version(team_id=team_id, user_id=user_id, provider=provider)
        remembered = self._memory.get(key)
        if remembered is not None:
            catalog, read_at, kept_version = remembered
            recent = self._clock.monotonic() - read_at < MEMORY_SECONDS
            if recent and kept_version == version and self._fresh(catalog):
                return DestinationChoices(provider, catalog.destinations, connected=True)
            del self._memory[key]
        cached = await self._catalogs.cached(team_id=team_id, user_id=user_id, provider=provider)
        if cached is not None and self._fresh(cached):  # the usual answer: one query
            self._keep(key, cached, version)
            return DestinationChoices(provider, cached.destinations, connected=True)
        async with self._sessions() as session:
            context = await self._router.context(session, team_id=team_id, user_id=user_id)
        connection = context.connections.get(provider)
        client = self._providers.get(provider)
        if connection is None or client is None:
            kept = cached.destinations if cached is not None else ()
            return DestinationChoices(provider, kept, connected=False)
        reading = self._read(key, client, credentials_of(connection))
        if cached is not None:  # old: answered now, read again for the next keystroke
            return DestinationChoices(provider, cached.destinations, connected=True)
        if reading is None:  # the last read failed a moment ago
            return DestinationChoices(provider, (), connected=True, loading=True)
        bound = self._wait if wait is None else max(0.0, min(wait, self._wait))
        done, _ = await asyncio.wait({reading}, timeout=bound)
        if not done or reading.cancelled() or reading.exception() is not None:
            return DestinationChoices(provider, (), connected=True, loading=True)
        return DestinationChoices(provider, reading.result().destinations, connected=True)

    def _fresh(self, catalog: Catalog) -> bool:
        return self._clock.now() - catalog.fetched_at < self._stale_after

    def _keep(self, key: Key, catalog: Catalog, version: int) -> None:
        self._memory[key] = (catalog, self._clock.monotonic(), version)
        if len(self._memory) > MEMORY_KEPT:  # the oldest first (insertion order)
            del self._memory[next(iter(self._memory))]

    async def settle(self) -> None:
        """Wait for the reads under way to end (each ends in the cache, or logged)."""
        while self._reads:
            await asyncio.wait(set(self._reads.values()))

    def _read(
        self, key: Key, client: Provider, credentials: Credentials
    ) -> asyncio.Task[Catalog] | None:
        """The read of one catalog under way, started when there is none; None while the
        last one's failure is recent."""
        running = self._reads.get(key)
        if running is not None:
            return running
        failed = self._failed.get(key)
        if failed is not None and self._clock.monotonic() - failed < RETRY_AFTER_FAILURE:
            return None
        team_id, user_id, _ = key
        task = asyncio.create_task(
            self._catalogs.get(client, credentials, team_id=team_id, user_id=user_id, refresh=True)
        )
        self._reads[key] = task
        task.add_done_callback(lambda done: self._ended(key, done))
        return task

    def _ended(self, key: Key, task: asyncio.Task[Catalog]) -> None:
        if self._reads.get(key) is task:
            del self._reads[key]
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            self._failed.pop(key, None)
        else:
            self._failed[key] = self._clock.monotonic()
            log.warning(
                "could not read the %s catalog of %s for a menu: %s",
                key[2].label, key[1], type(error).__name__,
            )  # fmt: skip
