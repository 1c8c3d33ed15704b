"""The task lifecycle, written out from SPEC "Task lifecycle" and the diagram in
`routing.states`: every legal step is allowed, every other pair of states is refused."""

from __future__ import annotations

import itertools

import pytest

from primitives.enums import TaskState
from routing.states import (
    INITIAL_STATES,
    IllegalTransition,
    can_transition,
    check_transition,
    sources_of,
)

S = TaskState

# Written out, not read from `routing.states.TRANSITIONS`: changing the table means changing
# this too, and saying why.
LIFECYCLE: dict[TaskState, frozenset[TaskState]] = {
    # The owner connects a tool: queued, or asked to choose when they choose per task; found
    # impossible on connecting (a permanent error, with its reason); dismissed by them.
    S.PENDING_AUTH: frozenset({S.QUEUED, S.AWAITING_CHOICE, S.FAILED, S.DISMISSED}),
    # The owner who reviews first creates it (routed then: queued, asked to choose, waiting
    # for a connection, or failed with its reason) or dismisses it; never sent before.
    S.REVIEW: frozenset({S.QUEUED, S.AWAITING_CHOICE, S.PENDING_AUTH, S.FAILED, S.DISMISSED}),
    # The owner picks a tool; their connection goes away before they do; they dismiss it.
    S.AWAITING_CHOICE: frozenset({S.QUEUED, S.PENDING_AUTH, S.DISMISSED}),
    # A worker claims it; a revoked connection sends it back to wait; dismissed.
    S.QUEUED: frozenset({S.IN_FLIGHT, S.PENDING_AUTH, S.DISMISSED}),
    # Created; a transient error (retry with backoff); a permanent one; a revoked connection;
    # routing left to dispatch (no catalog at intake) that ends in asking the owner.
    S.IN_FLIGHT: frozenset({S.CREATED, S.RETRYING, S.FAILED, S.PENDING_AUTH, S.AWAITING_CHOICE}),
    # Claimed again; a revoked connection; attempts exhausted; dismissed.
    S.RETRYING: frozenset({S.IN_FLIGHT, S.PENDING_AUTH, S.FAILED, S.DISMISSED}),
    # A person retries it (after fixing what the reason said) or dismisses it.
    S.FAILED: frozenset({S.QUEUED, S.DISMISSED}),
    # Terminal: a late duplicate event can never undo a task.
    S.CREATED: frozenset(),
    S.DISMISSED: frozenset(),
}
# Where intake may put a task, before anything is sent (`routing.decide`).
STARTS = {S.PENDING_AUTH, S.AWAITING_CHOICE, S.REVIEW, S.QUEUED, S.FAILED}
# SPEC: "every item ends `created`, `failed` with a reason, or `dismissed` by a person".
ENDINGS = {S.CREATED, S.FAILED, S.DISMISSED}

LEGAL = sorted((current, target) for current, targets in LIFECYCLE.items() for target in targets)
REFUSED = sorted(set(itertools.product(TaskState, TaskState)) - set(LEGAL))


def test_the_lifecycle_names_every_state() -> None:
    assert set(LIFECYCLE) == set(TaskState)
    assert (len(LEGAL), len(REFUSED)) == (26, 55)


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_legal_steps(current: TaskState, target: TaskState) -> None:
    assert can_transition(current, target)
    assert check_transition(current, target) is target
    assert current in sources_of(target)


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_every_other_step_raises(current: TaskState, target: TaskState) -> None:
    assert not can_transition(current, target)
    with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
        check_transition(current, target)
    assert current not in sources_of(target)


@pytest.mark.parametrize("target", list(TaskState))
def test_the_sources_of_each_state(target: TaskState) -> None:
    assert sources_of(target) == {current for current, to in LEGAL if to is target}


def test_only_created_and_dismissed_are_terminal() -> None:
    assert {state for state in TaskState if state.is_terminal} == {S.CREATED, S.DISMISSED}


def test_tasks_start_where_intake_puts_them() -> None:
    assert INITIAL_STATES == STARTS


def test_every_state_is_reachable_and_every_task_can_end() -> None:
    def reachable_from(starts: set[TaskState]) -> set[TaskState]:
        seen, frontier = set(starts), list(starts)
        while frontier:
            for target in LIFECYCLE[frontier.pop()] - seen:
                seen.add(target)
                frontier.append(target)
        return seen

    assert reachable_from(STARTS) == set(TaskState)
    for state in TaskState:
        assert reachable_from({state}) & ENDINGS, f"a task in {state} could never end"


def test_the_strings_stored_in_the_database_are_accepted() -> None:
    assert check_transition("queued", "in_flight") is TaskState.IN_FLIGHT
    with pytest.raises(ValueError, match="lost"):
        check_transition("queued", "lost")
