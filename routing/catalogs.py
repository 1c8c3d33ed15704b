"""The cached catalog of each connection: its destinations and members, kept in the database.

Reading a ClickUp hierarchy or a Notion workspace takes several requests; creating a task must
take one. So the catalog is read once per connection, stored in `provider_catalog`, and read
again only when it is older than the TTL or someone asks (the Home tab's refresh, a destination
that turned out to be gone).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from primitives.ids import new_id
from primitives.text import clean_name
from providers.base import Catalog, Credentials, Destination, DestinationField, Member, Provider
from storage.models import ProviderCatalog

DEFAULT_TTL = timedelta(minutes=30)
FORMAT_VERSION = 1


def catalog_to_data(catalog: Catalog) -> dict[str, Any]:
    """A JSON-ready form of a catalog (the `provider_catalog.data` column). Names people see
    (lists, databases, their paths, members) are stored without bidi or control characters;
    field names stay exact, since the tool's API is called with them."""
    return {
        "version": FORMAT_VERSION,
        "provider": catalog.provider.value,
        "destinations": [
            {
                "id": d.id,
                "name": clean_name(d.name) or d.id,
                "workspace_id": d.workspace_id,
                "path": [clean_name(part) for part in d.path],
                "parent_id": d.parent_id,
                "fields": [
                    {"name": f.name, "type": f.type, "options": list(f.options)} for f in d.fields
                ],
            }
            for d in catalog.destinations
        ],
        "members": [
            {
                "id": m.id,
                "name": clean_name(m.name),
                "email": m.email,
                "workspace_id": m.workspace_id,
            }
            for m in catalog.members
        ],
        "members_note": catalog.members_note,
    }


def catalog_from_data(data: dict[str, Any], fetched_at: datetime) -> Catalog | None:
    """The catalog stored by `catalog_to_data`, or None when it is of another format."""
    if data.get("version") != FORMAT_VERSION:
        return None
    try:
        provider = ProviderName(data["provider"])
        return Catalog(
            provider=provider,
            destinations=tuple(
                Destination(
                    provider=provider,
                    id=str(d["id"]),
                    name=str(d["name"]),
                    workspace_id=str(d["workspace_id"]),
                    path=tuple(d.get("path") or ()),
                    parent_id=d.get("parent_id"),
                    fields=tuple(
                        DestinationField(f["name"], f["type"], tuple(f.get("options") or ()))
                        for f in d.get("fields") or ()
                    ),
                )
                for d in data["destinations"]
            ),
            members=tuple(
                Member(str(m["id"]), str(m["name"]), m.get("email"), str(m["workspace_id"]))
                for m in data["members"]
            ),
            fetched_at=fetched_at,
            members_note=data.get("members_note"),
        )
    except (KeyError, TypeError, ValueError):
        return None


class CatalogCache:
    """Catalogs per (team, person, tool), read through from the provider when stale."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._ttl = ttl
        # Bumped whenever this process stores or drops a connection's catalog: what a reader
        # keeps in memory (`routing.destinations`) under an older version is not used again.
        self._versions: dict[tuple[str, str, ProviderName], int] = {}

    def version(self, *, team_id: str, user_id: str, provider: ProviderName) -> int:
        """How many times this process stored or dropped that catalog."""
        return self._versions.get((team_id, user_id, provider), 0)

    def _changed(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        key = (team_id, user_id, provider)
        self._versions[key] = self._versions.get(key, 0) + 1

    async def cached(self, *, team_id: str, user_id: str, provider: ProviderName) -> Catalog | None:
        """The stored catalog, however old, without asking the provider."""
        async with self._sessions() as session:
            row = await self._row(session, team_id, user_id, provider)
        return None if row is None else catalog_from_data(row.data, row.fetched_at)

    async def get(
        self,
        provider: Provider,
        credentials: Credentials,
        *,
        team_id: str,
        user_id: str,
        refresh: bool = False,
    ) -> Catalog:
        """The catalog, fetched from the provider when missing, stale or `refresh` is set."""
        if not refresh:
            catalog = await self.cached(team_id=team_id, user_id=user_id, provider=provider.name)
            if catalog is not None and self._clock.now() - catalog.fetched_at < self._ttl:
                return catalog
        catalog = await provider.fetch_catalog(credentials)
        await self.store(catalog, team_id=team_id, user_id=user_id)
        return catalog

    async def store(self, catalog: Catalog, *, team_id: str, user_id: str) -> None:
        data = catalog_to_data(catalog)
        self._changed(team_id, user_id, catalog.provider)
        for _ in range(2):  # a concurrent first insert turns ours into an update
            try:
                async with self._sessions() as session, session.begin():
                    row = await self._row(session, team_id, user_id, catalog.provider)
                    if row is None:
                        session.add(
                            ProviderCatalog(
                                id=new_id("cat"),
                                team_id=team_id,
                                user_id=user_id,
                                provider=catalog.provider.value,
                                data=data,
                                fetched_at=catalog.fetched_at,
                            )
                        )
                    else:
                        row.data = data
                        row.fetched_at = catalog.fetched_at
                self._changed(team_id, user_id, catalog.provider)
                return
            except IntegrityError:
                continue

    async def forget(self, *, team_id: str, user_id: str, provider: ProviderName) -> None:
        """Drop a connection's catalog (on disconnect)."""
        self._changed(team_id, user_id, provider)
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(ProviderCatalog).where(
                    ProviderCatalog.team_id == team_id,
                    ProviderCatalog.user_id == user_id,
                    ProviderCatalog.provider == provider.value,
                )
            )

    @staticmethod
    async def _row(
        session: AsyncSession, team_id: str, user_id: str, provider: ProviderName
    ) -> ProviderCatalog | None:
        return await session.scalar(
            select(ProviderCatalog).where(
                ProviderCatalog.team_id == team_id,
                ProviderCatalog.user_id == user_id,
                ProviderCatalog.provider == provider.value,
            )
        )
