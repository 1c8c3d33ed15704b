"""The task lifecycle (SPEC "Task lifecycle"), in one table.

    review ──create──▶ (routed now, as at intake: queued, awaiting_choice, pending_auth, failed)
      └──dismiss──▶ dismissed

    pending_auth ──connect──▶ queued ──claim──▶ in_flight ──▶ created
         │  ▲                   ▲  │               │  │
         │  └──revoked──────────┼──┼───────────────┘  ├──transient──▶ retrying ──claim──▶ in_flight
         ▼                      │  ▼                  └──permanent / exhausted──▶ failed
    awaiting_choice ──choice────┘  dismissed                        failed ──retry──▶ queued

`review` is where an owner who reviews first finds a meeting's items: nothing is sent until
they create one (`routing.review`), and a task never comes back to it.

Every change of state goes through `check_transition`; an illegal one raises. Terminal states
(`created`, `dismissed`) never change again, so a late duplicate event cannot undo a task.
"""

from __future__ import annotations

from primitives.enums import TaskState

S = TaskState

# The states a task may start in: decided at intake, before anything is sent.
INITIAL_STATES = frozenset({S.PENDING_AUTH, S.AWAITING_CHOICE, S.REVIEW, S.QUEUED, S.FAILED})

TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    # Connected → queued (or ask, when both tools are connected and the owner wants to choose).
    S.PENDING_AUTH: frozenset({S.QUEUED, S.AWAITING_CHOICE, S.FAILED, S.DISMISSED}),
    # The owner reviewed it: created (routed then, as intake would have) or dismissed.
    S.REVIEW: frozenset({S.QUEUED, S.AWAITING_CHOICE, S.PENDING_AUTH, S.FAILED, S.DISMISSED}),
    # The owner clicked a tool; or their connection went away before they chose.
    S.AWAITING_CHOICE: frozenset({S.QUEUED, S.PENDING_AUTH, S.DISMISSED}),
    # The worker claims it; a revoked connection sends it back to wait for a reconnect.
    S.QUEUED: frozenset({S.IN_FLIGHT, S.PENDING_AUTH, S.DISMISSED}),
    # Routing deferred to dispatch (no catalog at intake) may end in asking the owner.
    S.IN_FLIGHT: frozenset({S.CREATED, S.RETRYING, S.FAILED, S.PENDING_AUTH, S.AWAITING_CHOICE}),
    S.RETRYING: frozenset({S.IN_FLIGHT, S.PENDING_AUTH, S.FAILED, S.DISMISSED}),
    # A person may retry a failed task (after fixing what the reason said) or dismiss it.
    S.FAILED: frozenset({S.QUEUED, S.DISMISSED}),
    S.CREATED: frozenset(),
    S.DISMISSED: frozenset(),
}


class IllegalTransition(Exception):
    """A state change the lifecycle does not allow."""

    def __init__(self, current: TaskState, target: TaskState) -> None:
        super().__init__(f"a task cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: TaskState, target: TaskState) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: TaskState | str, target: TaskState | str) -> TaskState:
    """Return `target` as a state if `current → target` is legal; raise otherwise."""
    current, target = TaskState(current), TaskState(target)
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return target


def sources_of(target: TaskState) -> frozenset[TaskState]:
    """Every state from which `target` may be reached (for guarded UPDATE … WHERE state IN)."""
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)
