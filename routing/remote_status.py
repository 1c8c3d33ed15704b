"""Status flowing back from the tools: a created task done, closed or deleted there.

    statuses = RemoteStatuses(sessions=…, notifier=…, clock=…)
    changed = await statuses.apply(
        ProviderName.CLICKUP, "86abc", RemoteStatus.DONE, observed_at=when_the_tool_saw_it
    )

The one way a tool's news about a task reaches us, whatever brought it (ClickUp's webhooks,
Notion's webhooks, polling). `apply`:

- touches only tasks in `created` with that tool and that id at the tool (`team_id` narrows it
  to one Slack workspace, as a webhook registered for one connection should);
- is idempotent and ordered by the tool's own time: it writes only when `observed_at` is later
  than the observation stored (`tasks.remote_status_at`), by a conditional UPDATE, so a
  duplicate, a replay or an older delivery arriving late changes nothing — even from several
  processes at once. Newer news of the same status only moves the time on (so that an older
  change arriving after it cannot win), and counts as no change;
- after committing, tells the notifier (`routing.notify.announce`), the same path the worker
  uses: the meeting's message is re-rendered in place from the database, and its line says
  "✓ done in ClickUp"; a standalone task's owner gets no new direct message;
- returns whether any task's status changed.

Map a tool's statuses by kind, never by name (`primitives.enums.RemoteStatus`). `observed_at`
must be the tool's time of the change (ClickUp's `history_items[].date`, Notion's event
`timestamp`), or for polling the tool's `last_edited_time`, never our time of receipt.

Deliveries are de-duplicated and kept until processed by `storage.webhook_inbox.WebhookInbox`,
shared by every tool's webhook endpoint: verify the signature, `record` the delivery, answer
200, then process it and mark it `processed`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, RemoteStatus, TaskState
from routing.notify import Notifier, announce
from routing.results import Results
from storage.models import Task

log = logging.getLogger(__name__)


class RemoteStatuses:
    """Records what the tools say about the tasks created there; see the module docstring."""

    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], notifier: Notifier, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._notifier = notifier
        self._clock = clock

    async def apply(
        self,
        provider: ProviderName,
        provider_task_id: str,
        status: RemoteStatus,
        observed_at: datetime,
        *,
        team_id: str | None = None,
    ) -> bool:
        """Record that the tool saw task `provider_task_id` in `status` at `observed_at`;
        whether its status changed (False for an unknown task, one not created, news older
        than, or as old as, what is stored, or the status it already has)."""
        if observed_at.tzinfo is None:
            raise ValueError("observed_at must be timezone-aware")
        where = [
            Task.provider == provider,
            Task.provider_task_id == provider_task_id,
            Task.state == TaskState.CREATED,
        ]
        if team_id is not None:
            where.append(Task.team_id == team_id)
        newer = or_(Task.remote_status_at.is_(None), Task.remote_status_at < observed_at)
        async with self._sessions() as session, session.begin():
            found = await session.execute(select(Task.id, Task.remote_status).where(*where, newer))
            before: dict[str, RemoteStatus | None] = {row[0]: row[1] for row in found.all()}
            if not before:
                return False
            await session.execute(
                update(Task)
                .where(Task.id.in_(before), newer)
                .values(
                    remote_status=status, remote_status_at=observed_at, updated_at=self._clock.now()
                )
                .execution_options(synchronize_session=False)
            )
            changed = [task_id for task_id, old in before.items() if old is not status]
            if not changed:
                return False
            rows = (await session.scalars(select(Task).where(Task.id.in_(changed)))).all()
        log.info(
            "%s says task %s is %s (%d task(s) of ours)", provider.label, provider_task_id,
            status.value, len(rows),
        )  # fmt: skip
        await announce(self._notifier, [Results.change(row) for row in rows])
        return True
