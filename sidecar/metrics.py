"""Prometheus metrics of one process, in a registry of its own (no module-level collectors).

- `scrumy_tasks{state}`: tasks in each state, counted in the database (so every process
  reports the same truth whichever of them did the work) at most once per `COUNTS_LIFETIME`:
  however often it is scraped, `/metrics` runs one count query every 15 seconds;
- `scrumy_dispatch_seconds{provider,outcome}`: how long one dispatch of a task took;
- `scrumy_provider_errors_total{provider,kind}`: provider failures by branch of the error tree;
- `scrumy_slack_ack_seconds`: how long Slack waited for our acknowledgement (3 s is its limit).

The dispatch figures are those of the worker running in this process (`scrumy serve` or
`scrumy socket` without `--no-worker`); a separate `scrumy worker` has no HTTP side and
exports none, so watch dispatch where `serve` runs its worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from primitives.clock import Clock
from primitives.enums import ProviderName, TaskState

DISPATCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ACK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST
COUNTS_LIFETIME = 15.0  # seconds; Prometheus scrapes every 15 to 60 s


class TaskCountCache:
    """The task counts, read again only when the last reading is `COUNTS_LIFETIME` old, so a
    scrape (or many at once) is cheap however large the tasks table grows."""

    def __init__(
        self,
        read: Callable[[], Awaitable[Mapping[TaskState, int]]],
        clock: Clock,
        lifetime: float = COUNTS_LIFETIME,
    ) -> None:
        self._read = read
        self._clock = clock
        self._lifetime = lifetime
        self._counts: Mapping[TaskState, int] | None = None
        self._read_at = 0.0

    async def get(self) -> Mapping[TaskState, int]:
        now = self._clock.monotonic()
        if self._counts is None or now - self._read_at >= self._lifetime:
            self._counts = await self._read()
            self._read_at = now
        return self._counts


class Metrics:
    """The metrics; also the worker's `DispatchObserver`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._tasks = Gauge(
            "scrumy_tasks", "Tasks in each state.", ["state"], registry=self.registry
        )
        self._dispatch = Histogram(
            "scrumy_dispatch_seconds",
            "Time to dispatch one task to its provider, by the state it ended in.",
            ["provider", "outcome"],
            buckets=DISPATCH_BUCKETS,
            registry=self.registry,
        )
        self._provider_errors = Counter(
            "scrumy_provider_errors",
            "Failed provider calls by kind (auth_revoked, rate_limited, transient, permanent).",
            ["provider", "kind"],
            registry=self.registry,
        )
        self._slack_ack = Histogram(
            "scrumy_slack_ack_seconds",
            "Time from receiving a Slack request to acknowledging it.",
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )

    # --- DispatchObserver ---------------------------------------------------------------------

    def dispatched(self, provider: ProviderName | None, outcome: str, seconds: float) -> None:
        label = provider.value if provider else "unrouted"
        self._dispatch.labels(provider=label, outcome=outcome).observe(max(0.0, seconds))

    def provider_error(self, provider: ProviderName, kind: str) -> None:
        self._provider_errors.labels(provider=provider.value, kind=kind).inc()

    # --- Slack --------------------------------------------------------------------------------

    def slack_acked(self, seconds: float) -> None:
        self._slack_ack.observe(max(0.0, seconds))

    # --- exposition ---------------------------------------------------------------------------

    def render(self, task_counts: Mapping[TaskState, int]) -> bytes:
        """The Prometheus text, with the task counts the caller read just now."""
        for state, count in task_counts.items():
            self._tasks.labels(state=state.value).set(count)
        return generate_latest(self.registry)
