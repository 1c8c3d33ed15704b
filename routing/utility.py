"""`IntegrationUtility`: what the AI service, the HTTP API and the Slack listeners call.

Every item is decided and stored in one transaction before anything is sent anywhere; the
worker sends. Intake never waits on a provider: routing uses the cached catalogs, and a task
whose catalog is not cached yet is queued unrouted for the worker to route.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import Priority, ProviderName, RoutingMode, TaskState
from primitives.ids import new_id
from providers.base import Credentials, Provider, ProviderAccount, ProviderError
from routing.catalogs import CatalogCache
from routing.decide import (
    RoutableItem,
    RoutingDecision,
    RoutingPreferences,
    decide_for_choice,
    decide_route,
)
from routing.inputs import ActionItem, MeetingIn, OwnerRef, TaskRequest
from routing.notify import Notifier, TaskChange
from routing.outbox import move
from routing.owner_context import (
    OwnerContext,
    cached_catalogs,
    load_owner_context,
    load_owner_contexts,
    preferences_from_row,
)
from routing.owners import Directory, TaskOwner, resolve_owner, resolve_person
from storage.connections import NewTokens, save_connection
from storage.models import IntegrationPreference, Meeting, Task, UserAuthToken
from storage.vault import TokenVault


class InvalidInput(Exception):
    """Input that cannot be accepted; `field` names what is wrong, `message` says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class IdempotencyConflict(Exception):
    """An Idempotency-Key reused with a different request."""


class NotAllowed(Exception):
    """Someone other than the owner acted on a task."""


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


@dataclass(frozen=True)
class MeetingResult:
    meeting_id: str
    items: tuple[TaskResult, ...]
    created: bool  # False when the meeting had been posted before


@dataclass(frozen=True)
class ConnectionStatus:
    connected: bool
    needs_reconnect: bool
    workspace: str | None


@dataclass(frozen=True)
class DefaultDestination:
    id: str
    name: str


@dataclass(frozen=True)
class PreferenceDetails:
    """A person's routing choices with the names of their default destinations."""

    routing_mode: RoutingMode
    default_provider: ProviderName | None
    default_clickup_list: DefaultDestination | None
    default_notion_database: DefaultDestination | None


@dataclass(frozen=True)
class AuthStatus:
    clickup: ConnectionStatus
    notion: ConnectionStatus
    pending_tasks_count: int
    can_create_tasks: bool


def _fingerprint(payload: Any) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()


def _due_columns(due: date | datetime | None) -> dict[str, Any]:
    if isinstance(due, datetime):
        return {"due_at": due, "due_date": None}
    return {"due_at": None, "due_date": due}


