"""The task outbox: the `tasks` table as the worker's queue, and every query on tasks.

A task is claimed with a lease: one atomic UPDATE moves due `queued`/`retrying` rows to
`in_flight`, stamping them with the claim's lease token (the fencing token). On PostgreSQL the
rows are picked with `FOR UPDATE SKIP LOCKED`, so several workers never wait on, or take, each
other's rows; on SQLite the database's single writer makes the same statement atomic. The
claimer renews the leases of everything it holds from the claim on (`renew_leases`), and every
later write by the worker is guarded by its lease token, so a worker whose lease was taken over
can no longer change the task.

A create is sent only after `begin_send` says, in one statement, that the lease is still held
and unexpired; the same statement records the attempt (`first_sent_at`, `send_deadline`) and
stretches the lease over the request's whole deadline. So a lease never expires while a request
of its holder may still land, and an expired lease is rescued to `retrying` due no earlier than
`send_deadline`: the next attempt looks the task up by its marker only when the earlier request
can no longer create it.

Tasks not held by a worker change state with `move`, guarded by state in the UPDATE itself.
What a change writes besides the state is a `TaskUpdate`; which column holds a task's reason
is decided once, by `reason_column`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.attributes import set_committed_value

from primitives.enums import ProviderName, TaskState
from providers.base import CreatedTask
from routing.decide import RoutingDecision
from routing.states import check_transition, sources_of
from storage.models import Meeting, Task
from storage.types import UTCDateTime

S = TaskState
DUE_STATES = (S.QUEUED, S.RETRYING)
# A task in one of these states is explained by what went wrong (`last_error`: "waiting for
# you to connect ClickUp", "ClickUp had a problem; retrying"); in every other state by where
# it goes and why (`route_reason`).
ERROR_STATES = frozenset({S.PENDING_AUTH, S.IN_FLIGHT, S.RETRYING, S.FAILED})
ENDINGS = frozenset({S.CREATED, S.FAILED, S.DISMISSED})
UNSENT_STATES = (S.QUEUED, S.RETRYING)  # waiting for the worker, not yet created


def reason_column(state: TaskState) -> InstrumentedAttribute[str | None]:
    """The column that holds the reason of a task in `state`."""
    return Task.last_error if state in ERROR_STATES else Task.route_reason


def shown_reason(task: Task) -> str | None:
    """The reason a person sees for a task as it is now."""
    if task.state in ERROR_STATES:
        return task.last_error or task.route_reason
    return task.route_reason


@dataclass(frozen=True)
class Route:
    """Where a task goes: the tool, and the list or database once known."""

    provider: ProviderName | None
    destination_id: str | None = None
    destination_name: str | None = None

    @classmethod
    def of(cls, decision: RoutingDecision) -> Route:
        destination = decision.destination
        return cls(
            decision.provider,
            destination.id if destination else None,
            destination.display_name if destination else None,
        )


@dataclass(frozen=True)
class TaskUpdate:
    """What a change of state writes besides the state; a field left None changes nothing.

    `reason` goes to the column the new state keeps its reason in (`reason_column`); a state
    explained by its route also clears the last error. `unsent` says nothing reached the
    provider, so the next attempt need not look the task up first.
    """

    reason: str | None = None
    route: Route | None = None
    created: CreatedTask | None = None
    attempts: int | None = None
    next_attempt_at: datetime | None = None
    unsent: bool = False

    @classmethod
    def of(cls, decision: RoutingDecision) -> TaskUpdate:
        return cls(reason=decision.reason, route=Route.of(decision))

    def values(self, target: TaskState, now: datetime) -> dict[str, Any]:
        """The columns to write when a task moves to `target` at `now`."""
        values: dict[str, Any] = {"state": target, "updated_at": now}
        column = reason_column(target)
        if self.reason is not None:
            values[column.key] = self.reason
        if column is Task.route_reason:
            values[Task.last_error.key] = None
        if self.route is not None:
            values["provider"] = self.route.provider
            values["destination_id"] = self.route.destination_id
            values["destination_name"] = self.route.destination_name
        if self.created is not None:
            values["provider_task_id"] = self.created.task_id
            values["provider_task_url"] = self.created.url
        if self.attempts is not None:
            values["attempts"] = self.attempts
        if target in DUE_STATES:
            values["next_attempt_at"] = self.next_attempt_at or now
        values["finished_at"] = now if target in ENDINGS else None
        if self.unsent:
            values["first_sent_at"] = None
            values["send_deadline"] = None
        return values


# --- the worker's side: claim, lease, finish ------------------------------------------------


def _at(moment: datetime) -> Any:
    """`moment` as a bound value of our UTC column type, for use inside expressions."""
    return literal(moment, UTCDateTime())


class LeaseLost(Exception):
    """The worker no longer holds the task's lease: it must not send or write anything."""


