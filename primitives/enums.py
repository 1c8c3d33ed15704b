"""The names every layer shares: tools, priorities, task states, routing modes.

They are `str` enums, stored as their values (typed columns in `storage.models`) and sent as
their values in the HTTP API.
"""

from __future__ import annotations

from enum import StrEnum


class ProviderName(StrEnum):
    CLICKUP = "clickup"
    NOTION = "notion"

    @property
    def label(self) -> str:
        """The tool's name as a person writes it."""
        return {"clickup": "ClickUp", "notion": "Notion"}[self.value]

    @property
    def destination_kind(self) -> str:
        """What a task goes into there: a ClickUp "list", a Notion "database"."""
        return {"clickup": "list", "notion": "database"}[self.value]


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class RoutingMode(StrEnum):
    """How an owner with both tools connected wants their tasks routed (SPEC "Routing")."""

    SMART = "smart"
    USER_CHOICE = "user_choice"
    DEFAULT = "default"


class TaskState(StrEnum):
    """Where a task is in its life (SPEC "Task lifecycle"; the moves are in `routing.states`)."""

    PENDING_AUTH = "pending_auth"
    AWAITING_CHOICE = "awaiting_choice"
    REVIEW = "review"
    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    RETRYING = "retrying"
    CREATED = "created"
    FAILED = "failed"
    DISMISSED = "dismissed"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskState.CREATED, TaskState.DISMISSED)


class RemoteStatus(StrEnum):
    """Where a created task is in its tool, as the tool last told us (webhooks, polling).

    Each tool's own statuses are mapped onto these by kind, never by name: ClickUp's status
    `type` (open and custom are `open`, done is `done`, closed is `closed`), Notion's status
    group. `deleted`: the task is gone from the tool (ClickUp `taskDeleted`, a Notion page
    deleted or moved to the trash).
    """

    OPEN = "open"
    DONE = "done"
    CLOSED = "closed"
    DELETED = "deleted"

    @property
    def finished(self) -> bool:
        """Nothing more is to be done on the task there."""
        return self is not RemoteStatus.OPEN