class IntegrationUtility:
    """The callable utility (SPEC "Python"); the HTTP API and Slack are thin layers over it."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        clock: Clock,
        providers: Mapping[ProviderName, Provider],
        catalogs: CatalogCache,
        directory: Directory,
        notifier: Notifier,
        wake: Callable[[], None] | None = None,
        connect_links: ConnectLinks | None = None,
        default_team_id: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._providers = providers
        self._catalogs = catalogs
        self._directory = directory
        self._notifier = notifier
        self._wake = wake
        self._links = connect_links
        self._default_team_id = default_team_id

    # --- intake -----------------------------------------------------------------------------

    async def process_meeting(self, data: MeetingIn | Mapping[str, Any]) -> MeetingResult:
        """Store a meeting and one task per action item; the same meeting twice is one."""
        meeting = validate_input(MeetingIn, data)
        existing = await self._existing_meeting(
            meeting.team_id, meeting.meeting_id, meeting.item_ids()
        )
        if existing is not None:
            return existing
        owner_id = await resolve_person(
            self._directory, meeting.team_id, meeting.owner, field="owner"
        )
        item_ids = meeting.item_ids()
        owners = [
            await resolve_owner(self._directory, meeting.team_id, item.assignee, owner_id)
            for item in meeting.action_items
        ]
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
                contexts = await load_owner_contexts(
                    session, self._vault, team_id=meeting.team_id,
                    user_ids=[owner.user_id for owner in owners],
                )  # fmt: skip
                known: dict[str, Any] = {}
                rows = []
                for item, item_id, owner in zip(
                    meeting.action_items, item_ids, owners, strict=True
                ):
                    context = contexts[owner.user_id]
                    decision = await self._decide(item, context, None, known)
                    rows.append(
                        self._task_row(
                            meeting.team_id, item, owner, decision, context, now,
                            meeting_id=meeting_row.id, item_id=item_id,
                        )
                    )  # fmt: skip
                session.add(meeting_row)
                await session.flush()
                session.add_all(rows)
        except IntegrityError:
            # The same meeting posted twice at once: the other request stored it.
            again = await self._existing_meeting(
                meeting.team_id, meeting.meeting_id, meeting.item_ids()
            )
            if again is None:
                raise
            return again
        self._wake_worker(rows)
        results = tuple(self._result(row) for row in rows)
        await self._notifier.tasks_changed(
            meeting.team_id, meeting_row.id, [self._change(row) for row in rows]
        )
        return MeetingResult(meeting.meeting_id, results, created=True)

    async def create_task(
        self,
        user_id: str | Mapping[str, Any] | OwnerRef,
        task_data: ActionItem | Mapping[str, Any],
        routing_preference: str | RoutingMode | None = "smart",
        *,
        team_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> TaskResult:
        """One task for one person; with `idempotency_key`, a repeat returns the same task."""
        team = self._team(team_id)
        who = OwnerRef(slack_user_id=user_id) if isinstance(user_id, str) else user_id
        request = validate_input(
            TaskRequest,
            {"team_id": team, "user": who, "task": task_data, "routing": routing_preference},
        )
        fingerprint = _fingerprint(request.model_dump(mode="json"))
        if idempotency_key is not None:
            found = await self._by_idempotency_key(team, idempotency_key, fingerprint)
            if found is not None:
                return found
        owner_id = await resolve_person(self._directory, team, request.user, field="user")
        owner = TaskOwner(
            owner_id, None, str(request.user.email) if request.user.email else None, ""
        )
        now = self._clock.now()
        try:
            async with self._sessions() as session, session.begin():
                context = await load_owner_context(
                    session, self._vault, team_id=team, user_id=owner_id
                )
                decision = await self._decide(request.task, context, request.routing)
                row = self._task_row(
                    team, request.task, owner, decision, context, now,
                    idempotency_key=idempotency_key, fingerprint=fingerprint,
                    routing_mode=request.routing,
                )  # fmt: skip
                session.add(row)
        except IntegrityError:
            if idempotency_key is None:
                raise
            found = await self._by_idempotency_key(team, idempotency_key, fingerprint)
            if found is None:
                raise
            return found
        self._wake_worker([row])
        await self._notifier.tasks_changed(team, None, [self._change(row)])
        return self._result(row)

    async def process_pending_tasks(self, user_id: str, *, team_id: str | None = None) -> int:
        """Route and queue a person's `pending_auth` tasks (after they connected); the count.

        Safe to call twice at once: each task moves out of `pending_auth` once.
        """
        team = self._team(team_id)
        now = self._clock.now()
        changes = []
        async with self._sessions() as session, session.begin():
            context = await load_owner_context(session, self._vault, team_id=team, user_id=user_id)
            if not context.connections:
                return 0
            waiting = (
                await session.scalars(
                    select(Task).where(
                        Task.team_id == team,
                        Task.owner_user_id == user_id,
                        Task.state == TaskState.PENDING_AUTH.value,
                    )
                )
            ).all()
            for row in waiting:
                decision = await self._decide(_item_of(row), context, RoutingMode(row.routing_mode))
                if decision.state is TaskState.PENDING_AUTH:
                    continue
                values = _decision_columns(decision)
                moved = await move(
                    session, [row.id], decision.state, now=now,
                    only_from=[TaskState.PENDING_AUTH], **values,
                )  # fmt: skip
                if moved:
                    for key, value in values.items():
                        setattr(row, key, value)
                    row.state = decision.state.value
                    changes.append(row)
        self._wake_worker(changes)
        for (team_key, meeting_id), rows in _group(changes).items():
            await self._notifier.tasks_changed(
                team_key, meeting_id, [self._change(r) for r in rows]
            )
        return len(changes)

    # --- people and connections -------------------------------------------------------------

    async def get_auth_status(self, user_id: str, *, team_id: str | None = None) -> AuthStatus:
        team = self._team(team_id)
        async with self._sessions() as session:
            rows = {
                ProviderName(row.provider): row
                for row in (
                    await session.scalars(
                        select(UserAuthToken).where(
                            UserAuthToken.team_id == team, UserAuthToken.user_id == user_id
                        )
                    )
                ).all()
            }
            pending = await session.scalar(
                select(func.count()).where(
                    Task.team_id == team,
                    Task.owner_user_id == user_id,
                    Task.state == TaskState.PENDING_AUTH.value,
                )
            )

        def status(provider: ProviderName) -> ConnectionStatus:
            row = rows.get(provider)
            if row is None:
                return ConnectionStatus(False, False, None)
            return ConnectionStatus(
                not row.needs_reconnect, row.needs_reconnect, row.workspace_name
            )

        clickup, notion = status(ProviderName.CLICKUP), status(ProviderName.NOTION)
        return AuthStatus(clickup, notion, int(pending or 0), clickup.connected or notion.connected)

    async def get_preferences(
        self, user_id: str, *, team_id: str | None = None
    ) -> RoutingPreferences:
        team = self._team(team_id)
        async with self._sessions() as session:
            return preferences_from_row(await self._preference_row(session, team, user_id))

    async def set_preferences(
        self,
        user_id: str,
        *,
        team_id: str | None = None,
        routing_mode: RoutingMode | None = None,
        default_provider: ProviderName | None = None,
        default_clickup_list: tuple[str, str] | None = None,
        default_notion_database: tuple[str, str] | None = None,
    ) -> RoutingPreferences:
        """Change what is given (a default destination is `(id, display name)`)."""
        team = self._team(team_id)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await self._preference_row(session, team, user_id)
            if row is None:
                row = IntegrationPreference(
                    id=new_id("prf"), team_id=team, user_id=user_id, routing_mode="smart",
                    created_at=now,
                )  # fmt: skip
                session.add(row)
            if routing_mode is not None:
                row.routing_mode = RoutingMode(routing_mode).value
            if default_provider is not None:
                row.default_provider = ProviderName(default_provider).value
            if default_clickup_list is not None:
                row.default_clickup_list_id, row.default_clickup_list_name = default_clickup_list
            if default_notion_database is not None:
                row.default_notion_database_id, row.default_notion_database_name = (
                    default_notion_database
                )
            row.updated_at = now
            await session.flush()
            return preferences_from_row(row)

    async def preference_details(
        self, user_id: str, *, team_id: str | None = None
    ) -> PreferenceDetails:
        team = self._team(team_id)
        async with self._sessions() as session:
            row = await self._preference_row(session, team, user_id)
        return _details(row)

    async def own_destination(
        self, user_id: str, *, team_id: str | None = None, provider: ProviderName,
        destination_id: str,
    ) -> tuple[str, str]:  # fmt: skip
        """`(id, display name)` of one of the person's real lists (databases), or `InvalidInput`.

        For choosing a default destination: only what the person's own connection can see.
        """
        team = self._team(team_id)
        field_name = (
            "default_clickup_list_id"
            if provider is ProviderName.CLICKUP
            else "default_notion_database_id"
        )
        catalog = await self._catalogs.cached(team_id=team, user_id=user_id, provider=provider)
        if catalog is None:
            raise InvalidInput(field_name, f"connect {provider.label} first")
        destination = catalog.destination(destination_id)
        if destination is None:
            raise InvalidInput(
                field_name,
                f"none of your {provider.label} {provider.destination_kind}s has this id",
            )
        return destination.id, destination.display_name

    async def connect_completed(
        self, *, team_id: str, user_id: str, account: ProviderAccount
    ) -> int:
        """Store a new connection, read its catalog, and queue the person's waiting tasks.

        Returns how many waiting tasks were queued.
        """
        now = self._clock.now()
        workspace = account.workspace
        async with self._sessions() as session, session.begin():
            row = await save_connection(
                session, self._vault, team_id=team_id, user_id=user_id,
                provider=account.provider.value,
                tokens=NewTokens(
                    account.tokens.access_token, account.tokens.refresh_token,
                    account.tokens.expires_at, account.tokens.scope,
                ),
                now=now, workspace_id=workspace.id if workspace else None,
                workspace_name=workspace.name if workspace else None,
                account_id=account.account_id, account_email=account.account_email,
            )  # fmt: skip
            connection_id = row.id
        provider = self._providers.get(account.provider)
        if provider is not None:
            credentials = Credentials(
                connection_id, account.tokens.access_token, workspace.id if workspace else None
            )
            # If the catalog cannot be read now, the worker routes these tasks once it can.
            with contextlib.suppress(ProviderError):
                await self._catalogs.get(
                    provider, credentials, team_id=team_id, user_id=user_id, refresh=True
                )
        return await self.process_pending_tasks(user_id, team_id=team_id)

    async def disconnect(self, *, team_id: str, user_id: str, provider: ProviderName) -> bool:
        """Forget a connection (revoking it at the tool where it can); tasks wait for a new one."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(UserAuthToken).where(
                    UserAuthToken.team_id == team_id,
                    UserAuthToken.user_id == user_id,
                    UserAuthToken.provider == provider.value,
                )
            )
            if row is None:
                return False
            access_token = self._vault.decrypt(row.encrypted_access_token)
            await session.execute(delete(UserAuthToken).where(UserAuthToken.id == row.id))
            waiting = await session.scalars(
                select(Task.id).where(
                    Task.team_id == team_id,
                    Task.owner_user_id == user_id,
                    Task.provider == provider.value,
                    Task.state.in_((TaskState.QUEUED.value, TaskState.RETRYING.value)),
                )
            )
            await move(
                session, waiting.all(), TaskState.PENDING_AUTH, now=now,
                last_error=f"{provider.label} was disconnected",
            )  # fmt: skip
        await self._catalogs.forget(team_id=team_id, user_id=user_id, provider=provider)
        client = self._providers.get(provider)
        if client is not None:
            # The token is already gone from our side; a failed revoke changes nothing.
            with contextlib.suppress(ProviderError):
                await client.revoke(access_token)
        return True

    # --- a person acting on a task ----------------------------------------------------------

    async def choose_provider(
        self, task_id: str, *, user_id: str, provider: ProviderName
    ) -> TaskResult:
        """The owner picked a tool for an `awaiting_choice` task (only the owner may)."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await self._owned_task(session, task_id, user_id)
            if row.state != TaskState.AWAITING_CHOICE.value:
                return self._result(row)  # a double click: the first one counted
            context = await load_owner_context(
                session, self._vault, team_id=row.team_id, user_id=user_id
            )
            if provider not in context.connections:
                decision = RoutingDecision(
                    TaskState.PENDING_AUTH, provider, None,
                    f"waiting for the owner to connect {provider.label}",
                )  # fmt: skip
            else:
                catalog = await self._catalogs.cached(
                    team_id=row.team_id, user_id=user_id, provider=provider
                )
                if catalog is None:
                    decision = RoutingDecision(
                        TaskState.QUEUED, None, None, f"you chose {provider.label}"
                    )
                else:
                    decision = decide_for_choice(
                        provider, _routable(_item_of(row)), context.preferences,
                        catalog.destinations,
                    )  # fmt: skip
            values = _decision_columns(decision)
            if decision.provider is None:
                values["provider"] = provider.value
            if await move(
                session, [row.id], decision.state, now=now,
                only_from=[TaskState.AWAITING_CHOICE], **values,
            ):  # fmt: skip
                for key, value in values.items():
                    setattr(row, key, value)
                row.state = decision.state.value
        self._wake_worker([row])
        await self._notifier.tasks_changed(row.team_id, row.meeting_id, [self._change(row)])
        return self._result(row)

    async def retry_task(self, task_id: str, *, user_id: str) -> TaskResult:
        """Queue a `failed` task again (after the owner fixed what its reason said)."""
        return await self._person_moves(task_id, user_id, TaskState.QUEUED, [TaskState.FAILED])

    async def dismiss_task(self, task_id: str, *, user_id: str) -> TaskResult:
        """The owner does not want this task created."""
        return await self._person_moves(
            task_id, user_id, TaskState.DISMISSED,
            [TaskState.PENDING_AUTH, TaskState.AWAITING_CHOICE, TaskState.QUEUED,
             TaskState.RETRYING, TaskState.FAILED],
        )  # fmt: skip

    async def get_task(self, task_id: str, *, team_id: str) -> TaskResult | None:
        async with self._sessions() as session:
            row = await session.get(Task, task_id)
        if row is None or row.team_id != team_id:
            return None
        return self._result(row)

    # --- helpers ----------------------------------------------------------------------------

    def _team(self, team_id: str | None) -> str:
        team = team_id or self._default_team_id
        if not team:
            raise InvalidInput("team_id", "required (this installation serves several workspaces)")
        return team

    async def _decide(
        self,
        item: ActionItem,
        context: OwnerContext,
        mode: RoutingMode | None,
        known: dict[str, Any] | None = None,
    ) -> RoutingDecision:
        """Route `item`; `known` memoises each owner's cached catalogs across one request."""
        preferences = context.preferences
        if mode is not None:
            preferences = RoutingPreferences(
                mode, preferences.default_provider, preferences.default_destinations
            )
        usable = {p: c for p, c in context.connections.items() if p in self._providers}
        trimmed = OwnerContext(
            context.team_id, context.user_id, usable, context.broken, preferences
        )
        if known is not None and context.user_id in known:
            catalogs = known[context.user_id]
        else:
            catalogs = await cached_catalogs(trimmed, self._catalogs)
            if known is not None:
                known[context.user_id] = catalogs
        if catalogs is None:
            # A catalog was never read: the worker routes the task when it can read it.
            return RoutingDecision(TaskState.QUEUED, None, None, "routing when the tool answers")
        return decide_route(_routable(item), preferences, catalogs)

    def _task_row(
        self,
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
        routing_mode: RoutingMode | None = None,
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
            assignee_name=owner.assignee_name,
            assignee_email=owner.assignee_email,
            title=item.clean_title,
            description=item.full_description,
            priority=item.priority.value if item.priority else None,
            project_name=item.project_name,
            routing_mode=(routing_mode or context.preferences.mode).value,
            attempts=0,
            created_at=now,
            updated_at=now,
            **_due_columns(item.due_date),
            **_decision_columns(decision),
            state=decision.state.value,
            next_attempt_at=now,
            finished_at=now if decision.state is TaskState.FAILED else None,
        )

    def _wake_worker(self, rows: Sequence[Task]) -> None:
        if self._wake is not None and any(r.state == TaskState.QUEUED.value for r in rows):
            self._wake()

    def _result(self, row: Task) -> TaskResult:
        state = TaskState(row.state)
        links: dict[ProviderName, str] = {}
        if state is TaskState.PENDING_AUTH and self._links is not None:
            links = {
                p: self._links.url_for(team_id=row.team_id, user_id=row.owner_user_id, provider=p)
                for p in self._providers
            }
        settled = (TaskState.CREATED, TaskState.QUEUED, TaskState.AWAITING_CHOICE)
        reason = row.route_reason if state in settled else row.last_error or row.route_reason
        return TaskResult(
            item_id=row.item_id,
            task_id=row.id,
            status=state,
            provider=ProviderName(row.provider) if row.provider else None,
            url=row.provider_task_url,
            reason=reason,
            owner_user_id=row.owner_user_id,
            title=row.title,
            connect_urls=links,
        )

    def _change(self, row: Task) -> TaskChange:
        result = self._result(row)
        return TaskChange(
            task_id=row.id, team_id=row.team_id, meeting_id=row.meeting_id,
            owner_user_id=row.owner_user_id, title=row.title, state=result.status,
            provider=result.provider, url=result.url, reason=result.reason,
        )  # fmt: skip

    async def _existing_meeting(
        self, team_id: str, external_id: str, item_order: Sequence[str]
    ) -> MeetingResult | None:
        """The stored meeting's tasks, in the order of `item_order` (the request's items)."""
        async with self._sessions() as session:
            meeting = await session.scalar(
                select(Meeting).where(
                    Meeting.team_id == team_id, Meeting.external_id == external_id
                )
            )
            if meeting is None:
                return None
            rows = (
                await session.scalars(
                    select(Task)
                    .where(Task.meeting_id == meeting.id)
                    .order_by(Task.created_at, Task.id)
                )
            ).all()
        position = {item_id: index for index, item_id in enumerate(item_order)}
        ordered = sorted(rows, key=lambda r: position.get(r.item_id or "", len(position)))
        return MeetingResult(external_id, tuple(self._result(r) for r in ordered), created=False)

    async def _by_idempotency_key(
        self, team_id: str, key: str, fingerprint: str
    ) -> TaskResult | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(Task).where(Task.team_id == team_id, Task.idempotency_key == key)
            )
        if row is None:
            return None
        if row.request_fingerprint != fingerprint:
            raise IdempotencyConflict(key)
        return self._result(row)

    @staticmethod
    async def _preference_row(
        session: AsyncSession, team_id: str, user_id: str
    ) -> IntegrationPreference | None:
        return await session.scalar(
            select(IntegrationPreference).where(
                IntegrationPreference.team_id == team_id, IntegrationPreference.user_id == user_id
            )
        )

    @staticmethod
    async def _owned_task(session: AsyncSession, task_id: str, user_id: str) -> Task:
        row = await session.get(Task, task_id)
        if row is None:
            raise InvalidInput("task_id", "no such task")
        if row.owner_user_id != user_id:
            raise NotAllowed(task_id)
        return row

    async def _person_moves(
        self, task_id: str, user_id: str, target: TaskState, sources: Sequence[TaskState]
    ) -> TaskResult:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await self._owned_task(session, task_id, user_id)
            if await move(session, [row.id], target, now=now, only_from=sources, last_error=None):
                row.state = target.value
        self._wake_worker([row])
        await self._notifier.tasks_changed(row.team_id, row.meeting_id, [self._change(row)])
        return self._result(row)


