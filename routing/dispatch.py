"""Dispatching one claimed task to its tool, exactly once.

1. route the task if intake could not (no cached catalog then);
2. load the owner's connection; gone or broken → back to `pending_auth`;
3. find the destination in the cached catalog (re-read once if it is missing);
4. if an earlier attempt may have reached the provider (`first_sent_at` is set), look the task
   up by its marker and adopt it when found — a task is never sent twice;
5. record `first_sent_at` (committed) before sending, then make the one create call.

A refused token is refreshed once where the tool has refresh tokens; every other failure
ends as `routing.retry.ending_for` says. Every write is guarded by the worker's lease.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import Priority, ProviderName, TaskState
from providers.base import (
    AuthRevoked,
    Catalog,
    CreatedTask,
    Credentials,
    Lookup,
    Provider,
    ProviderError,
    RateLimited,
    TaskDraft,
    Transient,
)
from routing.catalogs import CatalogCache
from routing.decide import decide_route
from routing.notify import TaskChange
from routing.observe import DispatchObserver, error_kind
from routing.outbox import (
    Route,
    TaskUpdate,
    finish_leased,
    mark_sent,
    meeting_title,
    record_route,
    send_back_to_waiting,
)
from routing.owner_context import OwnerRouter, credentials_of, routable
from routing.retry import RetryPolicy, ending_for
from storage.connections import (
    ConnectionGone,
    NewTokens,
    StoredConnection,
    load_connection,
    mark_needs_reconnect,
    refresh_tokens,
)
from storage.models import Task
from storage.vault import TokenVault

# How far a marker lookup's window reaches past the attempts, for clock skew with the provider.
RECONCILE_MARGIN = timedelta(minutes=10)

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


@dataclass
class PassCache:
    """What one pass reads once and shares between its tasks.

    Tasks of a batch mostly belong to a few owners and meetings; without this each task would
    read the same rows again, and the pass would wait on the connection pool.
    """

    connections: _Shared[ConnectionKey, StoredConnection | None] = field(default_factory=_Shared)
    catalogs: _Shared[ConnectionKey, Catalog] = field(default_factory=_Shared)
    meeting_titles: _Shared[str, str | None] = field(default_factory=_Shared)


@dataclass
class Outcome:
    """What became of one task: the change to tell Slack (None when another worker took the
    task over), and the connection whose owner must reconnect, if any."""

    change: TaskChange | None = None
    reconnect: ConnectionKey | None = None


class TaskDispatcher:
    """Sends one claimed task to its tool; shared by the tasks a worker runs at once."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        clock: Clock,
        providers: Mapping[ProviderName, Provider],
        catalogs: CatalogCache,
        policy: RetryPolicy,
        rng: random.Random,
        observer: DispatchObserver,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._providers = providers
        self._catalogs = catalogs
        self._router = OwnerRouter(vault=vault, catalogs=catalogs, providers=providers)
        self._policy = policy
        self._rng = rng
        self._observer = observer

    async def dispatch(self, task: Task, lease_token: str, cache: PassCache) -> Outcome:
        sent_before = task.first_sent_at is not None
        if task.provider is None or task.destination_id is None:
            routed = await self._route(task, lease_token)
            if routed is not None:
                return routed
        name = task.provider
        assert name is not None  # routed above
        provider = self._providers.get(name)
        if provider is None:
            return await self._finish(task, lease_token, TaskState.FAILED, TaskUpdate(
                reason=f"{name.label} is not set up on this Scrumy Tasks installation"
            ))  # fmt: skip
        key = ConnectionKey(task.team_id, task.owner_user_id, name)

        async def load() -> StoredConnection | None:
            async with self._sessions() as session:
                return await load_connection(
                    session, self._vault, team_id=key.team_id, user_id=key.user_id,
                    provider=key.provider,
                )  # fmt: skip

        connection = await cache.connections.get(key, load)
        if connection is None or connection.needs_reconnect:
            return await self._finish(task, lease_token, TaskState.PENDING_AUTH, TaskUpdate(
                reason=f"waiting for the owner to connect {name.label}"
            ))  # fmt: skip
        refreshed = False
        while True:
            try:
                return await self._create(task, lease_token, provider, connection, cache)
            except ProviderError as error:
                self._observer.provider_error(name, error_kind(error))
                if isinstance(error, AuthRevoked) and not refreshed and connection.refresh_token:
                    refreshed = True
                    try:
                        connection = await self._refresh(connection, provider)
                    except ConnectionGone:
                        pass  # disconnected meanwhile: the task waits for a new connection
                    except (Transient, RateLimited) as passing:
                        # The refresh itself may work later: retry, keep the connection.
                        return await self.fail(task, lease_token, passing, sent_before=sent_before)
                    except ProviderError:
                        pass  # refresh refused (revoked, or our app's credentials): reconnect
                    else:
                        cache.connections.forget(key)
                        continue
                return await self.fail(
                    task, lease_token, error, sent_before=sent_before, connection=connection
                )

    async def fail(
        self,
        task: Task,
        lease_token: str,
        error: Exception,
        *,
        sent_before: bool,
        connection: StoredConnection | None = None,
    ) -> Outcome:
        """End the attempt as `routing.retry` says for `error`."""
        now = self._clock.now()
        ending = ending_for(
            error, attempts=task.attempts, sent_before=sent_before, policy=self._policy,
            rng=self._rng, now=now,
        )  # fmt: skip
        if not (ending.reconnect and connection is not None):
            return await self._finish(task, lease_token, ending.state, ending.change)
        async with self._sessions() as session, session.begin():
            await mark_needs_reconnect(session, connection_id=connection.id, now=now)
            await send_back_to_waiting(
                session, team_id=connection.team_id, user_id=connection.user_id,
                provider=connection.provider, reason=ending.change.reason or "", now=now,
            )  # fmt: skip
        outcome = await self._finish(task, lease_token, ending.state, ending.change)
        outcome.reconnect = ConnectionKey(
            connection.team_id, connection.user_id, connection.provider
        )
        return outcome

    async def _route(self, task: Task, lease_token: str) -> Outcome | None:
        """Decide a route at dispatch; an outcome when the task cannot be sent now."""
        async with self._sessions() as session:
            context = await self._router.context(
                session, team_id=task.team_id, user_id=task.owner_user_id
            )
        try:
            destinations = await self._router.fetched_destinations(context)
        except ProviderError as error:
            self._observer.provider_error(error.provider, error_kind(error))
            connection = context.connections.get(error.provider)
            return await self.fail(
                task, lease_token, error, sent_before=False, connection=connection
            )
        decision = decide_route(routable(task), context.preferences, destinations)
        if decision.state is not TaskState.QUEUED:
            return await self._finish(task, lease_token, decision.state, TaskUpdate.of(decision))
        route = Route.of(decision)
        task.provider, task.destination_id = route.provider, route.destination_id
        task.destination_name, task.route_reason = route.destination_name, decision.reason
        await record_route(
            self._sessions, task.id, route, decision.reason, lease_token=lease_token,
            now=self._clock.now(),
        )  # fmt: skip
        return None

    async def _create(
        self,
        task: Task,
        lease_token: str,
        provider: Provider,
        connection: StoredConnection,
        cache: PassCache,
    ) -> Outcome:
        credentials = credentials_of(connection)
        catalog = await self._catalog(task, provider, credentials, cache)
        destination = catalog.destination(task.destination_id or "")
        if destination is None:
            kind = provider.name.destination_kind
            return await self._finish(task, lease_token, TaskState.FAILED, TaskUpdate(
                reason=f"the {provider.name.label} {kind} {task.destination_name or ''} no "
                f"longer exists or you lost access to it; choose another {kind} and retry"
            ))  # fmt: skip
        if task.first_sent_at is not None:
            found = (await provider.find_tasks(credentials, destination, [Lookup(
                task.marker, task.title, task.first_sent_at - RECONCILE_MARGIN,
                self._clock.now() + RECONCILE_MARGIN,
            )])).get(task.marker)  # fmt: skip
            if found is not None:
                return await self._created(task, lease_token, found, adopted=True)
        else:
            task.first_sent_at = self._clock.now()
            if not await mark_sent(
                self._sessions, task.id, lease_token=lease_token, now=task.first_sent_at
            ):
                return Outcome()  # lease lost: another worker owns the task now
        draft = await self._draft(task, cache)
        created = await provider.create_task(credentials, destination, draft, catalog.members)
        return await self._created(task, lease_token, created, adopted=False)

    async def _catalog(
        self, task: Task, provider: Provider, credentials: Credentials, cache: PassCache
    ) -> Catalog:
        """The owner's catalog, re-read once when it lacks the task's destination."""
        key = ConnectionKey(task.team_id, task.owner_user_id, provider.name)
        for refresh in (False, True):

            async def load(refresh: bool = refresh) -> Catalog:
                return await self._catalogs.get(
                    provider, credentials, team_id=key.team_id, user_id=key.user_id,
                    refresh=refresh,
                )  # fmt: skip

            if refresh:
                cache.catalogs.forget(key)
            catalog = await cache.catalogs.get(key, load)
            if catalog.destination(task.destination_id or "") is not None:
                return catalog
        return catalog

    async def _draft(self, task: Task, cache: PassCache) -> TaskDraft:
        title = None
        if task.meeting_id is not None:
            meeting_id = task.meeting_id

            async def load() -> str | None:
                async with self._sessions() as session:
                    return await meeting_title(session, meeting_id)

            title = await cache.meeting_titles.get(meeting_id, load)
        return TaskDraft(
            title=task.title,
            marker=task.marker,
            description=task.description,
            priority=Priority(task.priority) if task.priority else None,
            due=task.due_at or task.due_date,
            assignee_email=task.assignee_email,
            assignee_name=task.assignee_name,
            meeting_title=title,
        )

    async def _refresh(self, connection: StoredConnection, provider: Provider) -> StoredConnection:
        async def refresh(refresh_token: str) -> NewTokens:
            tokens = await provider.refresh(refresh_token)
            return NewTokens(
                tokens.access_token, tokens.refresh_token, tokens.expires_at, tokens.scope
            )

        return await refresh_tokens(
            self._sessions, self._vault, connection_id=connection.id,
            stale_access_token=connection.access_token, refresh=refresh, now=self._clock.now(),
        )  # fmt: skip

    async def _created(
        self, task: Task, lease_token: str, created: CreatedTask, *, adopted: bool
    ) -> Outcome:
        reason = task.route_reason
        if adopted:
            reason = f"{reason or ''} (found after a lost response; not created twice)".strip()
        change = TaskUpdate(reason=reason, created=created)
        return await self._finish(task, lease_token, TaskState.CREATED, change)

    async def _finish(
        self, task: Task, lease_token: str, state: TaskState, change: TaskUpdate
    ) -> Outcome:
        held = await finish_leased(
            self._sessions, task.id, state, change, lease_token=lease_token,
            now=self._clock.now(),
        )  # fmt: skip
        if not held:
            return Outcome()  # another worker took over after our lease expired
        return Outcome(
            TaskChange(
                task_id=task.id, team_id=task.team_id, meeting_id=task.meeting_id,
                owner_user_id=task.owner_user_id, title=task.title, state=state,
                provider=task.provider, url=change.created.url if change.created else None,
                reason=change.reason,
            )
        )  # fmt: skip
