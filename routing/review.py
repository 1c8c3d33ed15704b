"""Review before creating: an owner who chose "let me review them first" finds a meeting's
items waiting in `review`, and nothing is sent to a tool before they say so.

    intake            items of a reviewing owner start in `review` (no route yet), and one
                      `review_messages` row per (meeting, owner) is stored with them: the
                      direct message listing the items, and when to remind (`remind_after`)
    create(task)      the item is routed now, as intake would have routed it (queued, asked to
                      choose, waiting for a connection, failed with its reason), or to the
                      list or database the owner chose while editing it
    create_all        the same for every item of theirs still in review in that meeting
    edit(task, …)     title, description, due day, priority and destination changed; the
                      item stays in review until created
    dismiss           `routing.actions` (a task in review may be dismissed)
    remind_due()      a review left alone for `remind_after` (none of its items changed) is
                      reminded of once (a guarded UPDATE of `reminded_at`); it never creates
                      anything by itself

Every change is a guarded UPDATE (`… WHERE state = 'review'`), so a double click, a Slack
retry or two processes at once create an item once; the second click gets the task as the
first one left it. Only the task's owner may act (`NotAllowed`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import Priority, ProviderName, TaskState
from primitives.ids import new_id
from routing.actions import owned_task, task_in_team
from routing.decide import RoutingDecision
from routing.errors import InvalidInput, TaskNotFound
from routing.inputs import ActionItem, validate_input
from routing.notify import Notifier
from routing.outbox import Route, TaskUpdate, move_task
from routing.owner_context import OwnerContext, OwnerRouter, routable
from routing.pacing import pause
from routing.preferences import Preferences
from routing.results import Results, TaskResult
from storage.models import ReviewMessage, Task

log = logging.getLogger(__name__)

S = TaskState
REVIEW_REASON = "waiting for the owner to review"
REVIEW_DECISION = RoutingDecision(S.REVIEW, None, None, REVIEW_REASON)
DEFAULT_REMIND_AFTER = timedelta(hours=24)
REMIND_SWEEP_SECONDS = 60.0
REMINDERS_PER_SWEEP = 200


@dataclass(frozen=True)
class ReviewEdit:
    """What the owner changed in an item under review (the Edit modal)."""

    title: str
    description: str = ""
    due: date | None = None
    priority: Priority | None = None
    destination: tuple[ProviderName, str] | None = None  # (tool, list or database id)


@dataclass(frozen=True)
class ReviewItem:
    """An item as the Edit modal shows it (what a `TaskResult` does not hold)."""

    task_id: str
    team_id: str
    meeting_id: str | None
    owner_user_id: str
    state: TaskState
    title: str
    description: str
    due: date | None
    priority: Priority | None
    provider: ProviderName | None
    destination_id: str | None
    destination_name: str | None

    @classmethod
    def of(cls, row: Task) -> ReviewItem:
        due = row.due_at.date() if row.due_at is not None else row.due_date
        return cls(
            row.id, row.team_id, row.meeting_id, row.owner_user_id, row.state, row.title,
            row.description, due, row.priority, row.provider, row.destination_id,
            row.destination_name,
        )  # fmt: skip


def review_messages_for(
    team_id: str, meeting_id: str, owners: Iterable[str], *, now: datetime, remind_after: timedelta
) -> list[ReviewMessage]:
    """The review rows intake stores with a meeting's tasks: one per reviewing owner."""
    return [
        ReviewMessage(
            id=new_id("rev"),
            team_id=team_id,
            meeting_id=meeting_id,
            owner_user_id=owner,
            remind_at=now + remind_after,
            created_at=now,
            updated_at=now,
        )
        for owner in dict.fromkeys(owners)
    ]


