"""How a failed dispatch ends, decided in one place, and how long a retry waits.

    failure                          the task ends the attempt as
    AuthRevoked                      pending_auth: the owner must reconnect (the dispatcher
                                     first tries one refresh where the tool has refresh tokens)
    RateLimited                      retrying after exactly the provider's delay; not an
                                     attempt (nothing was created, nothing was refused)
    Transient, or any other          retrying after a jittered exponential backoff, never
    ProviderError, or a bug of ours  sooner than Retry-After; an attempt, unless the provider
                                     is paused for an outage (`routing.circuit`)
    Permanent                        failed, with the provider's readable reason

`attempts` counts only what the provider refused: claiming, a crash and its rescue, a 429 and
an outage cost none. When attempts run out, a task that may exist at the provider (a request
that may have created it was sent and no lookup since said it does not exist) is not declared
failed: it stays `retrying` for one final check by marker (`checking_reason`), and ends
`failed` only when that check answers "not there" (`gave_up_reason`).

A retry after which nothing can exist at the provider is marked unsent, so the next attempt
need not look the task up by its marker first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from primitives.enums import TaskState
from providers.base import AuthRevoked, Permanent, ProviderError, RateLimited, Transient
from routing.outbox import TaskUpdate

# Spread over which tasks held back by one 429 resume, so they do not fire at the same instant.
RATE_LIMIT_JITTER = 0.25  # seconds
_CHECKING = "checking whether it was created before giving up — "


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_backoff: float = 2.0  # seconds before the second attempt, doubling after
    max_backoff: float = 900.0

    def delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> float:
        """Exponential backoff with jitter (half to full), never shorter than Retry-After."""
        ceiling = min(self.max_backoff, self.base_backoff * 2 ** max(0, attempts - 1))
        return max(rng.uniform(ceiling / 2, ceiling), retry_after or 0.0)


@dataclass(frozen=True)
class Ending:
    """How one attempt ends: the task's next state, what is written, and whether the owner's
    connection must be marked for reconnecting."""

    state: TaskState
    change: TaskUpdate
    reconnect: bool = False


def checking_reason(attempts: int, message: str) -> str:
    """The reason of a task whose attempts ran out while it may exist at the provider."""
    return f"{_CHECKING}{gave_up_reason(attempts, message)}"


def gave_up_reason(attempts: int, message: str) -> str:
    return f"gave up after {attempts} attempts: {message}"


def final_reason(reason: str | None, attempts: int) -> str:
    """The reason a task fails with once its final check found nothing at the provider."""
    if reason and reason.startswith(_CHECKING):
        return reason.removeprefix(_CHECKING)
    return gave_up_reason(attempts, reason or "the provider kept failing")


def ending_for(
    error: Exception,
    *,
    attempts: int,
    may_exist: bool,
    policy: RetryPolicy,
    rng: random.Random,
    now: datetime,
    paused_until: datetime | None = None,
) -> Ending:
    """The ending of an attempt that failed with `error`.

    `attempts` is what the provider refused before this attempt; `may_exist` whether the task
    may exist at the provider now (this attempt's request, or an earlier one not since looked
    up, may have created it); `paused_until` when the provider is paused for an outage.
    """
    unsent = not may_exist
    if isinstance(error, AuthRevoked):
        reason = f"{error.provider.label} needs reconnecting: {error.message}"
        return Ending(TaskState.PENDING_AUTH, TaskUpdate(reason=reason), reconnect=True)
    if isinstance(error, Permanent):
        return Ending(TaskState.FAILED, TaskUpdate(reason=error.message))
    if isinstance(error, RateLimited):
        # The provider's limit, not the task, failed: wait what it asked, count nothing.
        asked = error.retry_after
        if asked is None:
            asked = policy.delay(attempts + 1, None, rng)
        due = now + timedelta(seconds=asked + rng.uniform(0, RATE_LIMIT_JITTER))
        return _retrying(error.message, attempts, due, unsent=unsent)
    if isinstance(error, ProviderError):
        message = error.message
        retry_after = error.retry_after if isinstance(error, Transient) else None
    else:  # a bug must not lose the task: it is retried like a passing failure
        message, retry_after = f"internal error ({type(error).__name__})", None
    checking = may_exist and attempts >= policy.max_attempts  # the final check failed
    if paused_until is not None:
        # An outage, not this task: wait for the provider's probe, count nothing.
        reason = checking_reason(attempts, message) if checking else message
        return _retrying(reason, attempts, paused_until, unsent=unsent)
    if checking:
        wait = timedelta(seconds=policy.delay(attempts, retry_after, rng))
        return _retrying(checking_reason(attempts, message), attempts, now + wait)
    counted = attempts + 1
    wait = timedelta(seconds=policy.delay(counted, retry_after, rng))
    if counted >= policy.max_attempts:
        if may_exist:  # the dispatcher holds it back until the request can no longer land
            return _retrying(checking_reason(counted, message), counted, now + wait)
        return Ending(
            TaskState.FAILED, TaskUpdate(reason=gave_up_reason(counted, message), unsent=True)
        )
    return _retrying(message, counted, now + wait, unsent=unsent)


def _retrying(message: str, attempts: int, due: datetime, *, unsent: bool = False) -> Ending:
    change = TaskUpdate(reason=message, attempts=attempts, next_attempt_at=due, unsent=unsent)
    return Ending(TaskState.RETRYING, change)
