"""The one place tests build the routing domain: an `IntegrationUtility` and a `DispatchWorker`
sharing one vault, catalog cache, set of providers and notifier.

Only the public constructors are used, so the wiring stays what `scrumy` does at start-up; the
seams are stood in for by `tests.fakes` unless a test passes its own. (The HTTP side's tests
build everything with `scrumy serve`'s own code instead: `tests/sidecar/harness.py`.)
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import Provider
from routing.catalogs import CatalogCache
from routing.notify import Notifier
from routing.owners import Directory
from routing.results import ConnectLinks
from routing.utility import IntegrationUtility
from routing.worker import DispatchWorker, WorkerConfig
from storage.vault import TokenVault, new_key
from tests.fakes import RecordingNotifier, StaticDirectory

# The Slack workspace of the routing tests: Ana and Bo, with their addresses in the demo worlds
# of the ClickUp and Notion emulators.
TEAM = "T1"
MEMBERS = {TEAM: {"U1": "ana@acme.example", "U2": "bo@acme.example"}}


@dataclass(frozen=True)
class Wiring:
    """A utility and a worker, and what they were built from, for a test to use and inspect."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    vault: TokenVault
    catalogs: CatalogCache
    providers: Mapping[ProviderName, Provider]
    directory: Directory
    notifier: RecordingNotifier
    config: WorkerConfig | None
    utility: IntegrationUtility
    worker: DispatchWorker

    def another_worker(self, worker_id: str, *, seed: int = 7) -> DispatchWorker:
        """One more worker on the same database and seams, as another process would be."""
        return _worker(
            sessions=self.sessions, vault=self.vault, clock=self.clock, providers=self.providers,
            catalogs=self.catalogs, notifier=self.notifier, config=self.config,
            worker_id=worker_id, seed=seed,
        )  # fmt: skip


def wire(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    providers: Mapping[ProviderName, Provider] | None = None,
    *,
    directory: Directory | None = None,
    notifier: RecordingNotifier | None = None,
    vault: TokenVault | None = None,
    config: WorkerConfig | None = None,
    seed: int = 7,
    connect_links: ConnectLinks | None = None,
) -> Wiring:
    """The utility and a worker (`w1`, its jitter from `random.Random(seed)`) over `sessions`.

    Unless given: no providers, the `MEMBERS` workspace, a new `RecordingNotifier`, a vault
    with a new key, the worker's default config.
    """
    vault = vault or TokenVault([new_key()])
    catalogs = CatalogCache(sessions, clock)
    providers = dict(providers or {})
    directory = directory or StaticDirectory(MEMBERS)
    notifier = notifier or RecordingNotifier()
    utility = IntegrationUtility(
        sessions=sessions, vault=vault, clock=clock, providers=providers, catalogs=catalogs,
        directory=directory, notifier=notifier, connect_links=connect_links,
    )  # fmt: skip
    worker = _worker(
        sessions=sessions, vault=vault, clock=clock, providers=providers, catalogs=catalogs,
        notifier=notifier, config=config, worker_id="w1", seed=seed,
    )  # fmt: skip
    return Wiring(
        sessions=sessions, clock=clock, vault=vault, catalogs=catalogs, providers=providers,
        directory=directory, notifier=notifier, config=config, utility=utility, worker=worker,
    )  # fmt: skip


def _worker(
    *,
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    clock: Clock,
    providers: Mapping[ProviderName, Provider],
    catalogs: CatalogCache,
    notifier: Notifier,
    config: WorkerConfig | None,
    worker_id: str,
    seed: int,
) -> DispatchWorker:
    return DispatchWorker(
        sessions=sessions, vault=vault, clock=clock, providers=providers, catalogs=catalogs,
        notifier=notifier, config=config, rng=random.Random(seed), worker_id=worker_id,
    )  # fmt: skip
