"""The dispatch worker: drains the task outbox into ClickUp and Notion, exactly once.

One pass: rescue expired leases, claim a batch of due tasks (`routing.outbox`; not for a tool
paused by an outage, `routing.circuit`), renew every lease of the batch from the claim until
each task has its outcome, dispatch them concurrently (`routing.dispatch`), then tell the
notifier what changed, grouped by meeting, and which owners must reconnect. How a failure ends
and how long a retry waits is `routing.retry`'s to say.

Between passes the worker sleeps until the next task is due or a lease can be rescued (or it is
woken), never longer than the poll interval. When the database cannot be reached it says so
once in the log, sends nothing (every send passes a fence in the database), keeps trying, and
says when it is back (`database_problem` is what a health check reports meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import Provider
from routing.catalogs import CatalogCache
from routing.circuit import CircuitConfig, ProviderCircuits
from routing.dispatch import Outcome, PassCache, SendTiming, TaskDispatcher
from routing.notify import Notifier, announce
from routing.observe import DispatchObserver, NoObserver
from routing.outbox import claim_due, next_wake, renew_leases, rescue_expired
from routing.retry import RetryPolicy
from routing.wake import WakeSignal
from storage.engine import reason, unreachable
from storage.models import Task
from storage.vault import TokenVault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 20
    concurrency: int = 8
    lease: timedelta = timedelta(seconds=60)
    poll_seconds: float = 5.0
    max_attempts: int = 8
    base_backoff: float = 2.0
    max_backoff: float = 900.0
    send: SendTiming = field(default_factory=SendTiming)
    circuit: CircuitConfig = field(default_factory=CircuitConfig)

    def __post_init__(self) -> None:
        if self.lease.total_seconds() <= 0 or self.send.timeout <= 0 or self.send.margin < 0:
            raise ValueError("the lease and the send timeout must be positive")

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.base_backoff, self.max_backoff)


MIN_IDLE_WAIT = 0.05  # seconds: a task due "now" that another worker holds is not a busy loop


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
        self._clock = clock
        self._notifier = notifier
        self._config = config or WorkerConfig()
        self._worker_id = worker_id or f"w-{secrets.token_hex(4)}"
        self._observer: DispatchObserver = observer or NoObserver()
        rng = rng or random.Random()  # jitter, not security
        self._circuits = ProviderCircuits(self._config.circuit, rng=rng)
        self._dispatcher = TaskDispatcher(
            sessions=sessions, vault=vault, clock=clock, providers=providers, catalogs=catalogs,
            policy=self._config.retry, rng=rng, observer=self._observer,
            circuits=self._circuits, timing=self._config.send,
        )  # fmt: skip
        self.database_problem: str | None = None

    async def run(self, signal: WakeSignal, stop: asyncio.Event) -> None:
        """Work until `stop` is set: a pass, then sleep until the next task is due, woken, or
        the poll interval."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception as error:
                if not unreachable(error):
                    log.exception("dispatch pass failed; trying again shortly")
                self._database_failed(error)
                handled = 0
            else:
                self._database_answered()
            if handled == 0 and not stop.is_set():
                await signal.wait(await self.next_wait())

    async def next_wait(self) -> float:
        """Seconds to sleep before the next pass: until a task is due or a lease can be
        rescued, at most the poll interval."""
        poll = self._config.poll_seconds
        now = self._clock.now()
        try:
            wake = await next_wake(self._sessions, paused=self._circuits.paused(now))
        except Exception as error:
            self._database_failed(error)
            return poll
        moments = [m for m in (wake, self._circuits.next_reopening(now)) if m is not None]
        if not moments:
            return poll
        until = (min(moments) - now).total_seconds()
        return min(poll, max(MIN_IDLE_WAIT, until))

    def _database_failed(self, error: BaseException) -> None:
        if not unreachable(error):
            return
        if self.database_problem is None:
            log.error(
                "the database cannot be reached (%s); sending nothing until it answers again",
                reason(error),
            )
        self.database_problem = reason(error)

    def _database_answered(self) -> None:
        if self.database_problem is not None:
            log.warning("the database answers again; dispatching resumes")
        self.database_problem = None

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
            paused=self._circuits.paused(now),
        )
        if not claimed:
            return 0
        slots = asyncio.Semaphore(self._config.concurrency)
        cache = PassCache()
        cache.expect(claimed)  # what may exist already is looked up one listing per list

        async def one(task: Task) -> Outcome:
            async with slots:
                return await self._dispatch_one(task, lease_token, cache)

        # The lease of every claimed task is renewed from the claim on, also while it waits
        # for a slot, until the whole batch has its outcomes.
        renewer = asyncio.create_task(self._keep_leases(lease_token))
        try:
            outcomes = await asyncio.gather(*(one(task) for task in claimed))
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        await self._tell(outcomes)
        return len(claimed)

    async def _tell(self, outcomes: Sequence[Outcome]) -> None:
        await announce(self._notifier, [o.change for o in outcomes if o.change is not None])
        for key in {o.reconnect for o in outcomes if o.reconnect is not None}:
            try:
                await self._notifier.reconnect_needed(key.team_id, key.user_id, key.provider)
            except Exception:
                # Slack being down must not undo or repeat work already done.
                log.exception("could not tell %s to reconnect %s", key.user_id, key.provider)

    async def _dispatch_one(self, task: Task, lease_token: str, cache: PassCache) -> Outcome:
        started = self._clock.monotonic()
        try:
            outcome = await self._dispatcher.dispatch(task, lease_token, cache)
        except Exception as error:
            outcome = await self._after_error(task, lease_token, error)
        if outcome.change is not None:
            change = outcome.change
            self._observer.dispatched(
                change.provider, change.state.value, self._clock.monotonic() - started
            )
        return outcome

    async def _after_error(self, task: Task, lease_token: str, error: Exception) -> Outcome:
        """A task whose dispatch raised: a bug is retried later, never lost; with the database
        unreachable nothing can be written, so the task keeps its lease and is rescued once
        the lease expires (a request it may have sent is covered by the lease)."""
        if unreachable(error):
            self._database_failed(error)
            return Outcome()
        log.exception("dispatching task %s failed unexpectedly", task.id)
        try:
            return await self._dispatcher.fail(
                task, lease_token, error, may_exist=task.first_sent_at is not None
            )
        except Exception as second:
            if not unreachable(second):
                log.exception("could not record the failure of task %s", task.id)
            self._database_failed(second)
            return Outcome()

    async def _keep_leases(self, lease_token: str) -> None:
        # Real time on purpose: a lease protects against a process that stopped, and the
        # cadence must not depend on a test's fake clock.
        interval = self._config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await renew_leases(
                    self._sessions, lease_token=lease_token, now=self._clock.now(),
                    lease=self._config.lease,
                )  # fmt: skip
            except Exception as error:
                # Not renewed: the fence in front of every send stops this worker from
                # sending what it may no longer hold.
                if not unreachable(error):
                    log.exception("could not renew leases")
                self._database_failed(error)
