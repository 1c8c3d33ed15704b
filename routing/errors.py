"""What can go wrong when someone asks the domain for something, as a person should read it.

Every refusal of `IntegrationUtility` is one error of this tree, with a stable `code`, a
`message` a person can read, and the `field` of the input at fault (None when no one field is):

    RoutingError                    code                      when
    ├── InvalidInput                invalid_input             the input cannot be accepted
    ├── UnknownOwner                unknown_user              the person is not in the workspace
    ├── TaskNotFound                not_found                 no such task in this team
    ├── NotAllowed                  not_allowed               only the task's owner may do that
    ├── IdempotencyConflict         idempotency_key_reused    a key reused with another request
    ├── TeamNotServed               team_not_served           the app is not installed in that
    │                                                         Slack workspace (its bot token
    │                                                         belongs to another one)
    └── DirectoryUnavailable        slack_unavailable         Slack cannot say who is who now;
                                                              `.retry_after` seconds, if known

The HTTP side turns the tree into statuses with one exception handler (`sidecar/errors.py`);
the Slack side shows `message` privately to the person. Neither catches the branches one by
one. Provider failures have their own tree (`providers/base.py`) and never reach a caller as
such: the worker turns them into task states and reasons.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_INPUT = "invalid_input"
    UNKNOWN_USER = "unknown_user"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    SLACK_UNAVAILABLE = "slack_unavailable"
    TEAM_NOT_SERVED = "team_not_served"


class RoutingError(Exception):
    """Base of the tree: `code` for programs, `message` for people, `field` at fault."""

    code: ErrorCode

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field


class InvalidInput(RoutingError):
    """Input that cannot be accepted; `field` names what is wrong, `message` says how."""

    code = ErrorCode.INVALID_INPUT

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class UnknownOwner(RoutingError):
    """The person a task must belong to is not in the Slack workspace; names the field."""

    code = ErrorCode.UNKNOWN_USER

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class TaskNotFound(RoutingError):
    """No task with this id (in the caller's team)."""

    code = ErrorCode.NOT_FOUND

    def __init__(self, task_id: str) -> None:
        super().__init__("no task with this id", field="task_id")
        self.task_id = task_id


class NotAllowed(RoutingError):
    """Someone other than the owner acted on a task."""

    code = ErrorCode.NOT_ALLOWED

    def __init__(self, task_id: str) -> None:
        super().__init__("only the person this task belongs to can do that")
        self.task_id = task_id


class IdempotencyConflict(RoutingError):
    """An Idempotency-Key reused with a different request."""

    code = ErrorCode.IDEMPOTENCY_KEY_REUSED

    def __init__(self, key: str) -> None:
        super().__init__(
            "this Idempotency-Key was used with a different request; use a new key",
            field="Idempotency-Key",
        )
        self.key = key


class TeamNotServed(RoutingError):
    """A request for a Slack workspace this installation does not serve: nobody is looked up
    there, since the only bot token we hold would answer for another workspace."""

    code = ErrorCode.TEAM_NOT_SERVED

    def __init__(self, team_id: str) -> None:
        super().__init__(
            f"Scrumy Tasks is not installed in the Slack workspace {team_id}", field="team_id"
        )
        self.team_id = team_id


class DirectoryUnavailable(RoutingError):
    """Slack could not say who is in the workspace (down, rate limited, not installed)."""

    code = ErrorCode.SLACK_UNAVAILABLE

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
