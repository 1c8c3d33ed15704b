"""How a failed dispatch ends, decided in one place, and how long a retry waits.

    failure                          the task ends the attempt as
    AuthRevoked                      pending_auth: the owner must reconnect (the dispatcher
                                     first tries one refresh where the tool has refresh tokens)
    RateLimited                      retrying after the provider's delay; not counted as an
                                     attempt
    Transient, or any other          retrying after a jittered exponential backoff, never
    ProviderError, or a bug of ours  sooner than Retry-After; failed once attempts run out
    Permanent                        failed, with the provider's readable reason

A retry whose request certainly never reached the provider (`Transient.request_sent` False,
and nothing was sent in an earlier attempt) is marked unsent, so the next attempt need not
look the task up by its marker first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from primitives.enums import TaskState
from providers.base import AuthRevoked, Permanent, ProviderError, RateLimited, Transient
from routing.outbox import TaskUpdate


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


def ending_for(
    error: Exception,
    *,
    attempts: int,
    sent_before: bool,
    policy: RetryPolicy,
    rng: random.Random,
    now: datetime,
) -> Ending:
    """The ending of an attempt that failed with `error`; `attempts` counts this one."""
    if isinstance(error, AuthRevoked):
        reason = f"{error.provider.label} needs reconnecting: {error.message}"
        return Ending(TaskState.PENDING_AUTH, TaskUpdate(reason=reason), reconnect=True)
    if isinstance(error, Permanent):
        return Ending(TaskState.FAILED, TaskUpdate(reason=error.message))
    if isinstance(error, RateLimited):
        # The provider's limit, not the task, failed: the attempt is given back.
        return _retrying(error.message, attempts - 1, error.retry_after, policy, rng, now)
    unsent = isinstance(error, Transient) and not error.request_sent and not sent_before
    if isinstance(error, ProviderError):
        message = error.message
        retry_after = error.retry_after if isinstance(error, Transient) else None
    else:  # a bug must not lose the task: it is retried like a passing failure
        message, retry_after = f"internal error ({type(error).__name__})", None
    if attempts >= policy.max_attempts:
        reason = f"gave up after {attempts} attempts: {message}"
        return Ending(TaskState.FAILED, TaskUpdate(reason=reason, unsent=unsent))
    return _retrying(message, attempts, retry_after, policy, rng, now, unsent=unsent)


def _retrying(
    message: str,
    attempts: int,
    retry_after: float | None,
    policy: RetryPolicy,
    rng: random.Random,
    now: datetime,
    *,
    unsent: bool = False,
) -> Ending:
    wait = timedelta(seconds=policy.delay(attempts, retry_after, rng))
    change = TaskUpdate(
        reason=message, attempts=attempts, next_attempt_at=now + wait, unsent=unsent
    )
    return Ending(TaskState.RETRYING, change)