async def claim_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    lease_token: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    paused: Collection[ProviderName] = (),
) -> list[Task]:
    """Claim up to `limit` due tasks for `lease_token`; they come back `in_flight`.

    Claiming is not an attempt: `attempts` counts what the provider refused (`routing.retry`).
    Tasks bound for a `paused` provider (an outage, `routing.circuit`) are left in line.
    """
    due_now = [Task.state.in_(DUE_STATES), Task.next_attempt_at <= now]
    if paused:
        due_now.append(or_(Task.provider.is_(None), Task.provider.not_in(list(paused))))
    due = (
        select(Task.id)
        .where(*due_now)
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
                state=S.IN_FLIGHT,
                lease_owner=lease_token,
                lease_expires_at=now + lease,
                updated_at=now,
            )
            .returning(Task)
            .execution_options(synchronize_session=False)
        )
        return list(result.scalars().all())


async def rescue_expired(sessions: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """Put tasks whose worker vanished (lease expired) back in line as `retrying`; how many.

    A rescue costs no attempt. A task whose request may still land is due only at its
    `send_deadline`, so its lookup by marker never races the earlier request.
    """
    return len(await rescue_expired_tasks(sessions, now=now))


async def rescue_expired_tasks(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime
) -> list[Task]:
    """`rescue_expired`, returning the rescued tasks (the worker looks those that were sent
    up together, `routing.dispatch_cache.Lookups`)."""
    values = TaskUpdate(reason="the worker handling it stopped; trying again").values(
        S.RETRYING, now
    )
    values["next_attempt_at"] = case(
        (Task.send_deadline > now, Task.send_deadline), else_=_at(values["next_attempt_at"])
    )
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Task)
            .where(Task.state == S.IN_FLIGHT, Task.lease_expires_at < now)
            .values(lease_owner=None, lease_expires_at=None, **values)
            .returning(Task)
            .execution_options(synchronize_session=False)
        )
        return list(result.scalars().all())


async def next_wake(
    sessions: async_sessionmaker[AsyncSession], *, paused: Collection[ProviderName] = ()
) -> datetime | None:
    """The earliest moment a task becomes due or a lease can be rescued, None when none;
    tasks bound for a `paused` provider are not counted (see `claim_due`)."""
    waiting: list[ColumnElement[bool]] = [Task.state.in_(DUE_STATES)]
    if paused:
        waiting.append(or_(Task.provider.is_(None), Task.provider.not_in(list(paused))))
    async with sessions() as session:
        due = await session.scalar(select(func.min(Task.next_attempt_at)).where(*waiting))
        expiry = await session.scalar(
            select(func.min(Task.lease_expires_at)).where(Task.state == S.IN_FLIGHT)
        )
    moments = [m for m in (due, expiry) if m is not None]
    return min(moments) if moments else None


async def _write_leased(
    sessions: async_sessionmaker[AsyncSession],
    task_id: str,
    lease_token: str,
    values: dict[str, Any],
) -> bool:
    """Write to a task we hold (still `in_flight`, same lease); False if we lost it."""
    async with sessions() as session, session.begin():
        return await write_leased(session, task_id, lease_token, values)


