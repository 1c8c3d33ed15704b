"""The dispatch worker: drains the task outbox into ClickUp and Notion, exactly once.

One pass: rescue expired leases, claim a batch of due tasks, dispatch them concurrently, tell
the notifier what changed (grouped by meeting). Each dispatch:

1. routes the task if intake could not (no cached catalog then);
2. loads the owner's connection; gone or broken → back to `pending_auth`;
3. finds the destination in the cached catalog (re-read once if it is missing);
4. if an earlier attempt may have reached the provider (`first_sent_at` is set), looks the task
   up by its marker and adopts it when found — a task is never sent twice;
5. records `first_sent_at` (committed) before sending, then makes the one create call.

Errors: `AuthRevoked` → one token refresh where the tool has refresh tokens, else the
connection is marked broken, the owner's unsent tasks go back to `pending_auth` and the owner
is told; `RateLimited` → retry after the provider's delay (not counted as an attempt);
`Transient` → retry with jittered exponential backoff honouring Retry-After, `failed` once
attempts are exhausted; `Permanent` → `failed` with the provider's readable reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import Priority, ProviderName, TaskState
from providers.base import (
    AuthRevoked,
    Catalog,
    CreatedTask,
    Credentials,
    Permanent,
    Provider,
    ProviderError,
    RateLimited,
    TaskDraft,
    Transient,
)
from routing.catalogs import CatalogCache
from routing.decide import RoutableItem, decide_route
from routing.notify import Notifier, TaskChange
from routing.observe import DispatchObserver, NoObserver, error_kind
from routing.outbox import (
    claim_due,
    finish_leased,
    move,
    renew_lease,
    rescue_expired,
    update_leased,
)
from routing.owner_context import fetched_catalogs, load_owner_context
from routing.wake import WakeSignal
from storage.connections import (
    ConnectionGone,
    NewTokens,
    StoredConnection,
    load_connection,
    mark_needs_reconnect,
    refresh_tokens,
)
from storage.models import Meeting, Task
from storage.vault import TokenVault

log = logging.getLogger(__name__)
T = TypeVar("T")

# How far before `first_sent_at` a marker lookup searches, for clock skew with the provider.
RECONCILE_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 20
    concurrency: int = 8
    lease: timedelta = timedelta(seconds=60)
    poll_seconds: float = 5.0
    max_attempts: int = 8
    base_backoff: float = 2.0
    max_backoff: float = 900.0


def retry_delay(
    attempts: int, retry_after: float | None, config: WorkerConfig, rng: random.Random
) -> float:
    """Exponential backoff with jitter (half to full), never shorter than Retry-After."""
    ceiling = min(config.max_backoff, config.base_backoff * 2 ** max(0, attempts - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


class _PassMemo:
    """What one pass reads once and shares between its tasks (connections, catalogs, titles).

    Tasks of a batch mostly belong to a few owners and meetings; without this each task would
    read the same rows again, and the pass would wait on the connection pool.
    """

    def __init__(self) -> None:
        self._futures: dict[tuple[str, ...], asyncio.Future[Any]] = {}

    async def get(self, key: tuple[str, ...], load: Callable[[], Awaitable[T]]) -> T:
        future = self._futures.get(key)
        if future is None:
            future = asyncio.ensure_future(load())
            self._futures[key] = future
        try:
            return cast(T, await asyncio.shield(future))
        except BaseException:
            self._futures.pop(key, None)  # a failed read is tried afresh by the next task
            raise

    def forget(self, key: tuple[str, ...]) -> None:
        self._futures.pop(key, None)


@dataclass
class _Outcome:
    change: TaskChange | None = None
    reconnect: tuple[str, str, ProviderName] | None = None


class DispatchWorker:
    """Claims due tasks and creates them at their provider; one instance per process."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        clock: Clock,
        providers: Mapping[ProviderName, Provider],
        catalogs: CatalogCache,
        notifier: Notifier,
        config: WorkerConfig | None = None,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        observer: DispatchObserver | None = None,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._providers = providers
        self._catalogs = catalogs
        self._notifier = notifier
        self._config = config or WorkerConfig()
        self._rng = rng or random.Random()  # jitter, not security
        self._worker_id = worker_id or f"w-{secrets.token_hex(4)}"
        self._observer: DispatchObserver = observer or NoObserver()

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, signal: WakeSignal, stop: asyncio.Event) -> None:
        """Work until `stop` is set: a pass, then sleep until woken or the poll interval."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("dispatch pass failed; trying again shortly")
                handled = 0
            if handled == 0 and not stop.is_set():
                await signal.wait(self._config.poll_seconds)

    async def run_once(self) -> int:
        """One pass; returns how many tasks were claimed."""
        now = self._clock.now()
        rescued = await rescue_expired(self._sessions, now=now)
        if rescued:
            log.warning("rescued %d task(s) whose worker stopped", rescued)
        lease_token = f"{self._worker_id}:{secrets.token_hex(6)}"
        claimed = await claim_due(
            self._sessions,
            lease_token=lease_token,
            now=now,
            lease=self._config.lease,
            limit=self._config.batch_size,
        )
        if not claimed:
            return 0
        limit = asyncio.Semaphore(self._config.concurrency)
        memo = _PassMemo()

        async def one(task: Task) -> _Outcome:
            async with limit:
                return await self._dispatch_with_lease(task, lease_token, memo)

        outcomes = await asyncio.gather(*(one(task) for task in claimed))
        await self._tell(outcomes)
        return len(claimed)

    async def _tell(self, outcomes: Sequence[_Outcome]) -> None:
        by_meeting: dict[tuple[str, str | None], list[TaskChange]] = defaultdict(list)
        for outcome in outcomes:
            if outcome.change is not None:
                change = outcome.change
                by_meeting[(change.team_id, change.meeting_id)].append(change)
        try:
            for (team_id, meeting_id), changes in by_meeting.items():
                await self._notifier.tasks_changed(team_id, meeting_id, changes)
            for reconnect in {o.reconnect for o in outcomes if o.reconnect is not None}:
                await self._notifier.reconnect_needed(*reconnect)
        except Exception:
            # Slack being down must not undo or repeat work already done.
            log.exception("could not notify about %d task change(s)", len(outcomes))

    async def _dispatch_with_lease(self, task: Task, lease_token: str, memo: _PassMemo) -> _Outcome:
        renewer = asyncio.create_task(self._keep_lease(task.id, lease_token))
        started = self._clock.monotonic()
        try:
            outcome = await self._dispatch(task, lease_token, memo)
        except Exception as error:  # a bug must not lose the task: retry it later
            log.exception("dispatching task %s failed unexpectedly", task.id)
            outcome = await self._retry(
                task, lease_token, f"internal error ({type(error).__name__})", None
            )
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        if outcome.change is not None:
            change = outcome.change
            self._observer.dispatched(
                change.provider, change.state.value, self._clock.monotonic() - started
            )
        return outcome

    async def _keep_lease(self, task_id: str, lease_token: str) -> None:
        # Real time on purpose: a lease protects against a process that stopped, and the
        # cadence must not depend on a test's fake clock.
        interval = self._config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            held = await renew_lease(
                self._sessions, task_id, lease_token=lease_token, now=self._clock.now(),
                lease=self._config.lease,
            )  # fmt: skip
            if not held:
                return

    # --- one task ---------------------------------------------------------------------------

    async def _dispatch(self, task: Task, lease_token: str, memo: _PassMemo) -> _Outcome:
        if task.provider is None or task.destination_id is None:
            routed = await self._route(task, lease_token)
            if routed is not None:
                return routed
        provider_name = ProviderName(task.provider or "")
        provider = self._providers.get(provider_name)
        if provider is None:
            return await self._finish(
                task, lease_token, TaskState.FAILED,
                reason=f"{provider_name.label} is not set up on this Scrumy Tasks installation",
            )  # fmt: skip

        async def load() -> StoredConnection | None:
            async with self._sessions() as session:
                return await load_connection(
                    session, self._vault, team_id=task.team_id, user_id=task.owner_user_id,
                    provider=provider_name.value,
                )  # fmt: skip

        connection_key = ("connection", task.team_id, task.owner_user_id, provider_name.value)
        connection = await memo.get(connection_key, load)
        if connection is None or connection.needs_reconnect:
            return await self._finish(
                task, lease_token, TaskState.PENDING_AUTH,
                reason=f"waiting for the owner to connect {provider_name.label}",
            )  # fmt: skip

        refreshed = False
        sent_before = task.first_sent_at is not None
        while True:
            credentials = Credentials(
                connection.id, connection.access_token, connection.workspace_id
            )
            try:
                try:
                    return await self._create(task, lease_token, provider, credentials, memo)
                except ProviderError as error:
                    self._observer.provider_error(provider_name, error_kind(error))
                    raise
            except AuthRevoked as error:
                if not refreshed and connection.refresh_token:
                    refreshed = True
                    try:
                        connection = await self._refresh(connection, provider)
                        memo.forget(connection_key)
                        continue
                    except (AuthRevoked, ConnectionGone):
                        pass
                return await self._revoked(task, lease_token, connection, provider_name, error)
            except RateLimited as error:
                return await self._retry(
                    task, lease_token, error.message, error.retry_after, counts=False
                )
            except Transient as error:
                if error.request_sent or sent_before:
                    return await self._retry(task, lease_token, error.message, error.retry_after)
                # Nothing reached the provider: the next attempt need not look for the task.
                return await self._retry(
                    task, lease_token, error.message, error.retry_after, first_sent_at=None
                )
            except Permanent as error:
                return await self._finish(task, lease_token, TaskState.FAILED, reason=error.message)
            except ProviderError as error:
                return await self._retry(task, lease_token, error.message, None)

    async def _route(self, task: Task, lease_token: str) -> _Outcome | None:
        """Decide a route at dispatch; an outcome when the task cannot be sent now."""
        async with self._sessions() as session:
            context = await load_owner_context(
                session, self._vault, team_id=task.team_id, user_id=task.owner_user_id
            )
        catalogs = await fetched_catalogs(context, self._catalogs, self._providers)
        decision = decide_route(_routable(task), context.preferences, catalogs)
        if decision.state is not TaskState.QUEUED:
            return await self._finish(task, lease_token, decision.state, reason=decision.reason)
        assert decision.provider is not None and decision.destination is not None
        task.provider = decision.provider.value
        task.destination_id = decision.destination.id
        task.destination_name = decision.destination.display_name
        task.route_reason = decision.reason
        await update_leased(
            self._sessions, task.id, lease_token=lease_token, now=self._clock.now(),
            provider=task.provider, destination_id=task.destination_id,
            destination_name=task.destination_name, route_reason=task.route_reason,
        )  # fmt: skip
        return None

    async def _create(
        self,
        task: Task,
        lease_token: str,
        provider: Provider,
        credentials: Credentials,
        memo: _PassMemo,
    ) -> _Outcome:
        catalog = await self._catalog(task, provider, credentials, memo)
        destination = catalog.destination(task.destination_id or "")
        if destination is None:
            kind = provider.name.destination_kind
            return await self._finish(
                task, lease_token, TaskState.FAILED,
                reason=f"the {provider.name.label} {kind} {task.destination_name or ''} no longer "
                f"exists or you lost access to it; choose another {kind} and retry",
            )  # fmt: skip
        if task.first_sent_at is not None:
            found = await provider.find_task_by_marker(
                credentials, destination, task.marker,
                created_after=task.first_sent_at - RECONCILE_MARGIN,
            )  # fmt: skip
            if found is not None:
                return await self._created(task, lease_token, found, adopted=True)
        else:
            task.first_sent_at = self._clock.now()
            if not await update_leased(
                self._sessions, task.id, lease_token=lease_token, now=task.first_sent_at,
                first_sent_at=task.first_sent_at,
            ):  # fmt: skip
                return _Outcome()  # lease lost: another worker owns the task now
        draft = await self._draft(task, memo)
        created = await provider.create_task(credentials, destination, draft, catalog.members)
        return await self._created(task, lease_token, created, adopted=False)

    async def _catalog(
        self, task: Task, provider: Provider, credentials: Credentials, memo: _PassMemo
    ) -> Catalog:
        """The owner's catalog, re-read once when it lacks the task's destination."""
        key = ("catalog", task.team_id, task.owner_user_id, provider.name.value)
        for refresh in (False, True):

            async def load(refresh: bool = refresh) -> Catalog:
                return await self._catalogs.get(
                    provider, credentials, team_id=task.team_id, user_id=task.owner_user_id,
                    refresh=refresh,
                )  # fmt: skip

            if refresh:
                memo.forget(key)
            catalog = await memo.get(key, load)
            if catalog.destination(task.destination_id or "") is not None:
                return catalog
        return catalog

    async def _draft(self, task: Task, memo: _PassMemo) -> TaskDraft:
        meeting_id = task.meeting_id

        async def title() -> str | None:
            if meeting_id is None:
                return None
            async with self._sessions() as session:
                return await session.scalar(select(Meeting.title).where(Meeting.id == meeting_id))

        meeting_title = await memo.get(("meeting", meeting_id or ""), title)
        return TaskDraft(
            title=task.title,
            marker=task.marker,
            description=task.description,
            priority=Priority(task.priority) if task.priority else None,
            due=task.due_at or task.due_date,
            assignee_email=task.assignee_email,
            assignee_name=task.assignee_name,
            meeting_title=meeting_title,
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

    # --- endings ----------------------------------------------------------------------------

    async def _created(
        self, task: Task, lease_token: str, created: CreatedTask, *, adopted: bool
    ) -> _Outcome:
        reason = task.route_reason
        if adopted:
            reason = f"{reason or ''} (found after a lost response; not created twice)".strip()
        return await self._finish(
            task, lease_token, TaskState.CREATED, reason=reason,
            provider_task_id=created.task_id, provider_task_url=created.url, last_error=None,
        )  # fmt: skip

    async def _retry(
        self,
        task: Task,
        lease_token: str,
        message: str,
        retry_after: float | None,
        *,
        counts: bool = True,
        **values: object,
    ) -> _Outcome:
        attempts = task.attempts if counts else task.attempts - 1
        if counts and attempts >= self._config.max_attempts:
            return await self._finish(
                task, lease_token, TaskState.FAILED,
                reason=f"gave up after {attempts} attempts: {message}", **values,
            )  # fmt: skip
        delay = retry_delay(attempts, retry_after, self._config, self._rng)
        return await self._finish(
            task, lease_token, TaskState.RETRYING, reason=message, attempts=attempts,
            next_attempt_at=self._clock.now() + timedelta(seconds=delay), **values,
        )  # fmt: skip

    async def _revoked(
        self,
        task: Task,
        lease_token: str,
        connection: StoredConnection,
        provider: ProviderName,
        error: ProviderError,
    ) -> _Outcome:
        now = self._clock.now()
        reason = f"{provider.label} needs reconnecting: {error.message}"
        async with self._sessions() as session, session.begin():
            await mark_needs_reconnect(session, connection_id=connection.id, now=now)
            waiting = await session.scalars(
                select(Task.id).where(
                    Task.team_id == task.team_id,
                    Task.owner_user_id == task.owner_user_id,
                    Task.provider == provider.value,
                    Task.state.in_((TaskState.QUEUED.value, TaskState.RETRYING.value)),
                )
            )
            await move(session, waiting.all(), TaskState.PENDING_AUTH, now=now, last_error=reason)
        outcome = await self._finish(task, lease_token, TaskState.PENDING_AUTH, reason=reason)
        outcome.reconnect = (task.team_id, task.owner_user_id, provider)
        return outcome

    async def _finish(
        self,
        task: Task,
        lease_token: str,
        state: TaskState,
        *,
        reason: str | None,
        **values: object,
    ) -> _Outcome:
        column = (
            "route_reason"
            if state in (TaskState.CREATED, TaskState.AWAITING_CHOICE)
            else "last_error"
        )
        values.setdefault(column, reason)
        held = await finish_leased(
            self._sessions, task.id, state, lease_token=lease_token, now=self._clock.now(), **values
        )
        if not held:
            return _Outcome()  # another worker took over after our lease expired
        url = values.get("provider_task_url")
        return _Outcome(
            change=TaskChange(
                task_id=task.id,
                team_id=task.team_id,
                meeting_id=task.meeting_id,
                owner_user_id=task.owner_user_id,
                title=task.title,
                state=state,
                provider=ProviderName(task.provider) if task.provider else None,
                url=url if isinstance(url, str) else None,
                reason=reason,
            )
        )


def _routable(task: Task) -> RoutableItem:
    return RoutableItem(
        title=task.title,
        description=task.description,
        priority=Priority(task.priority) if task.priority else None,
        project_name=task.project_name,
    )
