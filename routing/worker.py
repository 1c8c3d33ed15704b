"""The dispatch worker: drains the task outbox into ClickUp and Notion, exactly once.

`run` keeps the wire busy: it claims due tasks (`routing.outbox`; not for a tool paused by an
outage, `routing.circuit`) whenever fewer than `concurrency` claimed tasks wait for a slot, and
starts each as soon as a slot frees, so no claim waits for another's slowest task. Every claim
has its own lease token; the leases of all claims not yet done are renewed together from the
claim on. Once a claim's last task has its outcome, the notifier is told what changed, grouped
by meeting, and which owners must reconnect. `run_once` is one claim, run to its end (tests
step the worker with it). How a failure ends and how long a retry waits is `routing.retry`'s to
say; the fences and outcomes of tasks running at once share transactions (`routing.writes`);
owners' connections and catalogs are kept across claims while they do not change
(`routing.dispatch_cache`).

When nothing is due the worker sleeps until the next task is due or a lease can be rescued (or
it is woken), never longer than the poll interval. When the database cannot be reached it says
so once in the log, sends nothing (every send passes a fence in the database), keeps trying, and
says when it is back (`database_problem` is what a health check reports meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import Provider
from routing.catalogs import CatalogCache
from routing.circuit import CircuitConfig, ProviderCircuits
from routing.dispatch import Outcome, SendTiming, TaskDispatcher
from routing.dispatch_cache import Lookups, OwnerCache, PassCache
from routing.notify import Notifier, announce
from routing.observe import DispatchObserver, NoObserver
from routing.outbox import claim_due, next_wake, renew_leases, rescue_expired_tasks
from routing.retry import RetryPolicy
from routing.wake import WakeSignal
from routing.writes import GroupedWrites
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


RESCUE_EVERY = 1.0  # seconds between two rescues of expired leases by a running worker
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
        self.writes = GroupedWrites(sessions, clock, landing=self._config.send.landing)
        self._owners = OwnerCache(sessions)
        self._lookups = Lookups()  # across claims: tasks rescued together are looked up so
        self._rescued_at = float("-inf")
        self._dispatcher = TaskDispatcher(
            sessions=sessions, vault=vault, clock=clock, providers=providers, catalogs=catalogs,
            policy=self._config.retry, rng=rng, observer=self._observer,
            circuits=self._circuits, timing=self._config.send, writes=self.writes,
            wire_slots=self._config.concurrency,
        )  # fmt: skip
        self.database_problem: str | None = None

    async def run(self, signal: WakeSignal, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then finish what is claimed: claim while fewer than
        `concurrency` claimed tasks wait, start each as a slot frees, and sleep when nothing
        is due until a task is, a slot frees, the worker is woken, or the poll interval."""
        concurrency = self._tasks_at_once
        # Claim when fewer tasks wait than can be on the wire, up to a whole batch: claims
        # stay large (each costs a few statements however many tasks it brings).
        refill = self._config.concurrency
        claims: set[_Claim] = set()  # not yet done: their leases are renewed
        waiting: deque[tuple[Task, _Claim]] = deque()
        running: set[asyncio.Task[None]] = set()
        freed = asyncio.Event()
        renewer = asyncio.create_task(self._keep_leases(lambda: [c.token for c in claims]))
        try:
            while not stop.is_set():
                wanted = self._config.batch_size - len(waiting)
                claim: _Claim | None = None
                if len(waiting) < refill and wanted > 0:
                    try:
                        # A lease outlives its worker by a lease at least: a rescue a
                        # second late costs nothing, one per claim a write each time.
                        claim = await self._claim(wanted, rescue_every=RESCUE_EVERY)
                    except Exception as error:
                        if not unreachable(error):
                            log.exception("claiming tasks failed; trying again shortly")
                        self._database_failed(error)
                    else:
                        self._database_answered()
                if claim is not None:
                    claims.add(claim)
                    waiting.extend((task, claim) for task in claim.tasks)
                self._start(waiting, running, freed, claims)
                if claim is not None and len(claim.tasks) == wanted and len(waiting) < refill:
                    continue  # more may be due: claim again before sleeping
                freed.clear()
                if len(running) >= concurrency:
                    await _first(freed.wait(), stop.wait())
                    continue
                # Nothing more due now (or the database is away): until something is.
                wait = await self.next_wait()
                if running:
                    await _first(freed.wait(), signal.wait(wait), stop.wait())
                else:
                    await _first(signal.wait(wait), stop.wait())
        except asyncio.CancelledError:
            # Cancelled, not stopped: nothing more starts and what runs is cancelled, its
            # leases left to expire (a request it sent is covered by its stretched lease).
            waiting.clear()
            for runner in running:
                runner.cancel()
            raise
        finally:
            while waiting or running:  # what is claimed is finished, as a pass used to
                self._start(waiting, running, freed, claims)
                if running:
                    await asyncio.wait(set(running), return_when=asyncio.FIRST_COMPLETED)
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    def _start(
        self,
        waiting: deque[tuple[Task, _Claim]],
        running: set[asyncio.Task[None]],
        freed: asyncio.Event,
        claims: set[_Claim],
    ) -> None:
        """Start waiting tasks in the free slots."""
        while waiting and len(running) < self._tasks_at_once:
            task, claim = waiting.popleft()

            async def one(task: Task = task, claim: _Claim = claim) -> None:
                try:
                    claim.outcomes.append(await self._dispatch_one(task, claim.token, claim.cache))
                finally:
                    freed.set()
                if len(claim.outcomes) == len(claim.tasks):
                    claims.discard(claim)
                    try:
                        await self._tell(claim.outcomes)
                    except Exception:
                        log.exception("could not tell Slack what changed")

            runner = asyncio.create_task(one())
            running.add(runner)
            runner.add_done_callback(running.discard)

    async def _claim(self, limit: int, *, rescue_every: float = 0.0) -> _Claim | None:
        """Rescue expired leases (at most every `rescue_every` seconds), then claim up to
        `limit` due tasks under a new token."""
        now = self._clock.now()
        moment = asyncio.get_running_loop().time()
        if moment - self._rescued_at >= rescue_every:
            self._rescued_at = moment
            rescued = await rescue_expired_tasks(self._sessions, now=now)
            if rescued:
                log.warning("rescued %d task(s) whose worker stopped", len(rescued))
                self._lookups.expect(rescued, now)
        lease_token = f"{self._worker_id}:{secrets.token_hex(6)}"
        claimed = await claim_due(
            self._sessions,
            lease_token=lease_token,
            now=now,
            lease=self._config.lease,
            limit=limit,
            paused=self._circuits.paused(now),
        )
        if not claimed:
            return None
        try:
            await self._owners.check(claimed)
        except Exception as error:
            # Not checked: nothing cached can be trusted for these owners; read afresh.
            self._owners = OwnerCache(self._sessions)
            self._database_failed(error)
        cache = self._owners.pass_cache(self._lookups)
        self._lookups.expect(claimed, now)  # what may exist already: one listing per list
        return _Claim(lease_token, claimed, cache)

    @property
    def _tasks_at_once(self) -> int:
        # Four times the requests allowed in flight (`TaskDispatcher`): while some tasks wait
        # for their fence's or outcome's commit, read or look up, others are on the wire, and
        # the more wait for a commit, the more share it (docs/routing.md).
        return 4 * self._config.concurrency

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
        """One claim of up to `batch_size` tasks, run to its end; returns how many were
        claimed."""
        claim = await self._claim(self._config.batch_size)
        if claim is None:
            return 0
        slots = asyncio.Semaphore(self._config.concurrency)

        async def one(task: Task) -> Outcome:
            async with slots:
                return await self._dispatch_one(task, claim.token, claim.cache)

        # The lease of every claimed task is renewed from the claim on, also while it waits
        # for a slot, until the whole claim has its outcomes.
        renewer = asyncio.create_task(self._keep_leases(lambda: [claim.token]))
        try:
            outcomes = await asyncio.gather(*(one(task) for task in claim.tasks))
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        await self._tell(outcomes)
        return len(claim.tasks)

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

    async def _keep_leases(self, held: Callable[[], Collection[str]]) -> None:
        # Real time on purpose: a lease protects against a process that stopped, and the
        # cadence must not depend on a test's fake clock.
        interval = self._config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            tokens = held()
            if not tokens:
                continue
            try:
                await renew_leases(
                    self._sessions, lease_token=tokens, now=self._clock.now(),
                    lease=self._config.lease,
                )  # fmt: skip
            except Exception as error:
                # Not renewed: the fence in front of every send stops this worker from
                # sending what it may no longer hold.
                if not unreachable(error):
                    log.exception("could not renew leases")
                self._database_failed(error)


@dataclass(eq=False)
class _Claim:
    """The tasks claimed under one lease token, and their outcomes as they come."""

    token: str
    tasks: list[Task]
    cache: PassCache
    outcomes: list[Outcome] = field(default_factory=list)


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until the first of `waits` is done; cancel the others."""
    pending = {asyncio.ensure_future(w) for w in waits}
    try:
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
