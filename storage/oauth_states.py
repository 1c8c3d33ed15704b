"""One-time OAuth `state` values, bound to a person and to the browser that started the flow.

Only SHA-256 hashes of the state and of the browser secret (the cookie) are stored: a database
dump cannot be replayed. A state is accepted once, before it expires, and only with the cookie
of the browser it was made for (RFC 9700 §4.7: CSRF protection bound to the user agent).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName
from primitives.ids import new_id
from storage.models import OAuthState

STATE_LIFETIME = timedelta(minutes=10)
STATE_BYTES = 32  # 256 random bits; the BCP asks for at least 128


class StateProblem(StrEnum):
    """Why a callback's state was refused (each has its own page)."""

    UNKNOWN = "unknown"  # never issued, or forged
    USED = "used"  # already accepted once: a replay, or the back button
    EXPIRED = "expired"
    OTHER_BROWSER = "other_browser"  # missing or foreign cookie
    OTHER_PROVIDER = "other_provider"  # issued for the other tool's callback


class StateRefused(Exception):
    def __init__(self, problem: StateProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class AcceptedState:
    """Who the accepted state was made for."""

    team_id: str
    user_id: str
    provider: ProviderName


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(STATE_BYTES)


async def issue_state(
    session: AsyncSession,
    *,
    team_id: str,
    user_id: str,
    provider: ProviderName,
    browser_secret: str,
    now: datetime,
) -> str:
    """Store a new state for this person, tool and browser; returns the state to send."""
    state = new_secret()
    session.add(
        OAuthState(
            id=new_id("ost"),
            state_hash=digest(state),
            browser_hash=digest(browser_secret),
            team_id=team_id,
            user_id=user_id,
            provider=provider,
            created_at=now,
            expires_at=now + STATE_LIFETIME,
        )
    )
    await session.flush()
    return state


async def accept_state(
    session: AsyncSession,
    *,
    state: str,
    provider: ProviderName,
    browser_secret: str | None,
    now: datetime,
) -> AcceptedState:
    """Consume `state` or raise `StateRefused` saying why.

    The consuming UPDATE repeats every condition, so two callbacks racing with the same state
    cannot both succeed (only one UPDATE matches a row whose `consumed_at` is still NULL).
    """
    state_hash = digest(state)
    row = await session.scalar(select(OAuthState).where(OAuthState.state_hash == state_hash))
    if row is None:
        raise StateRefused(StateProblem.UNKNOWN)
    if row.provider != provider:
        raise StateRefused(StateProblem.OTHER_PROVIDER)
    if row.consumed_at is not None:
        raise StateRefused(StateProblem.USED)
    if row.expires_at <= now:
        raise StateRefused(StateProblem.EXPIRED)
    if browser_secret is None or not hmac.compare_digest(row.browser_hash, digest(browser_secret)):
        raise StateRefused(StateProblem.OTHER_BROWSER)
    result = await session.execute(
        update(OAuthState)
        .where(
            OAuthState.id == row.id,
            OAuthState.consumed_at.is_(None),
            OAuthState.expires_at > now,
        )
        .values(consumed_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise StateRefused(StateProblem.USED)
    return AcceptedState(row.team_id, row.user_id, row.provider)


async def purge_states(session: AsyncSession, *, now: datetime) -> int:
    """Delete states expired for a day or more (kept a while so a replay reads "used")."""
    result = await session.execute(
        delete(OAuthState).where(OAuthState.expires_at < now - timedelta(days=1))
    )
    return int(getattr(result, "rowcount", 0) or 0)


class OAuthStateStore:
    """The connect flow's states, each operation in its own transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def issue(
        self, *, team_id: str, user_id: str, provider: ProviderName, browser_secret: str,
        now: datetime,
    ) -> str:  # fmt: skip
        """A new state for this person, tool and browser (old expired states are purged)."""
        async with self._sessions() as session, session.begin():
            await purge_states(session, now=now)  # the table stays small
            return await issue_state(
                session, team_id=team_id, user_id=user_id, provider=provider,
                browser_secret=browser_secret, now=now,
            )  # fmt: skip

    async def accept(
        self, *, state: str, provider: ProviderName, browser_secret: str | None, now: datetime
    ) -> AcceptedState:
        """Consume `state`, or `StateRefused` saying why."""
        async with self._sessions() as session, session.begin():
            return await accept_state(
                session, state=state, provider=provider, browser_secret=browser_secret, now=now
            )
