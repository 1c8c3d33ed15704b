"""How a task's outcome is shown: to a caller (`TaskResult`), to Slack (`TaskChange`), and the
wake-up of the worker when something became due.

Every entry point ends the same way once its transaction committed: `Results.publish(rows)`
wakes the worker if a task is queued and tells the notifier what changed, grouped by meeting.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from primitives.enums import ProviderName, RemoteStatus, TaskState
from routing.notify import Notifier, TaskChange, announce
from routing.outbox import shown_reason
from storage.models import Task


class ConnectLinks(Protocol):
    """Builds the personal connect link put in Slack messages and API answers."""

    def url_for(self, *, team_id: str, user_id: str, provider: ProviderName) -> str: ...


@dataclass(frozen=True)
class TaskResult:
    item_id: str | None
    task_id: str
    status: TaskState
    provider: ProviderName | None
    url: str | None
    reason: str | None
    owner_user_id: str
    title: str
    connect_urls: Mapping[ProviderName, str] = field(default_factory=dict)
    # Where a created task is in its tool (done, closed, deleted there), once the tool said.
    remote_status: RemoteStatus | None = None


# A person's tasks not yet created (the Home tab's "waiting", `/tasks pending`), and those
# done with (its "recent" ones).
WAITING_STATES = frozenset(
    {
        TaskState.PENDING_AUTH,
        TaskState.AWAITING_CHOICE,
        TaskState.REVIEW,
        TaskState.QUEUED,
        TaskState.IN_FLIGHT,
        TaskState.RETRYING,
        TaskState.FAILED,
    }
)
FINISHED_STATES = frozenset({TaskState.CREATED, TaskState.DISMISSED})


@dataclass(frozen=True)
class TaskPage:
    """Some of a person's tasks, and how many there are in all."""

    tasks: tuple[TaskResult, ...]
    total: int


@dataclass(frozen=True)
class MeetingResult:
    meeting_id: str
    items: tuple[TaskResult, ...]
    created: bool  # False when the meeting had been posted before
    # The meeting's Slack message: posted to its channel yet, or why it could not be.
    message_posted: bool = False
    message_error: str | None = None


class Results:
    """Turns stored tasks into what callers and Slack see."""

    def __init__(
        self,
        *,
        tools: Collection[ProviderName],
        notifier: Notifier,
        links: ConnectLinks | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._tools = tools
        self._notifier = notifier
        self._links = links
        self._wake = wake

    def of(self, row: Task) -> TaskResult:
        links: dict[ProviderName, str] = {}
        if row.state is TaskState.PENDING_AUTH and self._links is not None:
            links = {
                tool: self._links.url_for(
                    team_id=row.team_id, user_id=row.owner_user_id, provider=tool
                )
                for tool in self._tools
            }
        return TaskResult(
            item_id=row.item_id,
            task_id=row.id,
            status=row.state,
            provider=row.provider,
            url=row.provider_task_url,
            reason=shown_reason(row),
            owner_user_id=row.owner_user_id,
            title=row.title,
            connect_urls=links,
            remote_status=row.remote_status,
        )

    @staticmethod
    def change(row: Task) -> TaskChange:
        return TaskChange(
            task_id=row.id, team_id=row.team_id, meeting_id=row.meeting_id,
            owner_user_id=row.owner_user_id, title=row.title, state=row.state,
            provider=row.provider, url=row.provider_task_url, reason=shown_reason(row),
            remote_status=row.remote_status,
        )  # fmt: skip

    async def publish(self, rows: Sequence[Task]) -> None:
        """After a commit: wake the worker if a task is queued, and tell Slack what changed."""
        await self.publish_changes([self.change(row) for row in rows])

    async def publish_changes(self, changes: Sequence[TaskChange]) -> None:
        """`publish` for changes made without loading the tasks (the connect flush)."""
        if self._wake is not None and any(c.state is TaskState.QUEUED for c in changes):
            self._wake()
        await announce(self._notifier, changes)
