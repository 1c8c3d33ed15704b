"""`IntegrationUtility`: what the AI service, the HTTP API and the Slack listeners call.

A thin façade with SPEC's method names over the modules that do the work, each named for its
concept:

- `routing.intake` — meetings and single tasks, stored before anything is sent;
- `routing.connections` — connection status, connecting (waiting tasks are then queued),
  disconnecting;
- `routing.preferences` — routing mode, default tool, default list and database;
- `routing.actions` — the owner choosing a tool, retrying, dismissing;
- `routing.results` — what a caller and Slack see of a task;
- `routing.outbox` — every query on tasks; `routing.worker` sends what is queued.

Failures are `routing.errors.RoutingError`s, with a code and a message a person can read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, RoutingMode, TaskState
from providers.base import Provider, ProviderAccount
from routing.actions import TaskActions
from routing.catalogs import CatalogCache
from routing.connections import AuthStatus, Connections
from routing.decide import RoutingPreferences
from routing.destinations import DestinationChoices, DestinationReader
from routing.errors import InvalidInput, TeamNotServed
from routing.inputs import ActionItem, MeetingIn, OwnerRef
from routing.intake import Intake
from routing.notify import Notifier
from routing.outbox import count_by_state, count_owner_tasks_in, owner_tasks_in
from routing.owner_context import OwnerRouter
from routing.owners import Directory
from routing.preferences import PreferenceDetails, Preferences
from routing.results import ConnectLinks, MeetingResult, Results, TaskPage, TaskResult
from routing.webhooks import ConnectionHook
from storage.vault import TokenVault


class IntegrationUtility:
    """The callable utility (SPEC "Python"); the HTTP API and Slack are thin layers over it.

    `team_id` may be left out only where the installation serves one workspace
    (`default_team_id`).
    """

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
        connection_hooks: Sequence[ConnectionHook] = (),
    ) -> None:
        self._sessions = sessions
        router = OwnerRouter(vault=vault, catalogs=catalogs, providers=providers)
        results = Results(tools=providers.keys(), notifier=notifier, links=connect_links, wake=wake)
        self._results = results
        self._default_team_id = default_team_id
        self._directory = directory
        self._intake = Intake(
            sessions=sessions, clock=clock, router=router, directory=directory, results=results
        )
        self._connections = Connections(
            sessions=sessions, vault=vault, clock=clock, providers=providers, catalogs=catalogs,
            router=router, results=results, notifier=notifier, hooks=connection_hooks,
        )  # fmt: skip
        self._preferences = Preferences(sessions=sessions, clock=clock, catalogs=catalogs)
        self._actions = TaskActions(sessions=sessions, clock=clock, router=router, results=results)
        self._destinations = DestinationReader(
            sessions=sessions, clock=clock, router=router, catalogs=catalogs, providers=providers
        )

    def _team(self, team_id: str | None) -> str:
        team = team_id or self._default_team_id
        if not team:
            raise InvalidInput("team_id", "required (this installation serves several workspaces)")
        return team

    async def check_team(self, team_id: str) -> None:
        """`TeamNotServed` unless this installation serves the Slack workspace `team_id`."""
        if not await self._directory.serves(team_id):
            raise TeamNotServed(team_id)

    # --- intake -----------------------------------------------------------------------------

    async def process_meeting(self, data: MeetingIn | Mapping[str, Any]) -> MeetingResult:
        """Store a meeting and one task per action item; the same meeting twice is one."""
        return await self._intake.process_meeting(data)

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
        who = OwnerRef(slack_user_id=user_id) if isinstance(user_id, str) else user_id
        return await self._intake.create_task(
            self._team(team_id), who, task_data, routing_preference,
            idempotency_key=idempotency_key,
        )  # fmt: skip

    # --- connections ------------------------------------------------------------------------

    async def process_pending_tasks(self, user_id: str, *, team_id: str | None = None) -> int:
        """Route and queue a person's `pending_auth` tasks (after they connected); the count."""
        return await self._connections.release_waiting(self._team(team_id), user_id)

    async def get_auth_status(self, user_id: str, *, team_id: str | None = None) -> AuthStatus:
        return await self._connections.status(self._team(team_id), user_id)

    async def connect_completed(
        self, *, team_id: str, user_id: str, account: ProviderAccount, background: bool = False
    ) -> int:
        """Store a new connection, read its catalog, queue the person's waiting tasks; the
        count queued. With `background` (an OAuth callback) it returns once the connection is
        stored, with the count of tasks waiting, and the flush runs after (`settle_flushes`);
        a flush the process did not live to finish is run by `sweep_flushes`."""
        return await self._connections.completed(team_id, user_id, account, background=background)

    async def settle_flushes(self) -> None:
        """Wait for the connect flushes started in the background to end (on shutdown)."""
        await self._connections.flush.settle()

    async def sweep_flushes(self) -> int:
        """Run the connect flushes requested over a minute ago and never finished (their
        process died); the number of tasks queued."""
        return await self._connections.flush.sweep()

    async def keep_sweeping_flushes(self, stop: asyncio.Event) -> None:
        """`sweep_flushes` at start and every 30 s until `stop` is set."""
        await self._connections.flush.keep_sweeping(stop)

    async def disconnect(self, *, team_id: str, user_id: str, provider: ProviderName) -> bool:
        """Forget a connection (revoking it at the tool where it can); tasks wait for a new one."""
        return await self._connections.disconnect(team_id, user_id, provider)

    # --- preferences ------------------------------------------------------------------------

    async def get_preferences(
        self, user_id: str, *, team_id: str | None = None
    ) -> RoutingPreferences:
        return await self._preferences.get(self._team(team_id), user_id)

    async def preference_details(
        self, user_id: str, *, team_id: str | None = None
    ) -> PreferenceDetails:
        return await self._preferences.details(self._team(team_id), user_id)

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
        return await self._preferences.change(
            self._team(team_id), user_id, routing_mode=routing_mode,
            default_provider=default_provider, default_clickup_list=default_clickup_list,
            default_notion_database=default_notion_database,
        )  # fmt: skip

    async def own_destination(
        self, user_id: str, *, team_id: str | None = None, provider: ProviderName,
        destination_id: str,
    ) -> tuple[str, str]:  # fmt: skip
        """`(id, display name)` of one of the person's own lists (databases), else
        `InvalidInput`."""
        return await self._preferences.own_destination(
            self._team(team_id), user_id, provider, destination_id
        )

    async def destination_choices(
        self, user_id: str, *, team_id: str | None = None, provider: ProviderName,
        wait: float | None = None,
    ) -> DestinationChoices:  # fmt: skip
        """The person's lists (databases) in `provider` for a menu they are typing in: from
        the catalog cache, asking the tool for at most `wait` (≤ 2) seconds when nothing is
        cached (`routing.destinations`)."""
        return await self._destinations.choices(self._team(team_id), user_id, provider, wait=wait)

    async def settle_catalog_reads(self) -> None:
        """Wait for the catalog reads that menus started in the background to end."""
        await self._destinations.settle()

    # --- a person acting on a task ----------------------------------------------------------

    async def choose_provider(
        self, task_id: str, *, user_id: str, provider: ProviderName
    ) -> TaskResult:
        """The owner picked a tool for an `awaiting_choice` task (only the owner may)."""
        return await self._actions.choose(task_id, user_id=user_id, provider=provider)

    async def retry_task(self, task_id: str, *, user_id: str) -> TaskResult:
        """Queue a `failed` task again (after the owner fixed what its reason said)."""
        return await self._actions.retry(task_id, user_id=user_id)

    async def dismiss_task(self, task_id: str, *, user_id: str) -> TaskResult:
        """The owner does not want this task created."""
        return await self._actions.dismiss(task_id, user_id=user_id)

    async def get_task(self, task_id: str, *, team_id: str) -> TaskResult | None:
        return await self._actions.get(task_id, team_id=team_id)

    async def tasks_of(
        self,
        user_id: str,
        *,
        team_id: str | None = None,
        states: Collection[TaskState],
        limit: int = 20,
        newest_first: bool = False,
    ) -> TaskPage:
        """Up to `limit` of a person's tasks in `states` (oldest first, or the most recently
        changed first) and how many there are in all: the Home tab, `/tasks pending`."""
        team = self._team(team_id)
        async with self._sessions() as session:
            rows = await owner_tasks_in(
                session, team_id=team, user_id=user_id, states=states, limit=limit,
                newest_first=newest_first,
            )  # fmt: skip
            total = await count_owner_tasks_in(
                session, team_id=team, user_id=user_id, states=states
            )
        return TaskPage(tuple(self._results.of(row) for row in rows), max(total, len(rows)))

    # --- the whole installation -------------------------------------------------------------

    async def task_counts(self) -> dict[TaskState, int]:
        """How many tasks are in each state, across every team (for metrics)."""
        async with self._sessions() as session:
            return await count_by_state(session)