class Reviews:
    """What an owner who reviews first does with a meeting's items; see the module docstring."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        router: OwnerRouter,
        results: Results,
        preferences: Preferences,
        notifier: Notifier,
        remind_after: timedelta = DEFAULT_REMIND_AFTER,
    ) -> None:
        self._remind_after = remind_after
        self._sessions = sessions
        self._clock = clock
        self._router = router
        self._results = results
        self._preferences = preferences
        self._notifier = notifier

    async def item(self, task_id: str, *, team_id: str) -> ReviewItem | None:
        """The task as the Edit modal shows it; None when there is none in `team_id`."""
        row = await task_in_team(self._sessions, task_id, team_id)
        return None if row is None else ReviewItem.of(row)

    async def create(self, task_id: str, *, user_id: str) -> TaskResult:
        """Route the item now and let it go (only from `review`)."""
        now = self._clock.now()
        moved = False
        async with self._sessions() as session, session.begin():
            row = await owned_task(session, task_id, user_id)
            if row.state is S.REVIEW:
                context = await self._router.context(session, team_id=row.team_id, user_id=user_id)
                moved = await self._release(session, row, context, now)
                if not moved:  # another click moved it meanwhile: answer where it is now
                    await session.refresh(row)
        if moved:
            await self._results.publish([row])
        return self._results.of(row)

    async def create_all(
        self, meeting_id: str, *, team_id: str, user_id: str
    ) -> tuple[TaskResult, ...]:
        """Route and let go every item of `user_id` still in review in the meeting; the
        items created by this call (none when another click did it first)."""
        now = self._clock.now()
        released: list[Task] = []
        async with self._sessions() as session, session.begin():
            rows = (
                await session.scalars(
                    select(Task)
                    .where(
                        Task.team_id == team_id,
                        Task.meeting_id == meeting_id,
                        Task.owner_user_id == user_id,
                        Task.state == S.REVIEW,
                    )
                    .order_by(Task.position, Task.id)
                )
            ).all()
            if rows:
                context = await self._router.context(session, team_id=team_id, user_id=user_id)
                for row in rows:
                    if await self._release(session, row, context, now):
                        released.append(row)
        if released:
            await self._results.publish(released)
        return tuple(self._results.of(row) for row in released)

    async def edit(self, task_id: str, *, user_id: str, change: ReviewEdit) -> TaskResult:
        """Change an item under review; it stays in review. `InvalidInput` names the field
        at fault (a title left empty, a list or database that is not the owner's)."""
        item = validate_input(
            ActionItem,
            {
                "title": change.title,
                "description": change.description,
                "priority": change.priority,
            },
        )
        async with self._sessions() as session:
            row = await owned_task(session, task_id, user_id)
        route: Route | None = None
        if change.destination is not None:
            tool, destination_id = change.destination
            if tool not in self._router.tools:
                raise InvalidInput("destination", f"{tool.label} is not offered here")
            chosen_id, name = await self._preferences.own_destination(
                row.team_id, user_id, tool, destination_id
            )
            route = Route(tool, chosen_id, name)
        now = self._clock.now()
        values: dict[str, object] = {
            "title": item.clean_title,
            "description": item.full_description,
            "priority": item.priority,
            "updated_at": now,
        }
        values.update(_due_values(row, change.due))
        if route is not None:
            # Also its project: were the tool disconnected when the item is created, the task
            # waits for a connection and is routed then, and smart routing's first rule sends
            # it to the list (database) of that name (SPEC "Routing").
            values.update(
                provider=route.provider, destination_id=route.destination_id,
                destination_name=route.destination_name,
                project_name=(route.destination_name or "")[:255] or None,
            )  # fmt: skip
        elif row.provider is not None:
            # The menu emptied: the list (database) an earlier edit chose goes, with the project
            # name it set, and routing decides when the item is created (the form's hint).
            values.update(provider=None, destination_id=None, destination_name=None)
            if row.project_name == (row.destination_name or "")[:255]:
                values["project_name"] = None
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(Task)
                .where(Task.id == task_id, Task.owner_user_id == user_id, Task.state == S.REVIEW)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            edited = getattr(result, "rowcount", 0) == 1
            fresh = await session.get(Task, task_id, populate_existing=True)
        if fresh is None:
            raise TaskNotFound(task_id)
        if edited:
            await self._results.publish([fresh])
        return self._results.of(fresh)

    async def _release(
        self, session: AsyncSession, row: Task, context: OwnerContext, now: datetime
    ) -> bool:
        """Move one item out of review to where routing sends it now; False when another
        click moved it first."""
        if row.provider is not None and row.destination_id is not None:
            change, target = _chosen(row, context)
        else:
            decision = await self._router.decide_cached(routable(row), context)
            change, target = TaskUpdate.of(decision), decision.state
        return await move_task(session, row, target, change, now=now, only_from=[S.REVIEW])

    # --- reminders ------------------------------------------------------------------------

    async def remind_due(self) -> int:
        """Remind once each owner whose review was left alone `remind_after`; the number
        reminded.

        Left alone: nothing happened to any of the owner's items of that meeting (a create,
        an edit, a dismissal, the worker sending one) for `remind_after`; a review acted on
        meanwhile is due again that long after its last change. Marked reminded in the same
        guarded UPDATE that picks them (`reminded_at IS NULL`), so two processes sweeping at
        once remind each review once; a review with nothing left to review is marked and not
        told. Nothing is ever created here.
        """
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            due = (
                await session.execute(
                    select(ReviewMessage.id, ReviewMessage.meeting_id, ReviewMessage.owner_user_id)
                    .where(ReviewMessage.reminded_at.is_(None), ReviewMessage.remind_at <= now)
                    .order_by(ReviewMessage.remind_at, ReviewMessage.id)
                    .limit(REMINDERS_PER_SWEEP)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not due:
                return 0
            pairs = [(str(meeting), str(owner)) for _, meeting, owner in due]
            waiting, last_change = await _review_activity(session, pairs)
            remind_now = []
            for review_id, meeting, owner in due:
                last = last_change.get((meeting, owner))
                acted_lately = last is not None and last + self._remind_after > now
                if waiting.get((meeting, owner)) and last is not None and acted_lately:
                    await session.execute(
                        update(ReviewMessage)
                        .where(ReviewMessage.id == review_id, ReviewMessage.reminded_at.is_(None))
                        .values(remind_at=last + self._remind_after)
                    )
                    continue
                remind_now.append(review_id)
            taken = (
                await session.execute(
                    update(ReviewMessage)
                    .where(ReviewMessage.id.in_(remind_now), ReviewMessage.reminded_at.is_(None))
                    .values(reminded_at=now, updated_at=now)
                    .returning(
                        ReviewMessage.team_id,
                        ReviewMessage.meeting_id,
                        ReviewMessage.owner_user_id,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
        reminded = 0
        for team_id, meeting_id, owner in taken:
            count = waiting.get((meeting_id, owner), 0)
            if not count:
                continue
            reminded += 1
            try:
                await self._notifier.review_reminder(team_id, meeting_id, owner, count)
            except Exception:
                log.exception("could not remind %s of the review of meeting %s", owner, meeting_id)
        return reminded

    async def keep_reminding(
        self, stop: asyncio.Event, *, every: float = REMIND_SWEEP_SECONDS
    ) -> None:
        """`remind_due` at start and every `every` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                await self.remind_due()
            except Exception:
                log.exception("could not look for reviews to remind of; trying again")
            await pause(self._clock, every, stop)


def _chosen(row: Task, context: OwnerContext) -> tuple[TaskUpdate, TaskState]:
    """The list or database the owner chose while reviewing: queued there, or waiting for
    the tool to be connected (again) when it is not now."""
    provider = ProviderName(str(row.provider))
    route = Route(provider, row.destination_id, row.destination_name)
    if provider not in context.connections:
        reason = f"waiting for the owner to connect {provider.label}"
        return TaskUpdate(reason=reason, route=route), S.PENDING_AUTH
    name = row.destination_name or row.destination_id
    reason = f"you chose {provider.label} {provider.destination_kind} {name} when reviewing"
    return TaskUpdate(reason=reason, route=route), S.QUEUED


def _due_values(row: Task, due: date | None) -> dict[str, object]:
    """The due columns after an edit: a date-time the modal could only show as its day is
    kept when that day was left as it was."""
    if due is None:
        return {"due_date": None, "due_at": None}
    if row.due_at is not None and row.due_at.date() == due:
        return {}
    return {"due_date": due, "due_at": None}


async def _review_activity(
    session: AsyncSession, pairs: Sequence[tuple[str, str]]
) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], datetime]]:
    """Per (meeting, owner): how many items are still in review, and when any of the owner's
    items of that meeting last changed."""
    meetings = sorted({meeting for meeting, _ in pairs})
    rows = (
        await session.execute(
            select(
                Task.meeting_id,
                Task.owner_user_id,
                func.count().filter(Task.state == S.REVIEW),
                func.max(Task.updated_at),
            )
            .where(Task.meeting_id.in_(meetings))
            .group_by(Task.meeting_id, Task.owner_user_id)
        )
    ).all()
    wanted = set(pairs)
    waiting: Counter[tuple[str, str]] = Counter()
    last: dict[tuple[str, str], datetime] = {}
    for meeting, owner, count, changed in rows:
        key = (str(meeting), str(owner))
        if key in wanted:
            waiting[key] = int(count or 0)
            if changed is not None:
                last[key] = _aware(changed)
    return waiting, last


def _aware(moment: datetime) -> datetime:
    """An aggregate's instant as UTC (SQLite's MAX gives back the stored text's naive time)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
