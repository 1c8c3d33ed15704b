"""Rotating refresh tokens: one refresh per connection, however many processes ask at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName
from storage.connections import (
    ConnectionGone,
    NewTokens,
    load_connection,
    refresh_tokens,
    save_connection,
)
from storage.engine import create_engine, session_factory
from storage.vault import TokenVault, new_key

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class RotatingProvider:
    """A token endpoint whose refresh tokens die on use, like Notion's."""

    def __init__(self) -> None:
        self.valid_refresh = "nrt_0"
        self.calls = 0

    async def refresh(self, refresh_token: str) -> NewTokens:
        self.calls += 1
        if refresh_token != self.valid_refresh:
            raise PermissionError("invalid_grant")
        # Give a concurrent refresher every chance to race us while the request is "in flight".
        await asyncio.sleep(0.05)
        self.valid_refresh = f"nrt_{self.calls}"
        return NewTokens(f"ntn_{self.calls}", self.valid_refresh, NOW + timedelta(hours=1))


async def seed(sessions: async_sessionmaker[AsyncSession], vault: TokenVault) -> str:
    async with sessions() as session, session.begin():
        row = await save_connection(
            session, vault, team_id="T1", user_id="U1", provider=ProviderName.NOTION,
            tokens=NewTokens("ntn_0", "nrt_0", NOW), now=NOW,
        )  # fmt: skip
    return row.id


async def test_two_processes_refreshing_at_once_refresh_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    vault = TokenVault([new_key()])
    connection_id = await seed(sessions, vault)
    provider = RotatingProvider()
    # Two engines: two connection pools, as two processes would have.
    engines = [create_engine(database_url), create_engine(database_url)]
    try:
        results = await asyncio.gather(
            *(
                refresh_tokens(
                    session_factory(engine),
                    vault,
                    connection_id=connection_id,
                    stale_access_token="ntn_0",
                    refresh=provider.refresh,
                    now=NOW,
                )
                for engine in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert provider.calls == 1
    assert {r.access_token for r in results} == {"ntn_1"}
    async with sessions() as session:
        stored = await load_connection(
            session, vault, team_id="T1", user_id="U1", provider=ProviderName.NOTION
        )
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("ntn_1", "nrt_1")
    assert stored.expires_at == NOW + timedelta(hours=1)


async def test_a_refused_refresh_leaves_the_stored_pair_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    vault = TokenVault([new_key()])
    connection_id = await seed(sessions, vault)
    provider = RotatingProvider()
    provider.valid_refresh = "nrt_someone_else"
    with pytest.raises(PermissionError):
        await refresh_tokens(
            sessions, vault, connection_id=connection_id, stale_access_token="ntn_0",
            refresh=provider.refresh, now=NOW,
        )  # fmt: skip
    async with sessions() as session:
        stored = await load_connection(
            session, vault, team_id="T1", user_id="U1", provider=ProviderName.NOTION
        )
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("ntn_0", "nrt_0")


async def test_a_response_without_a_refresh_token_keeps_the_old_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    vault = TokenVault([new_key()])
    connection_id = await seed(sessions, vault)

    async def refresh(_: str) -> NewTokens:
        return NewTokens("ntn_new")

    result = await refresh_tokens(
        sessions, vault, connection_id=connection_id, stale_access_token="ntn_0",
        refresh=refresh, now=NOW,
    )  # fmt: skip
    assert (result.access_token, result.refresh_token) == ("ntn_new", "nrt_0")


async def test_refreshing_a_deleted_connection_says_so(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def refresh(_: str) -> NewTokens:
        raise AssertionError("must not be called")

    with pytest.raises(ConnectionGone):
        await refresh_tokens(
            sessions, TokenVault([new_key()]), connection_id="con_missing",
            stale_access_token="x", refresh=refresh, now=NOW,
        )  # fmt: skip
