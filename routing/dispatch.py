"""Dispatching one claimed task to its tool, exactly once.

1. route the task if intake could not (no cached catalog then);
2. load the owner's connection; gone or broken → back to `pending_auth`;
3. skip a tool paused for an outage (`routing.circuit`): the task waits, at no attempt's cost;
4. find the destination in the cached catalog (re-read once if it is missing);
5. if an earlier request may have created the task (`first_sent_at` is set), look it up by its
   marker — only once that request can no longer land (the task is not due before its
   `send_deadline`) — and adopt it when found; a task is never sent twice;
6. pass the fence (`routing.outbox.begin_send`: our lease still held, the attempt recorded,
   the lease stretched over the request's deadline) right before the one create request,
   which the client abandons at that deadline.

A refused token is refreshed once where the tool has refresh tokens; every other failure ends
as `routing.retry.ending_for` says. Every write is guarded by the worker's lease.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import Priority, ProviderName, TaskState
from providers.base import (
    AuthRevoked,
    Catalog,
    CreatedTask,
    Credentials,
    Destination,
    Lookup,
    Permanent,
    Provider,
    ProviderError,
    RateLimited,
    TaskDraft,
    Transient,
)
from routing.catalogs import CatalogCache
from routing.circuit import ProviderCircuits
from routing.decide import decide_route
from routing.dispatch_cache import ConnectionKey, Looked, PassCache
from routing.notify import TaskChange
from routing.observe import DispatchObserver, error_kind
from routing.outbox import (
    LeaseLost,
    Route,
    TaskUpdate,
    finish_values,
    meeting_title,
    record_route,
    send_back_to_waiting,
)
from routing.owner_context import OwnerRouter, credentials_of, routable
from routing.retry import RetryPolicy, ending_for, final_reason
from routing.token_refresh import refresh_connection
from routing.writes import GroupedWrites
from storage.connections import (
    ConnectionGone,
    StoredConnection,
    load_connection,
    mark_needs_reconnect,
)
from storage.models import Task
from storage.vault import TokenVault

# How far a marker lookup widens its window (first send .. send deadline) for the difference
# between our clock and the provider's (NTP keeps servers well within it).
CLOCK_SKEW = timedelta(seconds=5)


@dataclass(frozen=True)
class SendTiming:
    """How long a create request may take (`timeout`, abandoned after), and how long after
    that a task it created may take to show in the provider's listing (`margin`)."""

    timeout: float = 20.0
    margin: float = 5.0

    @property
    def landing(self) -> timedelta:
        return timedelta(seconds=self.timeout + self.margin)