async def write_leased(
    session: AsyncSession, task_id: str, lease_token: str, values: dict[str, Any]
) -> bool:
    """`_write_leased` inside the caller's transaction (`routing.writes` groups them)."""
    result = await session.execute(
        update(Task)
        .where(Task.id == task_id, Task.lease_owner == lease_token, Task.state == S.IN_FLIGHT)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def finish_values(target: TaskState, change: TaskUpdate, now: datetime) -> dict[str, Any]:
    """What `finish_leased` writes: the move out of `in_flight`, the lease released."""
    check_transition(S.IN_FLIGHT, target)
    return {"lease_owner": None, "lease_expires_at": None, **change.values(target, now)}


async def renew_leases(
    sessions: async_sessionmaker[AsyncSession],
    *,
    lease_token: str | Collection[str],
    now: datetime,
    lease: timedelta,
) -> int:
    """Extend every unexpired lease of one claim (or of several: a collection of tokens) to
    `now + lease` (never shortening one that `begin_send` stretched); returns how many are
    still held."""
    tokens = [lease_token] if isinstance(lease_token, str) else list(lease_token)
    if not tokens:
        return 0
    until = now + lease
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Task)
            .where(
                Task.lease_owner.in_(tokens),
                Task.state == S.IN_FLIGHT,
                Task.lease_expires_at > now,
            )
            .values(
                lease_expires_at=case(
                    (Task.lease_expires_at > until, Task.lease_expires_at), else_=_at(until)
                )
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))


async def begin_send(
    sessions: async_sessionmaker[AsyncSession],
    task_id: str,
    *,
    lease_token: str,
    now: datetime,
    landed_by: datetime,
) -> bool:
    """The fence before a request that may create the task, in one statement.

    Only while our lease is held and unexpired at `now`: record the attempt (`first_sent_at`
    = `now`, `send_deadline` = `landed_by`, the moment the request can no longer create
    anything) and stretch the lease to cover it. False: the lease is lost, send nothing.

    `first_sent_at` starts afresh with every send: a task is sent again only after nothing was
    sent before or a lookup found nothing of the earlier requests (`routing.dispatch`), so only
    this request's window can hold its creation, and a lookup searches no more than that.
    """
    async with sessions() as session, session.begin():
        passed = await begin_sends(session, [(task_id, lease_token)], now=now, landed_by=landed_by)
    return (task_id, lease_token) in passed


async def begin_sends(
    session: AsyncSession,
    leases: Iterable[tuple[str, str]],
    *,
    now: datetime,
    landed_by: datetime,
) -> set[tuple[str, str]]:
    """`begin_send` for several tasks about to be sent together, in one statement inside the
    caller's transaction: `leases` are (task id, the lease token it is sent under). Returns
    the pairs that passed; the others must not be sent. A pair passes only under the token
    the task holds, so two attempts at one task under different claims never both pass."""
    pairs = sorted(set(leases))
    if not pairs:
        return set()
    result = await session.execute(_FENCE, {"pairs": pairs, "now": now, "landed_by": landed_by})
    return {(task_id, str(token)) for task_id, token in result.all()}


