"""One-time OAuth `state` values, bound to a person and to the browser that started the flow.

Only SHA-256 hashes of the state, of the browser secret (the cookie) and of the connect link
are stored: a database dump cannot be replayed. A state is accepted once, before it expires,
for the step it was made for, and only with the cookie of the browser it was made for (RFC 9700
§4.7: CSRF protection bound to the user agent).

A connect link is spent by the connection made with it (`spend_link`); the flows a person
started recently are counted for the start limit (`recent_starts`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName
from primitives.ids import new_id
from storage.models import OAuthState, SpentLink

STATE_LIFETIME = timedelta(minutes=10)
STATE_BYTES = 32  # 256 random bits; the BCP asks for at least 128


class StateStep(StrEnum):
    """What a state may be spent on (one flow makes one state per step it goes through)."""

    SIGN_IN = "sign_in"  # Sign in with Slack sends the browser back with it
    CONFIRM = "confirm"  # the form of a confirmation page posts it
    PROVIDER = "provider"  # ClickUp or Notion sends the browser back with it


class StateProblem(StrEnum):
    """Why a callback's state was refused (each has its own page)."""

    UNKNOWN = "unknown"  # never issued, or forged
    USED = "used"  # already accepted once: a replay, or the back button
    EXPIRED = "expired"
    OTHER_BROWSER = "other_browser"  # missing or foreign cookie
    OTHER_PROVIDER = "other_provider"  # issued for the other tool's callback
    OTHER_STEP = "other_step"  # a state of one step offered to another


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
    link_hash: str | None = None


@dataclass(frozen=True)
class RecentStarts:
    """The flows a person started within a window: how many, and when the oldest did."""

    count: int
    oldest: datetime | None


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
    step: StateStep = StateStep.PROVIDER,
    link_hash: str | None = None,
    first_step: bool = False,
) -> str:
    """Store a new state for this person, tool, browser and step; returns the state to send."""
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
            step=step.value,
            link_hash=link_hash,
            first_step=first_step,
        )
    )
    await session.flush()
    return state


async def accept_state(
    session: AsyncSession,
    *,
    state: str,
    provider: ProviderName | None,
    browser_secret: str | None,
    now: datetime,
    step: StateStep = StateStep.PROVIDER,
) -> AcceptedState:
    """Consume `state` or raise `StateRefused` saying why.

    The consuming UPDATE repeats every condition, so two callbacks racing with the same state
    cannot both succeed (only one UPDATE matches a row whose `consumed_at` is still NULL).
    """
    state_hash = digest(state)
    row = await session.scalar(select(OAuthState).where(OAuthState.state_hash == state_hash))
    if row is None:
        raise StateRefused(StateProblem.UNKNOWN)
    if provider is not None and row.provider != provider:
        raise StateRefused(StateProblem.OTHER_PROVIDER)
    if row.step != step.value:
        raise StateRefused(StateProblem.OTHER_STEP)
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
    return AcceptedState(row.team_id, row.user_id, row.provider, row.link_hash)


async def purge_states(session: AsyncSession, *, now: datetime) -> int:
    """Delete states expired for a day or more (kept a while so a replay reads "used"), and
    spent links past their expiry (an expired link is refused as expired anyway)."""
    result = await session.execute(
        delete(OAuthState).where(OAuthState.expires_at < now - timedelta(days=1))
    )
    await session.execute(delete(SpentLink).where(SpentLink.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)


class OAuthStateStore:
    """The connect flow's states, each operation in its own transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def issue(
        self, *, team_id: str, user_id: str, provider: ProviderName, browser_secret: str,
        now: datetime, step: StateStep = StateStep.PROVIDER, link_hash: str | None = None,
        first_step: bool = False,
    ) -> str:  # fmt: skip
        """A new state for this person, tool, browser and step (old expired states are
        purged); `first_step` when it starts a flow (counted by `recent_starts`)."""
        async with self._sessions() as session, session.begin():
            await purge_states(session, now=now)  # the table stays small
            return await issue_state(
                session, team_id=team_id, user_id=user_id, provider=provider,
                browser_secret=browser_secret, now=now, step=step, link_hash=link_hash,
                first_step=first_step,
            )  # fmt: skip

    async def accept(
        self, *, state: str, provider: ProviderName | None, browser_secret: str | None,
        now: datetime, step: StateStep = StateStep.PROVIDER,
    ) -> AcceptedState:  # fmt: skip
        """Consume `state` for `step` (and `provider`; None: a sign-in, for either tool), or
        `StateRefused` saying why."""
        async with self._sessions() as session, session.begin():
            return await accept_state(
                session, state=state, provider=provider, browser_secret=browser_secret, now=now,
                step=step,
            )  # fmt: skip

    async def knows_browser(self, browser_secret: str, *, now: datetime) -> bool:
        """Whether we issued this browser secret (a state made for it is still live); a value
        a client chose itself is never adopted."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(
                    exists().where(
                        OAuthState.browser_hash == digest(browser_secret),
                        OAuthState.expires_at > now,
                    )
                )
            )
        return bool(found)

    async def recent_starts(self, *, team_id: str, user_id: str, since: datetime) -> RecentStarts:
        """The flows this person started since `since` (first steps only)."""
        async with self._sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(OAuthState.created_at)).where(
                        OAuthState.team_id == team_id,
                        OAuthState.user_id == user_id,
                        OAuthState.first_step.is_(True),
                        OAuthState.created_at > since,
                    )
                )
            ).one()
        return RecentStarts(int(count or 0), oldest)

    async def link_spent(self, link_hash: str) -> bool:
        async with self._sessions() as session:
            row = await session.get(SpentLink, link_hash)
        return row is not None

    async def spend_link(
        self, *, link_hash: str, team_id: str, user_id: str, expires_at: datetime, now: datetime
    ) -> bool:
        """Mark a link spent; False when it already was (two callbacks racing: one wins)."""
        try:
            async with self._sessions() as session, session.begin():
                session.add(
                    SpentLink(
                        link_hash=link_hash,
                        team_id=team_id,
                        user_id=user_id,
                        spent_at=now,
                        expires_at=expires_at,
                    )
                )
        except IntegrityError:
            return False
        return True