@dataclass
class _Attempt:
    """What one attempt knows: whether the task may exist at the provider from before this
    attempt's request (`may_exist`), and whether that request went out (`sent`)."""

    may_exist: bool
    sent: bool = False

    def may_exist_after(self, error: Exception) -> bool:
        """Whether the task may exist after this attempt failed with `error`: a 429, a 4xx
        and a request that never left created nothing."""
        if self.may_exist:
            return True
        if not self.sent or isinstance(error, (RateLimited, Permanent, AuthRevoked)):
            return False
        return not (isinstance(error, Transient) and not error.request_sent)


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
        circuits: ProviderCircuits,
        timing: SendTiming,
        writes: GroupedWrites,
        wire_slots: int,
    ) -> None:
        self._sessions = sessions
        self._writes = writes
        # Requests in flight, not tasks: a task reading, looking up or writing its outcome
        # leaves its slot on the wire to another.
        self._wire = asyncio.Semaphore(wire_slots)
        self._circuits = circuits
        self._timing = timing
        self._vault = vault
        self._clock = clock
        self._providers = providers
        self._catalogs = catalogs
        self._router = OwnerRouter(vault=vault, catalogs=catalogs, providers=providers)
        self._policy = policy
        self._rng = rng
        self._observer = observer

    async def dispatch(self, task: Task, lease_token: str, cache: PassCache) -> Outcome:
        try:
            return await self._dispatch(task, lease_token, cache)
        except LeaseLost:
            return Outcome()  # another worker owns the task now: send and write nothing

    async def _dispatch(self, task: Task, lease_token: str, cache: PassCache) -> Outcome:
        attempt = _Attempt(may_exist=task.first_sent_at is not None)
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
        paused_until = self._circuits.admit(name, self._clock.now())
        if paused_until is not None:
            return await self._hold(task, lease_token, paused_until)
        refreshed = False
        while True:
            try:
                outcome = await self._create(
                    task, lease_token, provider, connection, cache, attempt
                )
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
                        return await self.fail(
                            task, lease_token, passing, may_exist=attempt.may_exist_after(passing)
                        )
                    except ProviderError:
                        pass  # refresh refused (revoked, or our app's credentials): reconnect
                    else:
                        cache.connections.forget(key)
                        continue
                return await self.fail(
                    task, lease_token, error, may_exist=attempt.may_exist_after(error),
                    connection=connection,
                )  # fmt: skip
            self._circuits.succeeded(name)
            return outcome

    async def _hold(self, task: Task, lease_token: str, until: datetime) -> Outcome:
        """Put a task back in line untouched while its tool is paused for an outage."""
        label = task.provider.label if task.provider else "the tool"
        reason: str | None = f"{label} is not answering; waiting for it to come back"
        if task.attempts >= self._policy.max_attempts:
            reason = None  # keep saying what the final check is waiting for
        return await self._finish(task, lease_token, TaskState.RETRYING, TaskUpdate(
            reason=reason, next_attempt_at=max(until, task.send_deadline or until),
        ))  # fmt: skip

    async def fail(
        self,
        task: Task,
        lease_token: str,
        error: Exception,
        *,
        may_exist: bool,
        connection: StoredConnection | None = None,
    ) -> Outcome:
        """End the attempt as `routing.retry` says for `error`."""
        now = self._clock.now()
        paused_until = None
        if task.provider is not None and isinstance(error, Transient):
            # The tool failing (5xx, no answer, unreachable), not a token, a limit or a bug.
            paused_until = self._circuits.failed(task.provider, now)
        ending = ending_for(
            error, attempts=task.attempts, may_exist=may_exist, policy=self._policy,
            rng=self._rng, now=now, paused_until=paused_until,
        )  # fmt: skip
        change = ending.change
        if ending.state is TaskState.RETRYING and may_exist and task.send_deadline is not None:
            # Look it up only once the request that may have created it can no longer land.
            due = max(change.next_attempt_at or now, task.send_deadline)
            change = replace(change, next_attempt_at=due)
        if not (ending.reconnect and connection is not None):
            return await self._finish(task, lease_token, ending.state, change)
        async with self._sessions() as session, session.begin():
            await mark_needs_reconnect(session, connection_id=connection.id, now=now)
            await send_back_to_waiting(
                session, team_id=connection.team_id, user_id=connection.user_id,
                provider=connection.provider, reason=change.reason or "", now=now,
            )  # fmt: skip
        outcome = await self._finish(task, lease_token, ending.state, change)
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
            return await self.fail(task, lease_token, error, may_exist=False, connection=connection)
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
        attempt: _Attempt,
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
        if attempt.may_exist:
            found = await self._look_up(task, provider, credentials, destination, cache)
            if found is not None:
                return await self._created(task, lease_token, found, adopted=True)
            attempt.may_exist = False  # the earlier requests created nothing
        if task.attempts >= self._policy.max_attempts:
            # The final check after the last refused attempt found nothing: now it failed.
            reason = final_reason(task.last_error, task.attempts)
            change = TaskUpdate(reason=reason, unsent=True)
            return await self._finish(task, lease_token, TaskState.FAILED, change)
        draft = await self._draft(task, cache)

        slot = False

        async def guard() -> float:
            # The fence, grouped with the fences of the tasks about to be sent with this one
            # (`routing.writes`): it returns only once recorded, so this request leaves after.
            # Then a slot on the wire: a task waiting for its fence's commit does not hold one
            # (the request's budget still ends at the deadline counted from the fence).
            nonlocal slot
            now = await self._writes.fence(task.id, lease_token)
            if now is None:
                raise LeaseLost(task.id)
            attempt.sent = True
            task.first_sent_at = now
            task.send_deadline = now + self._timing.landing
            deadline = now + timedelta(seconds=self._timing.timeout)
            if not slot:
                await self._wire.acquire()
                slot = True
            return max(0.0, (deadline - self._clock.now()).total_seconds())

        try:
            created = await provider.create_task(
                credentials, destination, draft, catalog.members, guard=guard
            )
        finally:
            if slot:
                self._wire.release()
        # An assignee the tool's people could not be read for: say why it was not assigned.
        note = catalog.members_note if task.assignee_email else None
        return await self._created(task, lease_token, created, adopted=False, note=note)

    async def _look_up(
        self,
        task: Task,
        provider: Provider,
        credentials: Credentials,
        destination: Destination,
        cache: PassCache,
    ) -> CreatedTask | None:
        """The task at the provider, if an earlier request created it.

        One listing answers every task of the worker's claims and rescues that may exist in
        the same list or data source for the same owner (`dispatch_cache.Lookups`). Each
        task's window runs from its first send to its `send_deadline` (the last moment its
        last request could land), widened by `CLOCK_SKEW`: however long the task waited in
        line since, the listing covers only the seconds its requests were out.
        """

        async def search(tasks: list[Task]) -> Looked:
            now = self._clock.now()
            lookups = {
                t.marker: Lookup(
                    t.marker,
                    t.title,
                    t.first_sent_at - CLOCK_SKEW,
                    min(now, t.send_deadline or now) + CLOCK_SKEW,
                )
                for t in tasks
                if t.first_sent_at is not None
            }
            found = await provider.find_tasks(credentials, destination, list(lookups.values()))
            searched = {t.marker: t.first_sent_at for t in tasks if t.first_sent_at is not None}
            return Looked(searched, found, now)

        return await cache.lookups.find(task, self._clock.now(), search)

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
            time_zone=task.owner_time_zone,
        )

    async def _refresh(self, connection: StoredConnection, provider: Provider) -> StoredConnection:
        return await refresh_connection(
            self._sessions, self._vault, connection, provider, now=self._clock.now()
        )

    async def _created(
        self,
        task: Task,
        lease_token: str,
        created: CreatedTask,
        *,
        adopted: bool,
        note: str | None = None,
    ) -> Outcome:
        reason = task.route_reason
        if adopted:
            reason = f"{reason or ''} (found after a lost response; not created twice)".strip()
        if note:
            reason = f"{reason}; {note}" if reason else note
        change = TaskUpdate(reason=reason, created=created)
        return await self._finish(task, lease_token, TaskState.CREATED, change)

    async def _finish(
        self, task: Task, lease_token: str, state: TaskState, change: TaskUpdate
    ) -> Outcome:
        values = finish_values(state, change, self._clock.now())
        held = await self._writes.write(task.id, lease_token, values)
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
