"""People's connections to ClickUp and Notion: tokens in, tokens out, always through the vault."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName
from primitives.ids import new_id
from storage.models import UserAuthToken
from storage.vault import TokenVault


@dataclass(frozen=True)
class StoredConnection:
    """A connection with its tokens decrypted. Tokens never appear in `repr`."""

    id: str
    team_id: str
    user_id: str
    provider: ProviderName
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    workspace_id: str | None
    workspace_name: str | None
    account_email: str | None
    needs_reconnect: bool


@dataclass(frozen=True)
class NewTokens:
    """What a code exchange or refresh gave us to store."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scope: str | None = None


async def save_connection(
    session: AsyncSession,
    vault: TokenVault,
    *,
    team_id: str,
    user_id: str,
    provider: ProviderName,
    tokens: NewTokens,
    now: datetime,
    workspace_id: str | None = None,
    workspace_name: str | None = None,
    account_id: str | None = None,
    account_email: str | None = None,
) -> UserAuthToken:
    """Store (or replace) a person's connection to a tool, encrypting its tokens.

    Reconnecting replaces the tokens of the one row the unique constraint allows and clears
    `needs_reconnect`.
    """
    row = await session.scalar(
        select(UserAuthToken)
        .where(
            UserAuthToken.team_id == team_id,
            UserAuthToken.user_id == user_id,
            UserAuthToken.provider == provider,
        )
        .with_for_update()
    )
    if row is None:
        row = UserAuthToken(
            id=new_id("con"), team_id=team_id, user_id=user_id, provider=provider, created_at=now
        )
        session.add(row)
    row.encrypted_access_token = vault.encrypt(tokens.access_token)
    row.encrypted_refresh_token = (
        vault.encrypt(tokens.refresh_token) if tokens.refresh_token is not None else None
    )
    row.expires_at = tokens.expires_at
    row.scope = tokens.scope
    row.workspace_id = workspace_id
    row.workspace_name = workspace_name
    row.account_id = account_id
    row.account_email = account_email
    row.needs_reconnect = False
    row.updated_at = now
    await session.flush()
    return row


def decrypt_connection(row: UserAuthToken, vault: TokenVault) -> StoredConnection:
    return StoredConnection(
        id=row.id,
        team_id=row.team_id,
        user_id=row.user_id,
        provider=row.provider,
        access_token=vault.decrypt(row.encrypted_access_token),
        refresh_token=(
            vault.decrypt(row.encrypted_refresh_token) if row.encrypted_refresh_token else None
        ),
        expires_at=row.expires_at,
        workspace_id=row.workspace_id,
        workspace_name=row.workspace_name,
        account_email=row.account_email,
        needs_reconnect=row.needs_reconnect,
    )


async def load_connection(
    session: AsyncSession,
    vault: TokenVault,
    *,
    team_id: str,
    user_id: str,
    provider: ProviderName,
) -> StoredConnection | None:
    row = await session.scalar(
        select(UserAuthToken).where(
            UserAuthToken.team_id == team_id,
            UserAuthToken.user_id == user_id,
            UserAuthToken.provider == provider,
        )
    )
    return None if row is None else decrypt_connection(row, vault)


class ConnectionGone(Exception):
    """The connection row no longer exists (the person disconnected meanwhile)."""


async def refresh_tokens(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    *,
    connection_id: str,
    stale_access_token: str,
    refresh: Callable[[str], Awaitable[NewTokens]],
    now: datetime,
) -> StoredConnection:
    """Refresh one connection's tokens, at most once across every process.

    Refresh tokens rotate (the old one dies on use), so two processes refreshing the same
    connection at once would leave one of them — and possibly the stored pair — dead. The first
    statement of the transaction writes the row, which takes PostgreSQL's row lock and SQLite's
    database write lock; a second refresher waits there, then sees that the access token is no
    longer the stale one it was refused with and uses the stored pair without calling the
    provider. The new pair is committed before anyone uses it.

    `refresh` is the provider's refresh call; when it raises (e.g. `AuthRevoked`), the row is
    left as it was and the error propagates (the caller marks the connection for reconnecting).
    A response without a new refresh token keeps the old one.
    """
    async with sessions() as session, session.begin():
        locked = await session.execute(
            update(UserAuthToken).where(UserAuthToken.id == connection_id).values(updated_at=now)
        )
        if getattr(locked, "rowcount", 0) != 1:
            raise ConnectionGone(connection_id)
        row = await session.scalar(
            select(UserAuthToken)
            .where(UserAuthToken.id == connection_id)
            .execution_options(populate_existing=True)
        )
        assert row is not None
        current = decrypt_connection(row, vault)
        if current.access_token != stale_access_token or current.refresh_token is None:
            # Someone refreshed (or reconnected) meanwhile: their pair is the one to use.
            return current
        tokens = await refresh(current.refresh_token)
        row.encrypted_access_token = vault.encrypt(tokens.access_token)
        row.encrypted_refresh_token = vault.encrypt(tokens.refresh_token or current.refresh_token)
        row.expires_at = tokens.expires_at
        if tokens.scope is not None:
            row.scope = tokens.scope
        row.needs_reconnect = False
        await session.flush()
        return decrypt_connection(row, vault)


async def mark_needs_reconnect(session: AsyncSession, *, connection_id: str, now: datetime) -> None:
    await session.execute(
        update(UserAuthToken)
        .where(UserAuthToken.id == connection_id)
        .values(needs_reconnect=True, updated_at=now)
    )