M = TypeVar("M", bound=BaseModel)


def validate_input(model: type[M], data: Any) -> M:
    """`data` as `model`, or `InvalidInput` naming the first field at fault."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidInput(where, str(first["msg"]).removeprefix("Value error, ")) from None


def _details(row: IntegrationPreference | None) -> PreferenceDetails:
    if row is None:
        return PreferenceDetails(RoutingMode.SMART, None, None, None)
    clickup = (
        DefaultDestination(row.default_clickup_list_id, row.default_clickup_list_name or "")
        if row.default_clickup_list_id
        else None
    )
    notion = (
        DefaultDestination(row.default_notion_database_id, row.default_notion_database_name or "")
        if row.default_notion_database_id
        else None
    )
    return PreferenceDetails(
        RoutingMode(row.routing_mode),
        ProviderName(row.default_provider) if row.default_provider else None,
        clickup,
        notion,
    )


def _item_of(row: Task) -> ActionItem:
    return ActionItem.model_construct(
        title=row.title, description=row.description,
        priority=Priority(row.priority) if row.priority else None, project_name=row.project_name,
    )  # fmt: skip


def _routable(item: ActionItem) -> RoutableItem:
    return RoutableItem(
        title=item.title,
        description=item.description,
        priority=Priority(item.priority) if item.priority else None,
        project_name=item.project_name,
    )


def _decision_columns(decision: RoutingDecision) -> dict[str, Any]:
    waiting = decision.state in (TaskState.PENDING_AUTH, TaskState.FAILED)
    column = "last_error" if waiting else "route_reason"
    values: dict[str, Any] = {
        "provider": decision.provider.value if decision.provider else None,
        "destination_id": decision.destination.id if decision.destination else None,
        "destination_name": decision.destination.display_name if decision.destination else None,
        column: decision.reason,
    }
    return values


def _group(rows: Sequence[Task]) -> dict[tuple[str, str | None], list[Task]]:
    grouped: dict[tuple[str, str | None], list[Task]] = {}
    for row in rows:
        grouped.setdefault((row.team_id, row.meeting_id), []).append(row)
    return grouped
