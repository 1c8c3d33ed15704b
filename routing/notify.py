"""What the routing layer tells the outside world (Slack) when tasks change.

Changes are handed over grouped by meeting (`announce`), so one Slack message update covers
many tasks. The Slack app implements `Notifier`; tests record. Slack being down never undoes
or repeats work already stored: a failed notification is logged, not raised.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from primitives.enums import ProviderName, RemoteStatus, TaskState

log = logging.getLogger(__name__)


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
    # Where a created task is in its tool, once the tool said (`routing.remote_status`).
    remote_status: RemoteStatus | None = None


class Notifier(Protocol):
    async def tasks_changed(
        self, team_id: str, meeting_id: str | None, changes: Sequence[TaskChange]
    ) -> None:
        """Tasks of one meeting (or standalone tasks, `meeting_id` None) changed state."""
        ...

    async def reconnect_needed(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        """A person's connection stopped working; their tasks wait until they reconnect."""
        ...

    async def connection_changed(
        self, team_id: str, user_id: str, provider: ProviderName, account_name: str | None,
        *, replaced: bool,
    ) -> None:  # fmt: skip
        """A person's tool was connected (`replaced`: instead of an earlier connection). The
        Slack app tells them in a direct message with a "Not you? Disconnect" button."""
        ...

    async def tasks_flushed(self, team_id: str, user_id: str, task_ids: Sequence[str]) -> None:
        """A person's tasks that waited for a connection (`task_ids`) were routed and queued
        after they connected. The Slack app tells them once the worker has sent them: "5
        waiting tasks were created in ClickUp"."""
        ...

    async def review_reminder(
        self, team_id: str, meeting_id: str, user_id: str, waiting: int
    ) -> None:
        """`waiting` items of a meeting still wait for their owner's review, left alone for
        the configured time (`routing.review`): remind them, once."""
        ...


async def announce(notifier: Notifier, changes: Sequence[TaskChange]) -> None:
    """Tell `notifier` about `changes`, one call per meeting (standalone tasks together)."""
    by_meeting: dict[tuple[str, str | None], list[TaskChange]] = defaultdict(list)
    for change in changes:
        by_meeting[(change.team_id, change.meeting_id)].append(change)
    for (team_id, meeting_id), grouped in by_meeting.items():
        try:
            await notifier.tasks_changed(team_id, meeting_id, grouped)
        except Exception:
            log.exception("could not tell Slack about %d task change(s)", len(grouped))


class LogNotifier:
    """Writes task changes to the log; used where no Slack workspace is configured."""

    def __init__(self) -> None:
        self._log = logging.getLogger("scrumy.tasks")

    async def tasks_changed(
        self, team_id: str, meeting_id: str | None, changes: Sequence[TaskChange]
    ) -> None:
        for change in changes:
            self._log.info(
                "task %s (%s) is %s%s", change.task_id, change.owner_user_id, change.state.value,
                f": {change.url}" if change.url else "",
            )  # fmt: skip

    async def reconnect_needed(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        self._log.warning("%s must reconnect %s", user_id, provider.label)

    async def connection_changed(
        self, team_id: str, user_id: str, provider: ProviderName, account_name: str | None,
        *, replaced: bool,
    ) -> None:  # fmt: skip
        self._log.warning(
            "%s %s %s (%s) in %s; if it was not them, they disconnect with /tasks disconnect %s",
            user_id, "replaced their connection to" if replaced else "connected",
            provider.label, account_name or "unnamed account", team_id, provider.value,
        )  # fmt: skip

    async def tasks_flushed(self, team_id: str, user_id: str, task_ids: Sequence[str]) -> None:
        self._log.info("%d waiting task(s) of %s were queued", len(task_ids), user_id)

    async def review_reminder(
        self, team_id: str, meeting_id: str, user_id: str, waiting: int
    ) -> None:
        self._log.info(
            "%d item(s) of meeting %s wait for %s's review", waiting, meeting_id, user_id
        )
