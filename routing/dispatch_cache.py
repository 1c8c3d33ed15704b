"""What dispatching reads once and shares: per claim, and across claims.

A claim's tasks mostly belong to a few owners and meetings; without sharing, each task would
read the same rows again (a connection is decrypted on every read) and wait on the connection
pool. `PassCache` is one claim's: meeting titles. `OwnerCache` outlives claims: each owner's
connection and catalog, read once and kept while they do not change. `Lookups` outlives claims
too: the tasks that may already exist at their provider, looked up together, one listing per
owner and destination for all the tasks of the worker's claims and rescues that wait for one
(`expect`, then `TaskDispatcher._look_up`), and its answers kept briefly for the tasks claimed
after it.

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
from datetime import datetime, timedelta
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
    """What one listing looked for and found: `searched` maps each marker to the send it
    covered (`first_sent_at`); `listed_at` is the moment the listing's windows ended at (a
    task's window ends at the earlier of it and the task's `send_deadline`)."""

    searched: dict[str, datetime]
    found: dict[str, CreatedTask]
    listed_at: datetime


@dataclass(frozen=True)
class _Answer:
    sent_at: datetime  # the `first_sent_at` the listing covered
    found: CreatedTask | None
    kept_until: datetime


Search = Callable[[list[Task]], Awaitable[Looked]]


class Lookups:
    """Tasks that may already exist at their provider, looked up together across claims.

    Tasks rescued from a stopped worker come due together but are claimed a few at a time, as
    slots free; a task whose answer was lost is claimed alone. So the tasks waiting for a
    lookup are noted as they are rescued or claimed (`expect`), and a lookup lists, in one
    `find_tasks` for the owner's list or data source, the task it is made for and every noted
    task of that destination sent around the same time (windows within `near` of its own)
    whose requests can no longer land. A task a running listing covers waits for it; listings
    of other windows run meanwhile.

    An answer is kept for `keep` and given to a task claimed later only for the same send
    (`first_sent_at`: every send sets it afresh) and only if the listing ran after that send's
    `send_deadline` (when nothing more of it could land). "Found" needs neither: the task
    exists.
    """

    def __init__(
        self, *, keep: timedelta = timedelta(seconds=30), near: timedelta = timedelta(seconds=10)
    ) -> None:
        self._keep = keep
        self._near = near
        self._waiting: dict[LookupKey, dict[str, tuple[Task, datetime]]] = {}
        self._answers: dict[str, _Answer] = {}
        # marker -> the send it is being looked up for, and the listing that does it
        self._running: dict[str, tuple[datetime, asyncio.Future[Looked]]] = {}
        self.listings = 0  # `find_tasks` calls made (tests and benches read it)

    def expect(self, tasks: Iterable[Task], now: datetime) -> None:
        """Note tasks an earlier request may have created, by where they went."""
        for task in tasks:
            key = _lookup_key(task)
            if key is not None and task.first_sent_at is not None:
                self._waiting.setdefault(key, {})[task.marker] = (task, now + self._keep)

    async def find(self, task: Task, now: datetime, search: Search) -> CreatedTask | None:
        """The task at its provider if an earlier request created it, by one listing shared
        with the noted tasks of the same destination sent around the same time (`search`
        lists `tasks`)."""
        key = _lookup_key(task)
        sent_at = task.first_sent_at
        assert key is not None and sent_at is not None
        self._forget_old(now)
        answer = self._answers.get(task.marker)
        if answer is not None and answer.sent_at == sent_at:
            return answer.found
        running = self._running.get(task.marker)
        if running is not None and running[0] == sent_at:
            looked = await asyncio.shield(running[1])  # its failure is this task's too
            return looked.found.get(task.marker)
        waiting = self._waiting.get(key, {})
        waiting.pop(task.marker, None)
        start, end = _window(task)
        group = [task]
        for other, _ in waiting.values():
            if other.marker in self._running:
                continue  # a listing covers it already
            if other.send_deadline is not None and other.send_deadline > now:
                continue  # it may still land: looked up once it cannot
            other_start, other_end = _window(other)
            if other_start <= end + self._near and other_end >= start - self._near:
                group.append(other)
        listing = asyncio.ensure_future(search(group))
        for member in group:
            self._running[member.marker] = (member.first_sent_at or sent_at, listing)
        self.listings += 1
        try:
            looked = await asyncio.shield(listing)
        finally:
            for member in group:
                if self._running.get(member.marker, (None, None))[1] is listing:
                    del self._running[member.marker]
        until = now + self._keep
        for member in group:
            searched = looked.searched.get(member.marker)
            if searched is None or searched != member.first_sent_at:
                continue
            found = looked.found.get(member.marker)
            deadline = member.send_deadline
            if found is not None or (deadline is not None and looked.listed_at >= deadline):
                self._answers[member.marker] = _Answer(searched, found, until)
                noted = waiting.get(member.marker)
                if noted is not None and noted[0].first_sent_at == searched:
                    del waiting[member.marker]
        return looked.found.get(task.marker)

    def _forget_old(self, now: datetime) -> None:
        for marker in [m for m, a in self._answers.items() if a.kept_until < now]:
            del self._answers[marker]
        for key, waiting in list(self._waiting.items()):
            for marker in [m for m, (_, until) in waiting.items() if until < now]:
                del waiting[marker]
            if not waiting:
                del self._waiting[key]


def _window(task: Task) -> tuple[datetime, datetime]:
    """When a task's last send went out and when it could last land."""
    assert task.first_sent_at is not None
    return task.first_sent_at, task.send_deadline or task.first_sent_at


def _lookup_key(task: Task) -> LookupKey | None:
    if task.provider is None or not task.destination_id:
        return None
    return LookupKey(task.team_id, task.owner_user_id, task.provider, task.destination_id)


@dataclass
class PassCache:
    """What one claim reads once and shares between its tasks (see the module's docstring);
    its connections and catalogs are an `OwnerCache`'s when it gives them, its lookups the
    worker's."""

    connections: _Shared[ConnectionKey, StoredConnection | None] = field(default_factory=_Shared)
    catalogs: _Shared[ConnectionKey, Catalog] = field(default_factory=_Shared)
    meeting_titles: _Shared[str, str | None] = field(default_factory=_Shared)
    lookups: Lookups = field(default_factory=Lookups)


Stamp = tuple[Any, ...]


class OwnerCache:
    """Owners' connections and catalogs, kept across claims while their stamps hold."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, max_age: float = 60.0):
        self._sessions = sessions
        self._max_age = max_age
        self.connections: _Shared[ConnectionKey, StoredConnection | None] = _Shared()
        self.catalogs: _Shared[ConnectionKey, Catalog] = _Shared()
        self._stamps: dict[ConnectionKey, tuple[Stamp, float]] = {}

    def pass_cache(self, lookups: Lookups) -> PassCache:
        """A claim's cache, sharing this one's connections and catalogs and `lookups`."""
        return PassCache(connections=self.connections, catalogs=self.catalogs, lookups=lookups)

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
