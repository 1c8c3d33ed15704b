"""The task outbox: the `tasks` table as the worker's queue.

A task is claimed with a lease: one atomic UPDATE moves due `queued`/`retrying` rows to
`in_flight`, stamping them with the claimer's lease token. On PostgreSQL the rows are picked
with `FOR UPDATE SKIP LOCKED`, so several workers never wait on, or take, each other's rows;
on SQLite the database's single writer makes the same statement atomic. Every later write by
the worker is guarded by its lease token, so a worker whose lease was taken over can no longer
change the task. Expired leases are rescued to `retrying` (and, since `first_sent_at` may be
set, the next attempt first looks the task up at the provider by its marker).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import TaskState
from routing.states import check_transition, sources_of
from storage.models import Task

DUE_STATES = (TaskState.QUEUED.value, TaskState.RETRYING.value)


async def claim_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    lease_token: str,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[Task]:
    """Claim up to `limit` due tasks for `lease_token`; they come back `in_flight`."""
    due = (
        select(Task.id)
        .where(Task.state.in_(DUE_STATES), Task.next_attempt_at <= now)
        .order_by(Task.next_attempt_at, Task.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Task)
            .where(Task.id.in_(due), Task.state.in_(DUE_STATES))
            .values(
                state=TaskState.IN_FLIGHT.value,
                lease_owner=lease_token,
                lease_expires_at=now + lease,
                attempts=Task.attempts + 1,
                updated_at=now,
            )
            .returning(Task)
            .execution_options(synchronize_session=False)
        )
        return list(result.scalars().all())


async def renew_lease(
    sessions: async_sessionmaker[AsyncSession],
    task_id: str,
    *,
    lease_token: str,
    now: datetime,
    lease: timedelta,
) -> bool:
    """Extend a lease we still hold; False when it was lost (expired and taken over)."""
    return await update_leased(
        sessions, task_id, lease_token=lease_token, now=now, lease_expires_at=now + lease
    )


async def rescue_expired(sessions: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """Put tasks whose worker vanished (lease expired) back in line as `retrying`."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Task)
            .where(Task.state == TaskState.IN_FLIGHT.value, Task.lease_expires_at < now)
            .values(
                state=TaskState.RETRYING.value,
                lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=now,
                last_error="the worker handling it stopped; trying again",
                updated_at=now,
            )
        )
        return int(getattr(result, "rowcount", 0))


async def update_leased(
    sessions: async_sessionmaker[AsyncSession],
    task_id: str,
    *,
    lease_token: str,
    now: datetime,
    **values: Any,
) -> bool:
    """Write fields of a task we hold (still `in_flight`, same lease); False if we lost it."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Task)
            .where(
                Task.id == task_id,
                Task.lease_owner == lease_token,
                Task.state == TaskState.IN_FLIGHT.value,
            )
            .values(updated_at=now, **values)
        )
        return getattr(result, "rowcount", 0) == 1


async def finish_leased(
    sessions: async_sessionmaker[AsyncSession],
    task_id: str,
    target: TaskState,
    *,
    lease_token: str,
    now: datetime,
    **values: Any,
) -> bool:
    """Move a task we hold out of `in_flight` and release the lease."""
    check_transition(TaskState.IN_FLIGHT, target)
    if target in (TaskState.CREATED, TaskState.FAILED):
        values.setdefault("finished_at", now)
    return await update_leased(
        sessions,
        task_id,
        lease_token=lease_token,
        now=now,
        state=target.value,
        lease_owner=None,
        lease_expires_at=None,
        **values,
    )


async def move(
    session: AsyncSession,
    task_ids: Iterable[str],
    target: TaskState,
    *,
    now: datetime,
    only_from: Iterable[TaskState] | None = None,
    **values: Any,
) -> list[str]:
    """Move tasks not held by a worker to `target`, from whichever states may reach it.

    Guarded by state in the UPDATE itself, so two people (or two processes) acting at once
    move each task once. Returns the ids that moved.
    """
    ids = list(task_ids)
    if not ids:
        return []
    sources = set(sources_of(target)) - {TaskState.IN_FLIGHT}
    if only_from is not None:
        sources &= set(only_from)
    if target in (TaskState.QUEUED, TaskState.RETRYING):
        values.setdefault("next_attempt_at", now)
    if target in (TaskState.FAILED, TaskState.DISMISSED):
        values.setdefault("finished_at", now)
    result = await session.execute(
        update(Task)
        .where(Task.id.in_(ids), Task.state.in_([s.value for s in sources]))
        .values(state=target.value, updated_at=now, **values)
        .returning(Task.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars().all())
