"""People's connections to ClickUp and Notion: tokens in, tokens out, always through the vault."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import UserAuthToken
from storage.types import new_id
from storage.vault import TokenVault


@dataclass(frozen=True)
class StoredConnection:
    """A connection with its tokens decrypted. Tokens never appear in `repr`."""

    id: str
    team_id: str
    user_id: str
    provider: str
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
    provider: str,
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
    session: AsyncSession, vault: TokenVault, *, team_id: str, user_id: str, provider: str
) -> StoredConnection | None:
    row = await session.scalar(
        select(UserAuthToken).where(
            UserAuthToken.team_id == team_id,
            UserAuthToken.user_id == user_id,
            UserAuthToken.provider == provider,
        )
    )
    return None if row is None else decrypt_connection(row, vault)
