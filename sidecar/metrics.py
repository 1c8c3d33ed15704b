"""Prometheus metrics of one process, in a registry of its own (no module-level collectors).

- `scrumy_tasks{state}`: tasks in each state, counted in the database at scrape time, so every
  process reports the same truth whichever of them did the work;
- `scrumy_dispatch_seconds{provider,outcome}`: how long one dispatch of a task took;
- `scrumy_provider_errors_total{provider,kind}`: provider failures by branch of the error tree;
- `scrumy_slack_ack_seconds`: how long Slack waited for our acknowledgement (3 s is its limit).

The dispatch figures are those of the worker running in this process (`scrumy serve` without
`--no-worker`); a separate `scrumy worker` keeps its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from primitives.enums import ProviderName, TaskState

DISPATCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ACK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


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