# Built once: the worker's hottest statements are not rebuilt (nor their cache keys
# recomputed) for every group. Core, not ORM: nothing is loaded into a session.
_TASKS: Table = Task.__table__  # type: ignore[assignment]
_FENCE = (
    update(_TASKS)
    .where(
        tuple_(_TASKS.c.id, _TASKS.c.lease_owner).in_(bindparam("pairs", expanding=True)),
        _TASKS.c.state == S.IN_FLIGHT,
        _TASKS.c.lease_expires_at > bindparam("now", type_=UTCDateTime()),
    )
    .values(
        first_sent_at=bindparam("now", type_=UTCDateTime()),
        send_deadline=bindparam("landed_by", type_=UTCDateTime()),
        lease_expires_at=case(
            (
                _TASKS.c.lease_expires_at > bindparam("landed_by", type_=UTCDateTime()),
                _TASKS.c.lease_expires_at,
            ),
            else_=bindparam("landed_by", type_=UTCDateTime()),
        ),
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
    .returning(_TASKS.c.id, _TASKS.c.lease_owner)
)


async def write_many_leased(
    session: AsyncSession, writes: Sequence[tuple[str, str, dict[str, Any]]]
) -> set[str]:
    """`write_leased` for several tasks at once, inside the caller's transaction: `writes` are
    (task id, lease token, values). One guarded UPDATE … RETURNING for all the writes that
    set the same columns (a column whose value differs between tasks is a CASE on the id);
    returns the ids written, the tasks still held under their token and `in_flight`."""
    by_columns: dict[tuple[str, ...], list[tuple[str, str, dict[str, Any]]]] = {}
    for write in sorted(writes, key=lambda w: w[0]):  # task id order, as every worker does
        by_columns.setdefault(tuple(sorted(write[2])), []).append(write)
    written: set[str] = set()
    for columns, group in by_columns.items():
        varying = tuple(c for c in columns if any(w[2][c] != group[0][2][c] for w in group[1:]))
        statement = _write_statement(len(group), columns, varying)
        params: dict[str, Any] = {"pairs": [(w[0], w[1]) for w in group]}
        for column in columns:
            if column in varying:
                for i, (task_id, _, values) in enumerate(group):
                    params[f"i_{i}"] = task_id
                    params[f"v_{column}_{i}"] = values[column]
            else:
                params[f"v_{column}"] = group[0][2][column]
        result = await session.execute(statement, params)
        written.update(result.scalars().all())
    return written


_WRITES: dict[tuple[int, tuple[str, ...], tuple[str, ...]], Any] = {}


def _write_statement(rows: int, columns: tuple[str, ...], varying: tuple[str, ...]) -> Any:
    """The statement of `write_many_leased` for a group's shape, built once per shape."""
    shape = (rows, columns, varying)
    statement = _WRITES.get(shape)
    if statement is not None:
        return statement
    ids = [bindparam(f"i_{i}", type_=_TASKS.c.id.type) for i in range(rows)]
    values: dict[str, Any] = {}
    for key in columns:
        column = Task.__mapper__.attrs[key].columns[0]
        if key in varying:
            values[column.name] = case(
                *((_TASKS.c.id == ids[i], bindparam(f"v_{key}_{i}", type_=column.type))
                  for i in range(rows)),
                else_=column,
            )  # fmt: skip
        else:
            values[column.name] = bindparam(f"v_{key}", type_=column.type)
    statement = (
        update(_TASKS)
        .where(
            tuple_(_TASKS.c.id, _TASKS.c.lease_owner).in_(bindparam("pairs", expanding=True)),
            _TASKS.c.state == S.IN_FLIGHT,
        )
        .values(values)
        .returning(_TASKS.c.id)
    )
    if len(_WRITES) < 512:  # shapes: group sizes x sets of columns, a few hundred at most
        _WRITES[shape] = statement
    return statement


async def record_route(
    sessions: async_sessionmaker[AsyncSession],
    task_id: str,
    route: Route,
    reason: str,
    *,
    lease_token: str,
    now: datetime,
) -> bool:
    """Store the route the worker decided for a task intake could not route."""
    values = {
        "provider": route.provider,
        "destination_id": route.destination_id,
        "destination_name": route.destination_name,
        "route_reason": reason,
        "updated_at": now,
    }
    return await _write_leased(sessions, task_id, lease_token, values)


async def finish_leased(
    sessions: async_sessionmaker[AsyncSession],
    task_id: str,
    target: TaskState,
    change: TaskUpdate,
    *,
    lease_token: str,
    now: datetime,
) -> bool:
    """Move a task we hold out of `in_flight` and release the lease."""
    return await _write_leased(sessions, task_id, lease_token, finish_values(target, change, now))


# --- everyone else: guarded moves and queries -----------------------------------------------


async def move(
    session: AsyncSession,
    task_ids: Iterable[str],
    target: TaskState,
    change: TaskUpdate | None = None,
    *,
    now: datetime,
    only_from: Iterable[TaskState] | None = None,
) -> list[str]:
    """Move tasks not held by a worker to `target`, from whichever states may reach it.

    Guarded by state in the UPDATE itself, so two people (or two processes) acting at once
    move each task once. Returns the ids that moved.
    """
    ids = list(task_ids)
    if not ids:
        return []
    sources = set(sources_of(target)) - {S.IN_FLIGHT}
    if only_from is not None:
        sources &= set(only_from)
    result = await session.execute(
        update(Task)
        .where(Task.id.in_(ids), Task.state.in_(sources))
        .values(**(change or TaskUpdate()).values(target, now))
        .returning(Task.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars().all())


async def move_task(
    session: AsyncSession,
    row: Task,
    target: TaskState,
    change: TaskUpdate | None = None,
    *,
    now: datetime,
    only_from: Iterable[TaskState] | None = None,
) -> bool:
    """`move` for one loaded task, which shows its new values when it moved."""
    change = change or TaskUpdate()
    if not await move(session, [row.id], target, change, now=now, only_from=only_from):
        return False
    for key, value in change.values(target, now).items():
        set_committed_value(row, key, value)  # written already: nothing left to flush
    return True


async def send_back_to_waiting(
    session: AsyncSession,
    *,
    team_id: str,
    user_id: str,
    provider: ProviderName,
    reason: str,
    now: datetime,
) -> list[str]:
    """An owner's unsent tasks for `provider` wait for a (re)connection again: their
    connection was removed or stopped working. Returns the ids that moved."""
    unsent = await session.scalars(
        select(Task.id).where(
            Task.team_id == team_id,
            Task.owner_user_id == user_id,
            Task.provider == provider,
            Task.state.in_(UNSENT_STATES),
        )
    )
    return await move(
        session, unsent.all(), S.PENDING_AUTH, TaskUpdate(reason=reason), now=now
    )  # fmt: skip


async def owner_tasks(
    session: AsyncSession, *, team_id: str, user_id: str, state: TaskState
) -> list[Task]:
    """An owner's tasks in one state, oldest first."""
    rows = await session.scalars(
        select(Task)
        .where(Task.team_id == team_id, Task.owner_user_id == user_id, Task.state == state)
        .order_by(Task.created_at, Task.id)
    )
    return list(rows.all())


async def count_owner_tasks(
    session: AsyncSession, *, team_id: str, user_id: str, state: TaskState
) -> int:
    count = await session.scalar(
        select(func.count()).where(
            Task.team_id == team_id, Task.owner_user_id == user_id, Task.state == state
        )
    )
    return int(count or 0)


async def owner_tasks_in(
    session: AsyncSession,
    *,
    team_id: str,
    user_id: str,
    states: Collection[TaskState],
    limit: int,
    newest_first: bool = False,
) -> list[Task]:
    """Up to `limit` of an owner's tasks in any of `states`: oldest first (as they wait), or
    the most recently changed first."""
    order = (
        (Task.updated_at.desc(), Task.id.desc())
        if newest_first
        else (Task.created_at.asc(), Task.id.asc())
    )
    rows = await session.scalars(
        select(Task)
        .where(
            Task.team_id == team_id,
            Task.owner_user_id == user_id,
            Task.state.in_(list(states)),
        )
        .order_by(*order)
        .limit(max(limit, 0))
    )
    return list(rows.all())


async def count_owner_tasks_in(
    session: AsyncSession, *, team_id: str, user_id: str, states: Collection[TaskState]
) -> int:
    count = await session.scalar(
        select(func.count()).where(
            Task.team_id == team_id,
            Task.owner_user_id == user_id,
            Task.state.in_(list(states)),
        )
    )
    return int(count or 0)


async def count_by_state(session: AsyncSession) -> dict[TaskState, int]:
    """How many tasks are in each state (every state present, zero when none)."""
    rows = (await session.execute(select(Task.state, func.count()).group_by(Task.state))).all()
    counts = dict.fromkeys(TaskState, 0)
    for state, count in rows:
        counts[TaskState(state)] = int(count)
    return counts


async def find_meeting(session: AsyncSession, *, team_id: str, external_id: str) -> Meeting | None:
    return await session.scalar(
        select(Meeting).where(Meeting.team_id == team_id, Meeting.external_id == external_id)
    )


async def meeting_tasks(session: AsyncSession, meeting_id: str) -> Sequence[Task]:
    rows = await session.scalars(
        select(Task).where(Task.meeting_id == meeting_id).order_by(Task.created_at, Task.id)
    )
    return rows.all()


async def meeting_title(session: AsyncSession, meeting_id: str) -> str | None:
    return await session.scalar(select(Meeting.title).where(Meeting.id == meeting_id))


async def task_by_idempotency_key(session: AsyncSession, *, team_id: str, key: str) -> Task | None:
    return await session.scalar(
        select(Task).where(Task.team_id == team_id, Task.idempotency_key == key)
    )
