"""A person's routing choices: mode, default tool, default list and database (SPEC "Routing"),
and whether a meeting's items wait for them to review first (`routing.review`).

A default destination is only ever one of the person's own lists or databases, read from the
catalog their own connection can see (`own_destination`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, RoutingMode
from primitives.ids import new_id
from routing.catalogs import CatalogCache
from routing.decide import RoutingPreferences
from routing.errors import InvalidInput
from routing.owner_context import preferences_from_row
from storage.models import IntegrationPreference


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
    review_first: bool = False

    @classmethod
    def of(cls, row: IntegrationPreference | None) -> PreferenceDetails:
        if row is None:
            return cls(RoutingMode.SMART, None, None, None)
        clickup = notion = None
        if row.default_clickup_list_id:
            clickup = DefaultDestination(
                row.default_clickup_list_id, row.default_clickup_list_name or ""
            )
        if row.default_notion_database_id:
            notion = DefaultDestination(
                row.default_notion_database_id, row.default_notion_database_name or ""
            )
        return cls(
            row.routing_mode, row.default_provider, clickup, notion,
            review_first=row.review_first,
        )  # fmt: skip


class Preferences:
    """Reading and changing people's routing preferences."""

    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], clock: Clock, catalogs: CatalogCache
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._catalogs = catalogs

    async def get(self, team_id: str, user_id: str) -> RoutingPreferences:
        async with self._sessions() as session:
            return preferences_from_row(await _row(session, team_id, user_id))

    async def details(self, team_id: str, user_id: str) -> PreferenceDetails:
        async with self._sessions() as session:
            return PreferenceDetails.of(await _row(session, team_id, user_id))

    async def change(
        self,
        team_id: str,
        user_id: str,
        *,
        routing_mode: RoutingMode | None = None,
        default_provider: ProviderName | None = None,
        default_clickup_list: tuple[str, str] | None = None,
        default_notion_database: tuple[str, str] | None = None,
        review_first: bool | None = None,
    ) -> RoutingPreferences:
        """Change what is given (a default destination is `(id, display name)`; `review_first`
        holds a meeting's items for the person to review before they are created)."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await _row(session, team_id, user_id)
            if row is None:
                row = IntegrationPreference(
                    id=new_id("prf"), team_id=team_id, user_id=user_id,
                    routing_mode=RoutingMode.SMART, review_first=False, created_at=now,
                )  # fmt: skip
                session.add(row)
            if routing_mode is not None:
                row.routing_mode = RoutingMode(routing_mode)
            if default_provider is not None:
                row.default_provider = ProviderName(default_provider)
            if default_clickup_list is not None:
                row.default_clickup_list_id, row.default_clickup_list_name = default_clickup_list
            if default_notion_database is not None:
                row.default_notion_database_id, row.default_notion_database_name = (
                    default_notion_database
                )
            if review_first is not None:
                row.review_first = review_first
            row.updated_at = now
            await session.flush()
            return preferences_from_row(row)

    async def own_destination(
        self, team_id: str, user_id: str, provider: ProviderName, destination_id: str
    ) -> tuple[str, str]:
        """`(id, display name)` of one of the person's real lists (databases), or `InvalidInput`.

        For choosing a default destination: only what the person's own connection can see.
        """
        field_name = (
            "default_clickup_list_id"
            if provider is ProviderName.CLICKUP
            else "default_notion_database_id"
        )
        catalog = await self._catalogs.cached(team_id=team_id, user_id=user_id, provider=provider)
        if catalog is None:
            raise InvalidInput(field_name, f"connect {provider.label} first")
        destination = catalog.destination(destination_id)
        if destination is None:
            raise InvalidInput(
                field_name,
                f"none of your {provider.label} {provider.destination_kind}s has this id",
            )
        return destination.id, destination.display_name


async def _row(session: AsyncSession, team_id: str, user_id: str) -> IntegrationPreference | None:
    return await session.scalar(
        select(IntegrationPreference).where(
            IntegrationPreference.team_id == team_id, IntegrationPreference.user_id == user_id
        )
    )
