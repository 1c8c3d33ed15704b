"""Slack installations in many workspaces: Bolt's two OAuth stores, on our database.

    SlackInstallationStore(sessions, vault, clock)  # slack_sdk's AsyncInstallationStore
    SlackOAuthStateStore(sessions, clock)           # slack_sdk's AsyncOAuthStateStore

The installation store keeps one row of `slack_installations` per workspace (per org, for an
org-wide install), keyed by (enterprise_id, team_id) with "" for an absent id: installing again
and Bolt's token rotation (`oauth.v2.access grant_type=refresh_token` near expiry, then
`async_save`) update that row in place. It keeps the bot only: the bot token and, with token
rotation, its refresh token and expiry, encrypted with the `TokenVault`; no token is ever
logged. `bot_token(team_id)` is the plain look-up for our own code (the notifier, the
directory); given a `TokenRefresh`, it refreshes a rotating token near expiry itself, since
Bolt only does when an event comes in. `forget_workspace` is what `app_uninstalled` and
`tokens_revoked` do (`bot.listeners.install_events`).

The state store keeps only the SHA-256 of each state: 256 random bits, taken once, within ten
minutes; expired rows are purged whenever a state is issued or taken.

Wiring (Bolt only refreshes through the app's own client when the app itself is given the
store; given only in the OAuth settings, the refresh goes to slack.com on a default client):

    AsyncApp(signing_secret=..., client=slack_web_client(api_url), installation_store=store,
             oauth_settings=AsyncOAuthSettings(..., installation_store=store,
                                               state_store=states))
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.ids import new_id
from storage.models import SlackInstallation, SlackInstallState
from storage.vault import TokenVault

STATE_LIFETIME = timedelta(minutes=10)
STATE_BYTES = 32  # 256 random bits; RFC 9700 asks for at least 128

log = logging.getLogger(__name__)


def _key(
    enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
) -> tuple[str, str]:
    """The row's (enterprise_id, team_id). An org-wide install belongs to the org whichever of
    its workspaces a request comes from, so its team id is dropped (as slack_sdk's stores do)."""
    if is_enterprise_install or not team_id:
        return enterprise_id or "", ""
    return enterprise_id or "", team_id


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


@dataclass(frozen=True)
class TokenRefresh:
    """What `bot_token` needs to refresh a rotating token near its expiry by itself: Bolt does
    it only when an event comes in, and our own calls (the notifier) may come first."""

    client: AsyncWebClient
    client_id: str
    client_secret: str = field(repr=False)
    ahead: timedelta = timedelta(minutes=120)  # as Bolt's token_rotation_expiration_minutes


FOUND_KEPT = 5.0  # seconds an install Bolt looked up answers its next requests


class SlackInstallationStore(AsyncInstallationStore):
    """Bolt's installation store over `slack_installations` (bot tokens only); with `refresh`,
    `bot_token` also refreshes a rotating token near its expiry."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        clock: Clock,
        *,
        refresh: TokenRefresh | None = None,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._refresh = refresh
        # Bolt asks for the install before every request's ack (its authorize): each answer
        # is kept FOUND_KEPT seconds, and dropped at once when this process saves or deletes
        # an install (another process's shows within those seconds).
        self._found: dict[tuple[str, str], tuple[SlackInstallation | None, float]] = {}

    @property
    def logger(self) -> logging.Logger:
        return log

    # --- saving ---------------------------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        """Store an install (or the refreshed tokens of one) in the workspace's row."""
        if installation.bot_token is None:
            # Bolt turns a BoltError into its "storage_error" failure page.
            raise BoltError("this install gave no bot token; Scrumy Tasks needs its bot")
        key = _key(
            installation.enterprise_id, installation.team_id, installation.is_enterprise_install
        )
        await self._save(key, installation.to_bot(), installer=installation.user_id or None)

    async def async_save_bot(self, bot: Bot) -> None:
        """Store a bot's (refreshed) token; Bolt calls it when it only looks bots up."""
        await self._save(_key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install), bot)

    async def _save(self, key: tuple[str, str], bot: Bot, installer: str | None = None) -> None:
        self._found.clear()
        # Two saves of one new workspace at once (a double-clicked "Allow", two processes
        # refreshing) race to insert; the loser's second attempt finds and updates the row.
        for attempt in range(2):
            try:
                async with self._sessions() as session, session.begin():
                    await self._write(session, key, bot, installer)
                self._found.clear()
                return
            except IntegrityError:
                if attempt:
                    raise

    async def _write(
        self, session: AsyncSession, key: tuple[str, str], bot: Bot, installer: str | None
    ) -> None:
        now = self._clock.now()
        row = await session.scalar(_where(select(SlackInstallation), key).with_for_update())
        if row is None:
            row = SlackInstallation(
                id=new_id("sli"), enterprise_id=key[0], team_id=key[1], created_at=now
            )
            session.add(row)
        row.enterprise_name = bot.enterprise_name
        row.team_name = bot.team_name
        row.app_id = bot.app_id
        row.is_enterprise_install = bool(bot.is_enterprise_install)
        row.bot_id = bot.bot_id
        row.bot_user_id = bot.bot_user_id
        row.encrypted_bot_token = self._vault.encrypt(bot.bot_token)
        refresh = bot.bot_refresh_token
        row.encrypted_bot_refresh_token = self._vault.encrypt(refresh) if refresh else None
        expires = bot.bot_token_expires_at
        row.bot_token_expires_at = None if expires is None else datetime.fromtimestamp(expires, UTC)
        row.bot_scopes = ",".join(bot.bot_scopes)
        if installer is not None:
            row.installer_user_id = installer
        row.encrypted_user_token = None  # the bot only: user tokens are never asked for or kept
        row.user_scopes = None
        row.updated_at = now
        log.info("saved the Slack installation of %s", key[1] or key[0])

    # --- finding --------------------------------------------------------------------------

    async def _find(self, key: tuple[str, str]) -> SlackInstallation | None:
        kept = self._found.get(key)
        if kept is not None and self._clock.monotonic() - kept[1] < FOUND_KEPT:
            return kept[0]
        async with self._sessions() as session:
            row: SlackInstallation | None = await session.scalar(
                _where(select(SlackInstallation), key)
            )
        self._found[key] = (row, self._clock.monotonic())
        return row

    def _bot(self, row: SlackInstallation) -> Bot:
        return Bot(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id or None,
            enterprise_name=row.enterprise_name,
            team_id=row.team_id or None,
            team_name=row.team_name,
            bot_token=self._vault.decrypt(row.encrypted_bot_token),
            bot_id=row.bot_id or "",
            bot_user_id=row.bot_user_id or "",
            bot_scopes=row.bot_scopes or "",
            bot_refresh_token=(
                self._vault.decrypt(row.encrypted_bot_refresh_token)
                if row.encrypted_bot_refresh_token
                else None
            ),
            bot_token_expires_at=_epoch(row.bot_token_expires_at),
            is_enterprise_install=row.is_enterprise_install,
            installed_at=row.updated_at.timestamp(),
        )

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        """The bot installed in the workspace (or org), with its tokens decrypted."""
        row = await self._find(_key(enterprise_id, team_id, is_enterprise_install))
        return None if row is None else self._bot(row)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The workspace's install; with `user_id`, only if that person installed it (there
        are no per-person installs: the bot is the workspace's)."""
        row = await self._find(_key(enterprise_id, team_id, is_enterprise_install))
        if row is None or (user_id is not None and user_id != row.installer_user_id):
            return None
        bot = self._bot(row)
        return Installation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            enterprise_name=bot.enterprise_name,
            team_id=bot.team_id,
            team_name=bot.team_name,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
            user_id=row.installer_user_id or "",
            is_enterprise_install=bot.is_enterprise_install,
            token_type="bot",  # noqa: S106 (the kind of token, not one)
            installed_at=bot.installed_at,
        )

    async def bot_token(self, team_id: str, enterprise_id: str | None = None) -> str | None:
        """The bot token of a workspace, for our own calls (the notifier, the directory).

        A workspace installed on its own comes first; `enterprise_id` also finds the token of
        an org-wide install that covers it.
        """
        wanted = [SlackInstallation.team_id == team_id]
        if enterprise_id:
            org_wide = (SlackInstallation.enterprise_id == enterprise_id) & (
                SlackInstallation.team_id == ""
            )
            wanted.append(org_wide)
        async with self._sessions() as session:
            rows = (await session.scalars(select(SlackInstallation).where(or_(*wanted)))).all()
        if not rows:
            return None
        row = min(rows, key=lambda r: r.team_id == "")  # the workspace's own row first
        token = self._vault.decrypt(row.encrypted_bot_token)
        expires = row.bot_token_expires_at
        if (
            self._refresh is None
            or expires is None
            or not row.encrypted_bot_refresh_token
            or expires > self._clock.now() + self._refresh.ahead
        ):
            return token
        return await self._refreshed(row) or token

    async def _refreshed(self, row: SlackInstallation) -> str | None:
        """Refresh a rotating token as Bolt would on an event, and save it; None when Slack
        refuses (the caller goes on with the token it has until it expires)."""
        assert self._refresh is not None
        bot = self._bot(row)
        try:
            answer = await self._refresh.client.oauth_v2_access(
                client_id=self._refresh.client_id,
                client_secret=self._refresh.client_secret,
                grant_type="refresh_token",
                refresh_token=bot.bot_refresh_token,
            )
        except SlackApiError as error:
            reason = error.response.get("error")
            log.warning("cannot refresh the bot token of %s: %s", row.team_id, reason)
            return None
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("cannot refresh the bot token of %s: %r", row.team_id, error)
            return None
        if answer.get("token_type") != "bot":
            return None
        bot.bot_token = str(answer["access_token"])
        bot.bot_refresh_token = answer.get("refresh_token") or bot.bot_refresh_token
        lifetime = timedelta(seconds=int(answer["expires_in"]))
        bot.bot_token_expires_at = int((self._clock.now() + lifetime).timestamp())
        await self._save((row.enterprise_id, row.team_id), bot)
        return bot.bot_token

    # --- forgetting -----------------------------------------------------------------------

    async def forget_workspace(
        self, team_id: str | None, enterprise_id: str | None, *, is_enterprise_install: bool = False
    ) -> bool:
        """Delete the workspace's (or org's) installation, when Slack says the app was
        uninstalled or its bot token revoked; False when there was none."""
        key = _key(enterprise_id, team_id, is_enterprise_install)
        self._found.clear()
        async with self._sessions() as session, session.begin():
            result = await session.execute(_where(delete(SlackInstallation), key))
        self._found.clear()
        forgotten = getattr(result, "rowcount", 0) == 1
        if forgotten:
            log.info("forgot the Slack installation of %s", key[1] or key[0])
        return forgotten

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.forget_workspace(team_id, enterprise_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        # A person's own authorisation is not kept (bot only): only the whole install goes.
        if user_id is None:
            await self.forget_workspace(team_id, enterprise_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.forget_workspace(team_id, enterprise_id)


def _where(statement: Any, key: tuple[str, str]) -> Any:
    return statement.where(
        SlackInstallation.enterprise_id == key[0], SlackInstallation.team_id == key[1]
    )


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class SlackOAuthStateStore(AsyncOAuthStateStore):
    """Bolt's OAuth state store over `slack_install_states`: single use, ten minutes, hashed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        """A new state for one "Add to Slack" (Bolt also sets it in the browser's cookie)."""
        state = secrets.token_urlsafe(STATE_BYTES)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(SlackInstallState).where(SlackInstallState.expires_at <= now)
            )
            session.add(
                SlackInstallState(
                    state_hash=_digest(state), created_at=now, expires_at=now + STATE_LIFETIME
                )
            )
        return state

    async def async_consume(self, state: str) -> bool:
        """True once for a state issued less than ten minutes ago; False for any other."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            # Deleting is the taking: of two callbacks with one state, one deletes the row.
            taken = await session.execute(
                delete(SlackInstallState).where(
                    SlackInstallState.state_hash == _digest(state),
                    SlackInstallState.expires_at > now,
                )
            )
            await session.execute(
                delete(SlackInstallState).where(SlackInstallState.expires_at <= now)
            )
        return getattr(taken, "rowcount", 0) == 1
