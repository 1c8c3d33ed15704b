"""How a failed attempt ends (routing/retry.py): one decision per branch of the error tree."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from primitives.enums import ProviderName, TaskState
from providers.base import AuthRevoked, Permanent, ProviderError, RateLimited, Transient
from routing.outbox import TaskUpdate
from routing.retry import (
    RATE_LIMIT_JITTER,
    Ending,
    RetryPolicy,
    checking_reason,
    ending_for,
    final_reason,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=4, base_backoff=2.0, max_backoff=60.0)
CLICKUP = ProviderName.CLICKUP


def end(
    error: Exception,
    *,
    attempts: int = 0,
    may_exist: bool = False,
    paused_until: datetime | None = None,
) -> Ending:
    """`attempts`: what the provider refused before this attempt."""
    return ending_for(
        error, attempts=attempts, may_exist=may_exist, policy=POLICY, rng=random.Random(1),
        now=NOW, paused_until=paused_until,
    )  # fmt: skip


def waited(ending: Ending) -> float:
    assert ending.change.next_attempt_at is not None
    return (ending.change.next_attempt_at - NOW).total_seconds()


@pytest.mark.parametrize("attempts", [1, 2, 3, 5, 8, 20])
def test_backoff_is_jittered_between_half_and_all_of_a_doubling_ceiling(attempts: int) -> None:
    ceiling = min(60.0, 2.0 * 2 ** (attempts - 1))
    rng = random.Random(attempts)
    delays = [POLICY.delay(attempts, None, rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 100  # jittered, not one fixed wait


def test_retry_after_is_a_floor_never_shortened_by_jitter() -> None:
    rng = random.Random(3)
    assert all(POLICY.delay(1, 45.0, rng) == 45.0 for _ in range(50))
    assert POLICY.delay(1, 0.5, rng) >= 1.0  # the backoff wins when it is longer


def test_a_revoked_token_waits_for_a_reconnect() -> None:
    ending = end(AuthRevoked(CLICKUP, "ClickUp no longer accepts your connection"))
    assert ending.state is TaskState.PENDING_AUTH and ending.reconnect
    assert ending.change.reason == (
        "ClickUp needs reconnecting: ClickUp no longer accepts your connection"
    )


def test_a_permanent_error_fails_with_the_providers_reason() -> None:
    ending = end(Permanent(CLICKUP, "ClickUp refused the task: name too long"))
    assert ending == Ending(
        TaskState.FAILED, TaskUpdate(reason="ClickUp refused the task: name too long")
    )


def test_a_rate_limit_costs_no_attempt_and_waits_what_the_provider_asked() -> None:
    ending = end(RateLimited(CLICKUP, "slow down", retry_after=30.0), attempts=3)
    assert ending.state is TaskState.RETRYING and not ending.reconnect
    assert ending.change.attempts == 3  # not counted, even on what would be the last attempt
    assert 30.0 <= waited(ending) <= 30.0 + RATE_LIMIT_JITTER  # not the exponential backoff
    assert ending.change.unsent  # a 429 created nothing


def test_a_transient_error_retries_honouring_retry_after() -> None:
    ending = end(
        Transient(CLICKUP, "ClickUp had a problem (HTTP 503)", retry_after=20.0), may_exist=True
    )
    assert ending.state is TaskState.RETRYING and ending.change.attempts == 1
    assert waited(ending) == 20.0
    assert not ending.change.unsent  # the request may have reached ClickUp


def test_a_task_that_cannot_exist_is_marked_unsent() -> None:
    refused = Transient(CLICKUP, "ClickUp cannot be reached", request_sent=False)
    assert end(refused).change.unsent
    assert not end(refused, may_exist=True).change.unsent


def test_attempts_run_out_into_failed_with_the_last_message() -> None:
    ending = end(Transient(CLICKUP, "ClickUp had a problem (HTTP 502)"), attempts=3)
    assert ending.state is TaskState.FAILED
    assert ending.change.reason == "gave up after 4 attempts: ClickUp had a problem (HTTP 502)"


def test_attempts_run_out_into_a_final_check_when_the_task_may_exist() -> None:
    """Never `failed` while it may exist: a last 502 may have created the task."""
    ending = end(Transient(CLICKUP, "ClickUp had a problem (HTTP 502)"), attempts=3, may_exist=True)
    assert ending.state is TaskState.RETRYING and ending.change.attempts == 4
    assert ending.change.reason == checking_reason(4, "ClickUp had a problem (HTTP 502)")
    assert final_reason(ending.change.reason, 4) == (
        "gave up after 4 attempts: ClickUp had a problem (HTTP 502)"
    )
    assert waited(ending) > 0  # a failing check backs off like any retry


def test_an_outage_costs_no_attempt_and_waits_for_the_probe() -> None:
    until = NOW + timedelta(seconds=7)
    ending = end(Transient(CLICKUP, "ClickUp had a problem (HTTP 503)"), attempts=3,
                 paused_until=until)  # fmt: skip
    assert ending.state is TaskState.RETRYING and ending.change.attempts == 3
    assert ending.change.next_attempt_at == until


@pytest.mark.parametrize(
    "error", [ProviderError(CLICKUP, "odd answer"), KeyError("a bug of ours")], ids=str
)
def test_anything_else_is_retried_like_a_passing_failure(error: Exception) -> None:
    ending = end(error, attempts=1)
    assert ending.state is TaskState.RETRYING and ending.change.attempts == 2
    assert 2.0 <= waited(ending) <= 4.0
    if not isinstance(error, ProviderError):
        assert ending.change.reason == "internal error (KeyError)"


def test_the_reason_goes_to_one_column_by_state() -> None:
    """`last_error` while something is in the way, `route_reason` otherwise; a state explained
    by its route clears the last error."""
    change = TaskUpdate(reason="why")
    for state in (TaskState.PENDING_AUTH, TaskState.RETRYING, TaskState.FAILED):
        values = change.values(state, NOW)
        assert values["last_error"] == "why" and "route_reason" not in values
    for state in (TaskState.QUEUED, TaskState.AWAITING_CHOICE, TaskState.CREATED):
        values = change.values(state, NOW)
        assert values["route_reason"] == "why" and values["last_error"] is None
    assert TaskUpdate().values(TaskState.DISMISSED, NOW)["finished_at"] == NOW
    assert TaskUpdate().values(TaskState.QUEUED, NOW + timedelta(1))["finished_at"] is None
