"""What routing needs to know about one owner: working connections, preferences, catalogs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from primitives.enums import ProviderName, RoutingMode
from providers.base import Credentials, Destination, Provider
from routing.catalogs import CatalogCache
from routing.decide import RoutingPreferences
from storage.connections import StoredConnection, decrypt_connection
from storage.models import IntegrationPreference, UserAuthToken
from storage.vault import TokenVault


@dataclass(frozen=True)
class OwnerContext:
    team_id: str
    user_id: str
    connections: Mapping[ProviderName, StoredConnection]  # working ones only
    broken: frozenset[ProviderName]  # connected once, now needing a reconnect
    preferences: RoutingPreferences

    def credentials(self, provider: ProviderName) -> Credentials | None:
        connection = self.connections.get(provider)
        if connection is None:
            return None
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
        mode=RoutingMode(row.routing_mode),
        default_provider=ProviderName(row.default_provider) if row.default_provider else None,
        default_destinations=defaults,
    )


async def load_owner_context(
    session: AsyncSession, vault: TokenVault, *, team_id: str, user_id: str
) -> OwnerContext:
    contexts = await load_owner_contexts(session, vault, team_id=team_id, user_ids=[user_id])
    return contexts[user_id]


async def load_owner_contexts(
    session: AsyncSession, vault: TokenVault, *, team_id: str, user_ids: Sequence[str]
) -> dict[str, OwnerContext]:
    """The contexts of several owners of one team, in two queries whatever their number."""
    wanted = sorted(set(user_ids))
    tokens = (
        await session.scalars(
            select(UserAuthToken).where(
                UserAuthToken.team_id == team_id, UserAuthToken.user_id.in_(wanted)
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
            ProviderName(row.provider): decrypt_connection(row, vault)
            for row in rows
            if not row.needs_reconnect
        }
        broken = frozenset(ProviderName(row.provider) for row in rows if row.needs_reconnect)
        contexts[user_id] = OwnerContext(
            team_id, user_id, working, broken, preferences_from_row(preferences.get(user_id))
        )
    return contexts


async def cached_catalogs(
    context: OwnerContext, catalogs: CatalogCache
) -> dict[ProviderName, Sequence[Destination]] | None:
    """Destinations per connected tool from the cache, without network; None if one is missing."""
    found: dict[ProviderName, Sequence[Destination]] = {}
    for provider in context.connections:
        catalog = await catalogs.cached(
            team_id=context.team_id, user_id=context.user_id, provider=provider
        )
        if catalog is None:
            return None
        found[provider] = catalog.destinations
    return found


async def fetched_catalogs(
    context: OwnerContext,
    catalogs: CatalogCache,
    providers: Mapping[ProviderName, Provider],
) -> dict[ProviderName, Sequence[Destination]]:
    """Destinations per connected tool, read from the provider when the cache is stale."""
    found: dict[ProviderName, Sequence[Destination]] = {}
    for name in context.connections:
        credentials = context.credentials(name)
        if credentials is None or name not in providers:
            continue  # a tool this deployment has no OAuth app for counts as not connected
        catalog = await catalogs.get(
            providers[name], credentials, team_id=context.team_id, user_id=context.user_id
        )
        found[name] = catalog.destinations
    return found
