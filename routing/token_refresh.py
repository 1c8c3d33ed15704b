"""Refreshing a connection's access token with its tool, once, for whoever was refused.

The dispatcher (creating a task) and the status reader (reading one) both meet a token the
tool refuses: each asks `refresh_connection` once, which has the tool trade the refresh token
for new ones and stores them (`storage.connections.refresh_tokens`: only when the stored
access token is still the refused one, so two processes refreshing at once agree on one).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from providers.base import Provider
from storage.connections import NewTokens, StoredConnection, refresh_tokens
from storage.vault import TokenVault


async def refresh_connection(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    connection: StoredConnection,
    provider: Provider,
    *,
    now: datetime,
) -> StoredConnection:
    """`connection` with fresh tokens from `provider`; raises `storage.connections.
    ConnectionGone` or the provider's error when that cannot be."""

    async def refresh(refresh_token: str) -> NewTokens:
        tokens = await provider.refresh(refresh_token)
        return NewTokens(tokens.access_token, tokens.refresh_token, tokens.expires_at, tokens.scope)

    return await refresh_tokens(
        sessions, vault, connection_id=connection.id,
        stale_access_token=connection.access_token, refresh=refresh, now=now,
    )  # fmt: skip
