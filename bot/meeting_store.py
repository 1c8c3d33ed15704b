"""The meeting message's side of the database: what it shows, and where it is in Slack.

    read_meeting(sessions, meeting_id) -> MeetingState | None   the meeting and its tasks, now
    claim_post(...)      who posts the message: one process, by a conditional UPDATE
    record_posted(...), record_replies(...), record_failure(...)

The message is always rendered from the state read here (never from the changes a notifier
was told about), so whoever renders last shows the truth. `meetings.message_ts` is empty until
a process claims the post by writing `MESSAGE_CLAIM` and the time into it where it is still
empty: of any number of processes, one succeeds. A claim older than `CLAIM_LIFETIME` is taken to
belong to a process that stopped, and may be taken over the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.views.task_lines import TaskDetails
from routing.outbox import shown_reason
from routing.results import MeetingResult, TaskResult
from storage.models import MESSAGE_CLAIM, Meeting, ReviewMessage, Task

CLAIM_LIFETIME = timedelta(minutes=2)


@dataclass(frozen=True)
class MeetingState:
    """A meeting as its message shows it, and where that message is."""

    id: str
    team_id: str
    external_id: str
    title: str
    summary: str | None
    channel_id: str | None
    message_channel_id: str | None
    message_ts: str | None  # empty, a claim, or the posted message's ts
    reply_ts: tuple[str, ...]
    message_error: str | None
    updated_at: datetime
    items: tuple[TaskResult, ...]
    details: Mapping[str, TaskDetails]

    @property
    def posted(self) -> bool:
        return is_posted(self.message_ts)

    def result(self) -> MeetingResult:
        return MeetingResult(self.external_id, self.items, created=False)


def task_result(row: Task) -> TaskResult:
    """A task as the meeting message shows it (connect links are made when a button is
    clicked, so none are needed here)."""
    return TaskResult(
        item_id=row.item_id, task_id=row.id, status=row.state, provider=row.provider,
        url=row.provider_task_url, reason=shown_reason(row), owner_user_id=row.owner_user_id,
        title=row.title, remote_status=row.remote_status,
    )  # fmt: skip


def task_details(row: Task) -> TaskDetails:
    return TaskDetails(
        due=row.due_at or row.due_date, priority=row.priority, assignee_name=row.assignee_name
    )


async def read_meeting(
    sessions: async_sessionmaker[AsyncSession], meeting_id: str
) -> MeetingState | None:
    """The meeting and its tasks in the meeting's order, as stored now."""
    async with sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            return None
        rows = (
            await session.scalars(
                select(Task)
                .where(Task.meeting_id == meeting_id)
                .order_by(Task.position, Task.created_at, Task.id)
            )
        ).all()
    return MeetingState(
        id=meeting.id, team_id=meeting.team_id, external_id=meeting.external_id,
        title=meeting.title, summary=meeting.summary, channel_id=meeting.channel_id,
        message_channel_id=meeting.message_channel_id, message_ts=meeting.message_ts,
        reply_ts=tuple(meeting.message_reply_ts or ()), message_error=meeting.message_error,
        updated_at=meeting.updated_at,
        items=tuple(task_result(row) for row in rows),
        details={row.id: task_details(row) for row in rows},
    )  # fmt: skip


def claim_of(now: datetime) -> str:
    return f"{MESSAGE_CLAIM}{int(now.timestamp())}"


def is_posted(message_ts: str | None) -> bool:
    """A `message_ts` column holds a posted message's ts (not empty, not a claim)."""
    return message_ts is not None and not message_ts.startswith(MESSAGE_CLAIM)


def claimed_at(message_ts: str | None) -> float | None:
    """When the post was claimed (unix seconds), if it is claimed and not yet posted."""
    if message_ts is None or not message_ts.startswith(MESSAGE_CLAIM):
        return None
    try:
        return float(message_ts.removeprefix(MESSAGE_CLAIM))
    except ValueError:
        return 0.0  # unreadable: as old as can be


async def claim_message(
    sessions: async_sessionmaker[AsyncSession],
    table: type[Meeting] | type[ReviewMessage],
    row_id: str,
    message_ts: str | None,
    *,
    now: datetime,
) -> str | None:
    """Claim the post of a row's message (a meeting's, a review's): the claim when this process
    is to post it, None when the message is posted or another process's claim is still fresh.

    The claim is a conditional UPDATE on the `message_ts` that was read (empty, or a stale
    claim), so of two processes claiming at once only one changes the row.
    """
    if is_posted(message_ts):
        return None
    claimed = claimed_at(message_ts)
    if claimed is not None and now.timestamp() - claimed < CLAIM_LIFETIME.total_seconds():
        return None
    claim = claim_of(now)
    current = table.message_ts.is_(None) if message_ts is None else table.message_ts == message_ts
    async with sessions() as session, session.begin():
        done = await session.execute(
            update(table)
            .where(table.id == row_id, current)
            .values(message_ts=claim, updated_at=now)
        )
    return claim if _rowcount(done) == 1 else None


async def claim_post(
    sessions: async_sessionmaker[AsyncSession], state: MeetingState, *, now: datetime
) -> str | None:
    """Claim the post of the meeting's message (`claim_message`)."""
    return await claim_message(sessions, Meeting, state.id, state.message_ts, now=now)


async def record_posted(
    sessions: async_sessionmaker[AsyncSession],
    meeting_id: str,
    claim: str,
    *,
    channel_id: str,
    ts: str,
    now: datetime,
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id, Meeting.message_ts == claim)
            .values(
                message_ts=ts,
                message_channel_id=channel_id,
                message_reply_ts=[],
                message_error=None,
                updated_at=now,
            )
        )


async def record_replies(
    sessions: async_sessionmaker[AsyncSession],
    meeting_id: str,
    replies: list[str],
    *,
    now: datetime,
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(message_reply_ts=replies, updated_at=now)
        )


async def record_failure(
    sessions: async_sessionmaker[AsyncSession],
    meeting_id: str,
    error: str,
    *,
    claim: str | None,
    now: datetime,
) -> None:
    """The message could not be posted (`error`, Slack's code): the claim is let go, so a
    later change tries again (once the app was invited to the channel, say)."""
    condition = Meeting.message_ts.is_(None) if claim is None else Meeting.message_ts == claim
    async with sessions() as session, session.begin():
        await session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id, condition)
            .values(message_ts=None, message_error=error[:255], updated_at=now)
        )


async def record_error(
    sessions: async_sessionmaker[AsyncSession], meeting_id: str, error: str, *, now: datetime
) -> None:
    """The posted message can no longer be updated (`error`)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(message_error=error[:255], updated_at=now)
        )


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
