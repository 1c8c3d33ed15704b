"""The lifecycle table: every legal step allowed, every other refused."""

from __future__ import annotations

import itertools

import pytest

from primitives.enums import TaskState
from routing.states import (
    INITIAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    check_transition,
    sources_of,
)

LEGAL = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_steps(current: TaskState, target: TaskState) -> None:
    assert check_transition(current, target) is target
    assert current in sources_of(target)


@pytest.mark.parametrize(
    ("current", "target"),
    sorted(set(itertools.product(TaskState, TaskState)) - LEGAL),
)
def test_every_other_step_raises(current: TaskState, target: TaskState) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(current, target)


def test_terminal_states_never_change() -> None:
    for state in (TaskState.CREATED, TaskState.DISMISSED):
        assert state.is_terminal and TRANSITIONS[state] == frozenset()


def test_every_state_is_reachable_and_every_task_can_end() -> None:
    reachable = set(INITIAL_STATES)
    frontier = list(INITIAL_STATES)
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(TaskState)
    # Nothing is ever dropped: from every state an ending (created, failed, dismissed) is near.
    for state in TaskState:
        if not state.is_terminal:
            assert TRANSITIONS[state] & {TaskState.DISMISSED, TaskState.FAILED, TaskState.IN_FLIGHT}


def test_the_strings_stored_in_the_database_are_accepted() -> None:
    assert check_transition("queued", "in_flight") is TaskState.IN_FLIGHT
    with pytest.raises(ValueError, match="lost"):
        check_transition("queued", "lost")
