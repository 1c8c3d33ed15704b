"""Intake: a meeting's action items, or one task, stored before anything is sent anywhere.

Every item is decided and stored in one transaction; the worker sends. Intake never waits on
a provider: routing uses the cached catalogs, and a task whose catalog is not cached yet is
queued unrouted for the worker to route. A meeting's items for an owner who reviews first are
stored in `review`, unrouted, with the review's row (`routing.review`); a task one asks for
oneself (`create_task`) is not held for review. The same meeting posted twice, or the same
`Idempotency-Key` used twice, stores nothing new and answers with the stored tasks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import RoutingMode, TaskState
from primitives.ids import new_id
from routing.decide import RoutingDecision
from routing.errors import DirectoryUnavailable, IdempotencyConflict
from routing.inputs import ActionItem, MeetingIn, OwnerRef, TaskRequest, validate_input
from routing.outbox import TaskUpdate, find_meeting, meeting_tasks, task_by_idempotency_key
from routing.owner_context import Destinations, OwnerContext, OwnerRouter
from routing.owners import Directory, TaskOwner, resolve_owners, resolve_person
from routing.results import MeetingResult, Results, TaskResult
from routing.review import DEFAULT_REMIND_AFTER, REVIEW_DECISION, review_messages_for
from storage.models import Meeting, Task


def _fingerprint(payload: Any) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()


def _due_columns(due: date | datetime | None) -> dict[str, Any]:
    if isinstance(due, datetime):
        return {"due_at": due, "due_date": None}
    return {"due_at": None, "due_date": due}


class Intake:
    """Storing meetings and tasks as the AI service, the HTTP API and Slack hand them over."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        router: OwnerRouter,
        directory: Directory,
        results: Results,
        remind_after: timedelta = DEFAULT_REMIND_AFTER,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._router = router
        self._directory = directory
        self._results = results
        self._remind_after = remind_after

    async def process_meeting(self, data: MeetingIn | Mapping[str, Any]) -> MeetingResult:
        """Store a meeting and one task per action item; the same meeting twice is one."""
        meeting = validate_input(MeetingIn, data)
        item_ids = meeting.item_ids()
        existing = await self._existing_meeting(meeting.team_id, meeting.meeting_id, item_ids)
        if existing is not None:
            return existing
        owner_id = await resolve_person(
            self._directory, meeting.team_id, meeting.owner, field="owner"
        )
        # Each distinct assignee is looked up once, all of them together (routing.owners).
        owners = await resolve_owners(
            self._directory, meeting.team_id, [item.assignee for item in meeting.action_items],
            owner_id,
        )  # fmt: skip
        zones = await self._time_zones(meeting.team_id, [o.user_id for o in owners])
        now = self._clock.now()
        meeting_row = Meeting(
            id=new_id("mtg"),
            team_id=meeting.team_id,
            external_id=meeting.meeting_id,
            title=meeting.title,
            summary=meeting.summary,
            channel_id=meeting.channel_id,
            owner_user_id=owner_id,
            owner_email=str(meeting.owner.email) if meeting.owner.email else None,
            participants=[p.model_dump(mode="json") for p in meeting.participants],
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._sessions() as session, session.begin():
                # Everything is read before anything is added, so the rows go in one flush.
                contexts = await self._router.contexts(
                    session, team_id=meeting.team_id, user_ids=[o.user_id for o in owners]
                )
                known: dict[str, Destinations | None] = {}
                rows = []
                for position, (item, item_id, owner) in enumerate(
                    zip(meeting.action_items, item_ids, owners, strict=True), start=1
                ):
                    context = contexts[owner.user_id]
                    if context.preferences.review_first:
                        # Nothing is routed before the owner says so (`routing.review`).
                        decision = REVIEW_DECISION
                    else:
                        decision = await self._router.decide_cached(item.routable(), context, known)
                    row = _task_row(
                        meeting.team_id, item, owner, decision, context, now,
                        meeting_id=meeting_row.id, item_id=item_id,
                        time_zone=zones.get(owner.user_id),
                    )  # fmt: skip
                    row.position = position
                    rows.append(row)
                session.add(meeting_row)
                await session.flush()
                session.add_all(rows)
                session.add_all(
                    review_messages_for(
                        meeting.team_id,
                        meeting_row.id,
                        [row.owner_user_id for row in rows if row.state is TaskState.REVIEW],
                        now=now,
                        remind_after=self._remind_after,
                    )
                )
        except IntegrityError:
            # The same meeting posted twice at once: the other request stored it.
            again = await self._existing_meeting(meeting.team_id, meeting.meeting_id, item_ids)
            if again is None:
                raise
            return again
        # The notifier posts the meeting's Slack message as it is told (`publish`): read after
        # it, the meeting says whether the message was posted, or why not.
        await self._results.publish(rows)
        async with self._sessions() as session:
            posted = await session.get(Meeting, meeting_row.id)
        return MeetingResult(
            meeting.meeting_id, tuple(self._results.of(row) for row in rows), created=True,
            message_posted=posted is not None and posted.message_posted,
            message_error=posted.message_error if posted is not None else None,
        )  # fmt: skip

    async def create_task(
        self,
        team_id: str,
        who: OwnerRef | Mapping[str, Any],
        task_data: ActionItem | Mapping[str, Any],
        routing_preference: str | RoutingMode | None,
        *,
        idempotency_key: str | None = None,
    ) -> TaskResult:
        """One task for one person; with `idempotency_key`, a repeat returns the same task."""
        request = validate_input(
            TaskRequest,
            {"team_id": team_id, "user": who, "task": task_data, "routing": routing_preference},
        )
        fingerprint = _fingerprint(request.model_dump(mode="json"))
        if idempotency_key is not None:
            found = await self._by_idempotency_key(team_id, idempotency_key, fingerprint)
            if found is not None:
                return found
        owner_id = await resolve_person(self._directory, team_id, request.user, field="user")
        owner = TaskOwner(
            owner_id, None, str(request.user.email) if request.user.email else None, ""
        )
        zones = await self._time_zones(team_id, [owner_id])
        now = self._clock.now()
        try:
            async with self._sessions() as session, session.begin():
                context = await self._router.context(session, team_id=team_id, user_id=owner_id)
                context = context.with_mode(request.routing)
                decision = await self._router.decide_cached(request.task.routable(), context)
                row = _task_row(
                    team_id, request.task, owner, decision, context, now,
                    idempotency_key=idempotency_key, fingerprint=fingerprint,
                    time_zone=zones.get(owner_id),
                )  # fmt: skip
                session.add(row)
        except IntegrityError:
            if idempotency_key is None:
                raise
            found = await self._by_idempotency_key(team_id, idempotency_key, fingerprint)
            if found is None:
                raise
            return found
        await self._results.publish([row])
        return self._results.of(row)

    async def _time_zones(self, team_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        """The time zone of each distinct owner that Slack tells. A zone is a nicety (a
        date-only due falls on the right day with the safe instant nearly everywhere), so a
        directory that cannot answer now costs the zone, never the meeting."""
        zones: dict[str, str] = {}
        for user_id in dict.fromkeys(user_ids):
            try:
                zone = await self._directory.time_zone(team_id, user_id)
            except DirectoryUnavailable:
                break
            if zone:
                zones[user_id] = zone
        return zones

    async def _existing_meeting(
        self, team_id: str, external_id: str, item_order: Sequence[str]
    ) -> MeetingResult | None:
        """The stored meeting's tasks, in the order of `item_order` (the request's items)."""
        async with self._sessions() as session:
            meeting = await find_meeting(session, team_id=team_id, external_id=external_id)
            if meeting is None:
                return None
            rows = await meeting_tasks(session, meeting.id)
        position = {item_id: index for index, item_id in enumerate(item_order)}
        ordered = sorted(rows, key=lambda r: position.get(r.item_id or "", len(position)))
        return MeetingResult(
            external_id, tuple(self._results.of(r) for r in ordered), created=False,
            message_posted=meeting.message_posted, message_error=meeting.message_error,
        )  # fmt: skip

    async def _by_idempotency_key(
        self, team_id: str, key: str, fingerprint: str
    ) -> TaskResult | None:
        async with self._sessions() as session:
            row = await task_by_idempotency_key(session, team_id=team_id, key=key)
        if row is None:
            return None
        if row.request_fingerprint != fingerprint:
            raise IdempotencyConflict(key)
        return self._results.of(row)


def _task_row(
    team_id: str,
    item: ActionItem,
    owner: TaskOwner,
    decision: RoutingDecision,
    context: OwnerContext,
    now: datetime,
    *,
    meeting_id: str | None = None,
    item_id: str | None = None,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
    time_zone: str | None = None,
) -> Task:
    return Task(
        id=new_id("tsk"),
        team_id=team_id,
        meeting_id=meeting_id,
        item_id=item_id,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        marker=new_id("mk"),
        owner_user_id=owner.user_id,
        owner_time_zone=time_zone,
        assignee_name=owner.assignee_name,
        assignee_email=owner.assignee_email,
        title=item.clean_title,
        description=item.full_description,
        priority=item.priority,
        project_name=item.project_name,
        routing_mode=context.preferences.mode,
        attempts=0,
        created_at=now,
        **_due_columns(item.due_date),
        **_first_update(decision, owner).values(decision.state, now),
    )


def _first_update(decision: RoutingDecision, owner: TaskOwner) -> TaskUpdate:
    """The decision's update; its reason first says why the assignee does not own the task,
    when Slack told why (another organisation, a scope the app lacks)."""
    update = TaskUpdate.of(decision)
    if owner.note is None:
        return update
    return replace(update, reason=f"{owner.note}, so the task is the meeting owner's; "
                                  f"{update.reason or ''}".rstrip("; "))  # fmt: skip
