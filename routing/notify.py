"""What the routing layer tells the outside world (Slack) when tasks change.

The worker collects the changes of one pass and hands them over grouped by meeting, so one
Slack message update covers many tasks. The Slack app implements `Notifier`; tests record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from providers.base import ProviderName
from routing.states import TaskState


@dataclass(frozen=True)
class TaskChange:
    """A task's new state, with what a person needs to see about it."""

    task_id: str
    team_id: str
    meeting_id: str | None
    owner_user_id: str
    title: str
    state: TaskState
    provider: ProviderName | None
    url: str | None
    reason: str | None


class Notifier(Protocol):
    async def tasks_changed(
        self, team_id: str, meeting_id: str | None, changes: Sequence[TaskChange]
    ) -> None:
        """Tasks of one meeting (or standalone tasks, `meeting_id` None) changed state."""
        ...

    async def reconnect_needed(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        """A person's connection stopped working; their tasks wait until they reconnect."""
        ...
