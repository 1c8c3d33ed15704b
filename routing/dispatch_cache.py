"""What dispatching reads once and shares: per claim, and across claims.

A claim's tasks mostly belong to a few owners and meetings; without sharing, each task would
read the same rows again (a connection is decrypted on every read) and wait on the connection
pool. `PassCache` is one claim's: meeting titles, and the tasks that may already exist at their
provider, looked up together, one listing per owner and destination (`expect`, then
`TaskDispatcher._look_up`). `OwnerCache` outlives claims: each owner's connection and catalog,
read once and kept while they do not change.

Whether they changed is asked of the database once a claim (`OwnerCache.check`): one query
reads, for the owners of the claimed tasks, a stamp of each connection (its row, its encrypted
access token, whether it needs reconnecting) and of each catalog (its row and when it was
fetched), without decrypting anything. A stamp that differs from the one the cached value was
read under — a reconnect, a token refresh (here or in another process), a disconnect, a
connection marked for reconnecting, a catalog fetched again — drops the owner's entries, and
the claim's tasks read them afresh. Entries also expire after `max_age`, so a catalog past its
own TTL (`routing.catalogs`) is fetched again in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName
from providers.base import Catalog, CreatedTask
from storage.connections import StoredConnection
from storage.models import ProviderCatalog, Task, UserAuthToken

K = TypeVar("K")
V = TypeVar("V")


class _Shared(Generic[K, V]):
    """Values read once and shared by the tasks of one pass; a failed read is not kept."""

    def __init__(self) -> None:
        self._futures: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        future = self._futures.get(key)
        if future is None:
            future = asyncio.ensure_future(load())
            self._futures[key] = future
        try:
            return await asyncio.shield(future)
        except BaseException:
            self._futures.pop(key, None)  # the next task reads afresh
            raise

    def forget(self, key: K) -> None:
        self._futures.pop(key, None)


@dataclass(frozen=True)
class ConnectionKey:
    team_id: str
    user_id: str
    provider: ProviderName


@dataclass(frozen=True)
class LookupKey:
    """The tasks one listing can look up together: one owner's, in one list or data source."""

    team_id: str
    user_id: str
    provider: ProviderName
    destination_id: str


@dataclass(frozen=True)
class Looked:
    """What one listing looked for (markers) and found."""

    searched: frozenset[str]
    found: dict[str, CreatedTask]


@dataclass
class PassCache:
    """What one claim reads once and shares between its tasks (see the module's docstring);
    its connections and catalogs are an `OwnerCache`'s when it gives them."""

    connections: _Shared[ConnectionKey, StoredConnection | None] = field(default_factory=_Shared)
    catalogs: _Shared[ConnectionKey, Catalog] = field(default_factory=_Shared)
    meeting_titles: _Shared[str, str | None] = field(default_factory=_Shared)
    lookups: _Shared[LookupKey, Looked] = field(default_factory=_Shared)
    expected: dict[LookupKey, list[Task]] = field(default_factory=dict)

    def expect(self, tasks: Iterable[Task]) -> None:
        """Note the claimed tasks an earlier request may have created, by where they went."""
        for task in tasks:
            if task.first_sent_at is None or task.provider is None or not task.destination_id:
                continue
            key = LookupKey(task.team_id, task.owner_user_id, task.provider, task.destination_id)
            self.expected.setdefault(key, []).append(task)


Stamp = tuple[Any, ...]


class OwnerCache:
    """Owners' connections and catalogs, kept across claims while their stamps hold."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, max_age: float = 60.0):
        self._sessions = sessions
        self._max_age = max_age
        self.connections: _Shared[ConnectionKey, StoredConnection | None] = _Shared()
        self.catalogs: _Shared[ConnectionKey, Catalog] = _Shared()
        self._stamps: dict[ConnectionKey, tuple[Stamp, float]] = {}

    def pass_cache(self) -> PassCache:
        """A claim's cache, sharing this one's connections and catalogs."""
        return PassCache(connections=self.connections, catalogs=self.catalogs)

    async def check(self, tasks: Iterable[Task]) -> None:
        """Drop what changed in the database since it was read, for the owners of `tasks`."""
        keys = {
            ConnectionKey(t.team_id, t.owner_user_id, t.provider)
            for t in tasks
            if t.provider is not None
        }
        if not keys:
            return
        stamps = await self._read_stamps(keys)
        now = asyncio.get_running_loop().time()
        for key in keys:
            stamp = stamps.get(key, ())
            kept = self._stamps.get(key)
            if kept is None or kept[0] != stamp or now - kept[1] > self._max_age:
                self.connections.forget(key)
                self.catalogs.forget(key)
                self._stamps[key] = (stamp, now)

    async def _read_stamps(self, keys: set[ConnectionKey]) -> dict[ConnectionKey, Stamp]:
        teams = sorted({k.team_id for k in keys})
        users = sorted({k.user_id for k in keys})
        stamps: dict[ConnectionKey, Stamp] = {}
        async with self._sessions() as session:
            connections = await session.execute(
                select(
                    UserAuthToken.team_id, UserAuthToken.user_id, UserAuthToken.provider,
                    UserAuthToken.id, UserAuthToken.encrypted_access_token,
                    UserAuthToken.needs_reconnect,
                ).where(UserAuthToken.team_id.in_(teams), UserAuthToken.user_id.in_(users))
            )  # fmt: skip
            for team, user, provider, *stamp in connections.all():
                stamps[ConnectionKey(team, user, ProviderName(provider))] = tuple(stamp)
            catalogs = await session.execute(
                select(
                    ProviderCatalog.team_id, ProviderCatalog.user_id, ProviderCatalog.provider,
                    ProviderCatalog.id, ProviderCatalog.fetched_at,
                ).where(ProviderCatalog.team_id.in_(teams), ProviderCatalog.user_id.in_(users))
            )  # fmt: skip
            for team, user, provider, *stamp in catalogs.all():
                key = ConnectionKey(team, user, ProviderName(provider))
                stamps[key] = (*stamps.get(key, (None, None, None)), *stamp)
        return stamps
