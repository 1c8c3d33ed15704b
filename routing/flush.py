"""The connect flush: once a person connected a tool, their tasks that waited for it
(`pending_auth`) are routed and queued — in a few set-based statements, after the person's page
has answered.

    connect ─(one transaction: the connection, flush_requested_at = now)─▶ read its catalog
       ─▶ the page answers
       └─▶ start: in the background ─▶ run: release: decide per group, move per group
                                             ─▶ clear flush_requested_at (if not renewed)
    sweep (every process running a worker, every 30 s): a request older than `grace` whose
    process died before or during its run is run again (its catalog read again first), by
    whichever process finds it.

The catalog is read before the page answers — a few calls to the tool, however many tasks
wait — so that a meeting posted right after connecting is routed at once, as before.

Deciding: a task's route depends on its owner (connections, preferences, catalogs: one
`OwnerContext`, read once) and, per task, on its routing mode and what `decide.route_key`
names (project name, urgency, a long description's length). Tasks with equal inputs are decided
once. Tasks with equal decisions (the same state, tool, destination and reason) move together:
one `UPDATE … WHERE id IN (…) AND state = 'pending_auth'` per 500 ids (SQLite's variable limit
is 32,766), each its own short transaction, so SQLite's writer lock is never held for long.
The state guard moves each task once however many flushes run at once, and makes a run that
died half-way safe to repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Integer

from primitives.clock import Clock
from primitives.enums import Priority, ProviderName, RoutingMode, TaskState
from providers.base import Provider, ProviderError
from routing.catalogs import CatalogCache
from routing.decide import LONG_DESCRIPTION, RoutableItem, RoutingDecision, route_key
from routing.notify import Notifier, TaskChange
from routing.outbox import Route, TaskUpdate, move
from routing.owner_context import Destinations, OwnerRouter, credentials_of
from routing.pacing import pause
from routing.results import Results
from storage.models import Task, UserAuthToken

log = logging.getLogger(__name__)

CHUNK = 500  # task ids per UPDATE, well within SQLite's 32,766 bound variables
GRACE = timedelta(seconds=60)  # a request this old was not finished by the process that made it
SWEEP_SECONDS = 30.0


class _ByteLength(FunctionElement[int]):
    """The length of a text in bytes: never less than in characters, so a text of at most
    `LONG_DESCRIPTION` bytes is short without being read."""

    type = Integer()
    inherit_cache = True


@compiles(_ByteLength)
def _octet_length(element: _ByteLength, compiler: Any, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(_ByteLength, "sqlite")  # SQLite before 3.43 has no octet_length
def _blob_length(element: _ByteLength, compiler: Any, **kw: Any) -> str:
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


@dataclass(frozen=True)
class _Waiting:
    """What the flush reads of one waiting task: enough to route it and to announce it."""

    id: str
    meeting_id: str | None
    title: str
    mode: RoutingMode | None
    item: RoutableItem


def _owner(team_id: str, user_id: str) -> list[ColumnElement[bool]]:
    return [UserAuthToken.team_id == team_id, UserAuthToken.user_id == user_id]


class ConnectFlush:
    """Routes and queues a person's waiting tasks after they connected; built once per process,
    it owns the flushes it started in the background (`settle` waits for them)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        providers: Mapping[ProviderName, Provider],
        catalogs: CatalogCache,
        router: OwnerRouter,
        results: Results,
        notifier: Notifier,
        grace: timedelta = GRACE,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._providers = providers
        self._catalogs = catalogs
        self._router = router
        self._results = results
        self._notifier = notifier
        self._grace = grace
        self._running: set[asyncio.Task[int]] = set()

    # --- when: at once in the background, or by a sweep -------------------------------------

    def start(self, team_id: str, user_id: str, *, catalogs_read: bool = False) -> None:
        """Run the person's flush in the background (its request is already stored)."""
        task = asyncio.create_task(self._run_logged(team_id, user_id, catalogs_read))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def settle(self) -> None:
        """Wait for the flushes started in the background to end (on shutdown, in tests)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def sweep(self) -> int:
        """Run every flush requested more than `grace` ago and not done (its process died, or
        its run failed); the number of tasks queued."""
        cutoff = self._clock.now() - self._grace
        async with self._sessions() as session:
            owners = (
                await session.execute(
                    select(UserAuthToken.team_id, UserAuthToken.user_id)
                    .where(UserAuthToken.flush_requested_at <= cutoff)
                    .distinct()
                )
            ).all()
        queued = 0
        for team_id, user_id in owners:
            queued += await self._run_logged(team_id, user_id)
        return queued

    async def keep_sweeping(self, stop: asyncio.Event, *, every: float = SWEEP_SECONDS) -> None:
        """`sweep` at start and every `every` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("could not look for unfinished connect flushes; trying again")
            await pause(self._clock, every, stop)

    async def _run_logged(self, team_id: str, user_id: str, catalogs_read: bool = False) -> int:
        try:
            return await self.run(team_id, user_id, catalogs_read=catalogs_read)
        except Exception:
            log.exception("the flush of %s's waiting tasks failed; a sweep runs it again", user_id)
            return 0

    # --- what: a catalog, the tasks, the request --------------------------------------------

    async def run(self, team_id: str, user_id: str, *, catalogs_read: bool = False) -> int:
        """Read the catalogs of the connections that asked for this flush (unless
        `catalogs_read`), release the person's waiting tasks, and mark the request done; the
        number of tasks queued."""
        async with self._sessions() as session:
            requests = (
                await session.execute(
                    select(UserAuthToken.provider, UserAuthToken.flush_requested_at).where(
                        *_owner(team_id, user_id), UserAuthToken.flush_requested_at.is_not(None)
                    )
                )
            ).all()
        if not catalogs_read:
            await self.read_catalogs(team_id, user_id, [provider for provider, _ in requests])
        queued = await self.release(team_id, user_id)
        answered = [at for _, at in requests if at is not None]
        if answered:
            await self._done(team_id, user_id, max(answered))
        return queued

    async def read_catalogs(
        self, team_id: str, user_id: str, providers: Sequence[ProviderName]
    ) -> None:
        """Read afresh the catalogs of the person's working connections to `providers`. One
        that cannot be read now is left: the worker routes their tasks once it can."""
        async with self._sessions() as session:
            context = await self._router.context(session, team_id=team_id, user_id=user_id)
        for provider in providers:
            connection = context.connections.get(provider)
            client = self._providers.get(provider)
            if connection is None or client is None:
                continue
            with contextlib.suppress(ProviderError):
                await self._catalogs.get(
                    client, credentials_of(connection), team_id=team_id, user_id=user_id,
                    refresh=True,
                )  # fmt: skip

    async def _done(self, team_id: str, user_id: str, requested: datetime) -> None:
        """Clear the requests this run answered; a newer one (a connect during the run) stays."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(UserAuthToken)
                .where(*_owner(team_id, user_id), UserAuthToken.flush_requested_at <= requested)
                .values(flush_requested_at=None)
            )

    async def release(self, team_id: str, user_id: str) -> int:
        """Route and queue the person's `pending_auth` tasks; the number that moved.

        Safe to call twice at once: each task moves out of `pending_auth` once.
        """
        now = self._clock.now()
        async with self._sessions() as session:
            context = await self._router.context(session, team_id=team_id, user_id=user_id)
            if not context.connections:
                return 0
            waiting = await self._waiting(session, team_id, user_id)
        known: dict[str, Destinations | None] = {}
        decided: dict[tuple[object, ...], RoutingDecision] = {}
        moves: dict[tuple[TaskState, Route, str], list[_Waiting]] = {}
        for task in waiting:
            inputs = (task.mode, *route_key(task.item))
            decision = decided.get(inputs)
            if decision is None:
                decision = await self._router.decide_cached(
                    task.item, context.with_mode(task.mode), known
                )
                decided[inputs] = decision
            if decision.state is not TaskState.PENDING_AUTH:
                key = (decision.state, Route.of(decision), decision.reason)
                moves.setdefault(key, []).append(task)
        changes: list[TaskChange] = []
        for (state, route, reason), tasks in moves.items():
            moved = await self._move(tasks, state, TaskUpdate(reason=reason, route=route), now)
            changes += [
                TaskChange(
                    task_id=task.id,
                    team_id=team_id,
                    meeting_id=task.meeting_id,
                    owner_user_id=user_id,
                    title=task.title,
                    state=state,
                    provider=route.provider,
                    url=None,
                    reason=reason,
                )
                for task in tasks
                if task.id in moved
            ]
        order = {task.id: n for n, task in enumerate(waiting)}
        changes.sort(key=lambda change: order[change.task_id])
        await self._results.publish_changes(changes)
        if changes:
            try:
                await self._notifier.tasks_flushed(team_id, user_id, [c.task_id for c in changes])
            except Exception:
                log.exception("could not tell %s about their %d queued task(s)", user_id,
                              len(changes))  # fmt: skip
        return len(changes)

    async def _waiting(self, session: AsyncSession, team_id: str, user_id: str) -> list[_Waiting]:
        """The person's waiting tasks, oldest first, without their descriptions unless long."""
        long = case(
            (_ByteLength(Task.description) > LONG_DESCRIPTION, Task.description),
            else_=literal(""),
        )
        rows = await session.execute(
            select(
                Task.id,
                Task.meeting_id,
                Task.title,
                Task.routing_mode,
                Task.priority,
                Task.project_name,
                long,
            )
            .where(
                Task.team_id == team_id,
                Task.owner_user_id == user_id,
                Task.state == TaskState.PENDING_AUTH,
            )
            .order_by(Task.created_at, Task.id)
        )
        return [
            _Waiting(
                id=task_id,
                meeting_id=meeting_id,
                title=title,
                mode=mode,
                item=RoutableItem(
                    title, description or "", Priority(priority) if priority else None, project
                ),
            )
            for task_id, meeting_id, title, mode, priority, project, description in rows
        ]

    async def _move(
        self, tasks: Sequence[_Waiting], target: TaskState, change: TaskUpdate, now: datetime
    ) -> set[str]:
        """Move `tasks` from `pending_auth` to `target`, `CHUNK` at a time; the ids moved."""
        moved: set[str] = set()
        for start in range(0, len(tasks), CHUNK):
            ids = [task.id for task in tasks[start : start + CHUNK]]
            async with self._sessions() as session, session.begin():
                moved.update(
                    await move(
                        session,
                        ids,
                        target,
                        change,
                        now=now,
                        only_from=[TaskState.PENDING_AUTH],
                    )
                )
        return moved
