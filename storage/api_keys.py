"""API keys for the HTTP API: shown once at creation, stored only as a hash, scoped to a team.

Keys carry 256 random bits, so a plain SHA-256 is the right hash (nothing to brute-force;
a slow password hash would only slow every API call).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.ids import new_id
from storage.models import ApiKey

KEY_PREFIX = "sct_"
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: `secret` is shown once and never stored."""

    id: str
    team_id: str
    name: str
    secret: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


async def create_api_key(
    session: AsyncSession, *, team_id: str, name: str, now: datetime
) -> IssuedKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=new_id("key"),
        team_id=team_id,
        name=name,
        prefix=secret[: len(KEY_PREFIX) + 6],
        key_hash=hash_key(secret),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return IssuedKey(id=row.id, team_id=team_id, name=name, secret=secret)


async def list_api_keys(session: AsyncSession, *, team_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.team_id, ApiKey.created_at, ApiKey.id)
    if team_id is not None:
        query = query.where(ApiKey.team_id == team_id)
    return list((await session.scalars(query)).all())


async def revoke_api_key(session: AsyncSession, key_id: str, *, now: datetime) -> bool:
    """Revoke a key by id; False when no such active key exists."""
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return getattr(result, "rowcount", 0) == 1


async def authenticate(session: AsyncSession, secret: str, *, now: datetime) -> ApiKey | None:
    """The active key matching `secret`, or None. Records when it was last used (to the
    minute)."""
    if not secret.startswith(KEY_PREFIX):
        return None
    digest = hash_key(secret)
    row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    # The lookup is by hash, so timing reveals nothing of the secret; compare anyway.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
        return None
    # At most one write a minute per key: concurrent calls with one key must not queue on
    # its row lock just to record the time.
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = now
    return row


class ApiKeyStore:
    """API keys as the HTTP side checks them, each check in its own transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def team_of(self, secret: str, *, now: datetime) -> str | None:
        """The team of the active key `secret`, or None; records the key's use."""
        async with self._sessions() as session, session.begin():
            key = await authenticate(session, secret, now=now)
            return None if key is None else key.team_id
