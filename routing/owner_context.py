"""What routing needs to know about one owner, and routing their tasks with it.

An `OwnerContext` holds the owner's working connections (to the tools this installation has
an OAuth app for), the ones needing a reconnect, and their preferences. `OwnerRouter` loads
contexts and decides routes from the cached catalogs (intake never waits on a provider) or,
in the worker, from catalogs read through from the provider.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from primitives.enums import Priority, ProviderName, RoutingMode, TaskState
from providers.base import Credentials, Destination, Provider
from routing.catalogs import CatalogCache
from routing.decide import (
    RoutableItem,
    RoutingDecision,
    RoutingPreferences,
    decide_for_choice,
    decide_route,
)
from storage.connections import StoredConnection, decrypt_connection
from storage.models import IntegrationPreference, Task, UserAuthToken
from storage.vault import TokenVault

Destinations = dict[ProviderName, Sequence[Destination]]


@dataclass(frozen=True)
class OwnerContext:
    team_id: str
    user_id: str
    connections: Mapping[ProviderName, StoredConnection]  # working ones only
    broken: frozenset[ProviderName]  # connected once, now needing a reconnect
    preferences: RoutingPreferences

    def with_mode(self, mode: RoutingMode | None) -> OwnerContext:
        """The same owner, routing this once with `mode` (a request's own choice)."""
        if mode is None:
            return self
        preferences = replace(self.preferences, mode=mode)
        return OwnerContext(
            self.team_id, self.user_id, self.connections, self.broken, preferences
        )  # fmt: skip


def credentials_of(connection: StoredConnection) -> Credentials:
    """What a provider client needs to act for a stored connection."""
    return Credentials(connection.id, connection.access_token, connection.workspace_id)


def preferences_from_row(row: IntegrationPreference | None) -> RoutingPreferences:
    if row is None:
        return RoutingPreferences()
    defaults: dict[ProviderName, str] = {}
    if row.default_clickup_list_id:
        defaults[ProviderName.CLICKUP] = row.default_clickup_list_id
    if row.default_notion_database_id:
        defaults[ProviderName.NOTION] = row.default_notion_database_id
    return RoutingPreferences(
        row.routing_mode, row.default_provider, defaults, review_first=row.review_first
    )


def routable(task: Task) -> RoutableItem:
    """What routing looks at in a stored task."""
    return RoutableItem(
        title=task.title,
        description=task.description,
        priority=Priority(task.priority) if task.priority else None,
        project_name=task.project_name,
    )


class OwnerRouter:
    """Loads owners' contexts and routes their tasks; built once, shared by intake, the
    connect flow, a person's choices and the worker."""

    def __init__(
        self,
        *,
        vault: TokenVault,
        catalogs: CatalogCache,
        providers: Mapping[ProviderName, Provider],
    ) -> None:
        self._vault = vault
        self._catalogs = catalogs
        self._providers = providers

    @property
    def tools(self) -> Collection[ProviderName]:
        """The tools this installation can create tasks in."""
        return self._providers.keys()

    async def context(self, session: AsyncSession, *, team_id: str, user_id: str) -> OwnerContext:
        contexts = await self.contexts(session, team_id=team_id, user_ids=[user_id])
        return contexts[user_id]

    async def contexts(
        self, session: AsyncSession, *, team_id: str, user_ids: Sequence[str]
    ) -> dict[str, OwnerContext]:
        """The contexts of several owners of one team, in two queries whatever their number.

        A connection to a tool this installation has no OAuth app for counts as not connected.
        """
        wanted = sorted(set(user_ids))
        tokens = (
            await session.scalars(
                select(UserAuthToken).where(
                    UserAuthToken.team_id == team_id,
                    UserAuthToken.user_id.in_(wanted),
                    UserAuthToken.provider.in_(list(self.tools)),
                )
            )
        ).all()
        preferences = {
            row.user_id: row
            for row in (
                await session.scalars(
                    select(IntegrationPreference).where(
                        IntegrationPreference.team_id == team_id,
                        IntegrationPreference.user_id.in_(wanted),
                    )
                )
            ).all()
        }
        contexts = {}
        for user_id in wanted:
            rows = [row for row in tokens if row.user_id == user_id]
            working = {
                row.provider: decrypt_connection(row, self._vault)
                for row in rows
                if not row.needs_reconnect
            }
            broken = frozenset(row.provider for row in rows if row.needs_reconnect)
            contexts[user_id] = OwnerContext(
                team_id, user_id, working, broken, preferences_from_row(preferences.get(user_id))
            )
        return contexts

    async def cached_destinations(self, context: OwnerContext) -> Destinations | None:
        """Destinations per connected tool from the cache, without network; None when one
        was never read."""
        found: Destinations = {}
        for provider in context.connections:
            catalog = await self._catalogs.cached(
                team_id=context.team_id, user_id=context.user_id, provider=provider
            )
            if catalog is None:
                return None
            found[provider] = catalog.destinations
        return found

    async def fetched_destinations(self, context: OwnerContext) -> Destinations:
        """Destinations per connected tool, read from the provider when the cache is stale."""
        found: Destinations = {}
        for name, connection in context.connections.items():
            catalog = await self._catalogs.get(
                self._providers[name], credentials_of(connection), team_id=context.team_id,
                user_id=context.user_id,
            )  # fmt: skip
            found[name] = catalog.destinations
        return found

    async def decide_cached(
        self,
        item: RoutableItem,
        context: OwnerContext,
        known: dict[str, Destinations | None] | None = None,
    ) -> RoutingDecision:
        """Route `item` from the cached catalogs; `known` memoises them per owner across one
        request. Without a cached catalog the task is queued for the worker to route."""
        if known is not None and context.user_id in known:
            destinations = known[context.user_id]
        else:
            destinations = await self.cached_destinations(context)
            if known is not None:
                known[context.user_id] = destinations
        if destinations is None:
            return RoutingDecision(TaskState.QUEUED, None, None, "routing when the tool answers")
        return decide_route(item, context.preferences, destinations)

    async def decide_choice(
        self, item: RoutableItem, context: OwnerContext, provider: ProviderName
    ) -> RoutingDecision:
        """The owner picked `provider` for a task awaiting their choice."""
        if provider not in context.connections:
            return RoutingDecision(
                TaskState.PENDING_AUTH, provider, None,
                f"waiting for the owner to connect {provider.label}",
            )  # fmt: skip
        catalog = await self._catalogs.cached(
            team_id=context.team_id, user_id=context.user_id, provider=provider
        )
        if catalog is None:
            return RoutingDecision(TaskState.QUEUED, provider, None, f"you chose {provider.label}")
        return decide_for_choice(provider, item, context.preferences, catalog.destinations)
