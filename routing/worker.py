"""The dispatch worker: drains the task outbox into ClickUp and Notion, exactly once.

One pass: rescue expired leases, claim a batch of due tasks (`routing.outbox`), dispatch them
concurrently while renewing each lease (`routing.dispatch`), then tell the notifier what
changed, grouped by meeting, and which owners must reconnect. How a failure ends and how long
a retry waits is `routing.retry`'s to say.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import Provider
from routing.catalogs import CatalogCache
from routing.dispatch import Outcome, PassCache, TaskDispatcher
from routing.notify import Notifier, announce
from routing.observe import DispatchObserver, NoObserver
from routing.outbox import claim_due, renew_lease, rescue_expired
from routing.retry import RetryPolicy
from routing.wake import WakeSignal
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

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.base_backoff, self.max_backoff)


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
        self._dispatcher = TaskDispatcher(
            sessions=sessions, vault=vault, clock=clock, providers=providers, catalogs=catalogs,
            policy=self._config.retry, rng=rng or random.Random(),  # jitter, not security
            observer=self._observer,
        )  # fmt: skip

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
        slots = asyncio.Semaphore(self._config.concurrency)
        cache = PassCache()

        async def one(task: Task) -> Outcome:
            async with slots:
                return await self._dispatch_with_lease(task, lease_token, cache)

        outcomes = await asyncio.gather(*(one(task) for task in claimed))
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

    async def _dispatch_with_lease(self, task: Task, lease_token: str, cache: PassCache) -> Outcome:
        renewer = asyncio.create_task(self._keep_lease(task.id, lease_token))
        started = self._clock.monotonic()
        try:
            outcome = await self._dispatcher.dispatch(task, lease_token, cache)
        except Exception as error:  # a bug must not lose the task: retry it later
            log.exception("dispatching task %s failed unexpectedly", task.id)
            outcome = await self._dispatcher.fail(task, lease_token, error, sent_before=True)
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
