"""People's connections to ClickUp and Notion as the domain sees them: who is connected, what
happens on connecting (the catalog is read, waiting tasks are routed and queued: the connect
flush, `routing.flush`), and on disconnecting (the tool is asked to revoke, unsent tasks
wait for a new connection).

Tokens are stored and read only through `storage.connections`, always encrypted by the vault.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, TaskState
from primitives.text import clean_optional
from providers.base import Provider, ProviderAccount, ProviderError
from routing.catalogs import CatalogCache
from routing.flush import ConnectFlush
from routing.notify import Notifier
from routing.outbox import count_owner_tasks, send_back_to_waiting
from routing.owner_context import OwnerRouter
from routing.results import Results
from routing.webhooks import ConnectionHook
from storage.connections import NewTokens, save_connection
from storage.models import UserAuthToken
from storage.vault import TokenVault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionStatus:
    connected: bool
    needs_reconnect: bool
    workspace: str | None
    account: str | None = None  # the tool's account as its owner knows it (an e-mail)


@dataclass(frozen=True)
class AuthStatus:
    clickup: ConnectionStatus
    notion: ConnectionStatus
    pending_tasks_count: int
    can_create_tasks: bool


def _account_label(workspace_name: str | None, account: ProviderAccount) -> str | None:
    """How the owner recognises the account: "Acme (ana@acme.example)"."""
    who = clean_optional(account.account_email or account.account_name)
    if workspace_name and who:
        return f"{workspace_name} ({who})"
    return workspace_name or who


class Connections:
    """Connecting, disconnecting, and what waits on a connection."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        clock: Clock,
        providers: Mapping[ProviderName, Provider],
        catalogs: CatalogCache,
        router: OwnerRouter,
        results: Results,
        notifier: Notifier,
        hooks: Sequence[ConnectionHook] = (),
    ) -> None:
        self._sessions = sessions
        self._hooks = tuple(hooks)
        self._vault = vault
        self._clock = clock
        self._providers = providers
        self._catalogs = catalogs
        self._notifier = notifier
        self._flush = ConnectFlush(
            sessions=sessions, clock=clock, providers=providers, catalogs=catalogs,
            router=router, results=results, notifier=notifier,
        )  # fmt: skip

    async def status(self, team_id: str, user_id: str) -> AuthStatus:
        async with self._sessions() as session:
            rows = {
                row.provider: row
                for row in (
                    await session.scalars(
                        select(UserAuthToken).where(
                            UserAuthToken.team_id == team_id, UserAuthToken.user_id == user_id
                        )
                    )
                ).all()
            }
            pending = await count_owner_tasks(
                session, team_id=team_id, user_id=user_id, state=TaskState.PENDING_AUTH
            )

        def status(provider: ProviderName) -> ConnectionStatus:
            row = rows.get(provider)
            if row is None:
                return ConnectionStatus(False, False, None)
            return ConnectionStatus(
                not row.needs_reconnect, row.needs_reconnect, row.workspace_name,
                row.account_email,
            )  # fmt: skip

        clickup, notion = status(ProviderName.CLICKUP), status(ProviderName.NOTION)
        return AuthStatus(clickup, notion, pending, clickup.connected or notion.connected)

    async def completed(
        self, team_id: str, user_id: str, account: ProviderAccount, *, background: bool = False
    ) -> int:
        """Store a new connection with a request to flush the person's waiting tasks, tell its
        owner (in Slack: "Not you? Disconnect"), read its catalog, then run the flush
        (`routing.flush`): route and queue the waiting tasks.

        Returns how many tasks were queued; with `background`, the flush runs after this
        returns (an OAuth callback answers at once) and the count is of the tasks waiting. The
        request is stored with the connection, so a flush the process does not live to finish
        is run by a sweep. Names from the tool are stored without control or bidi characters.
        """
        now = self._clock.now()
        workspace = account.workspace
        workspace_name = clean_optional(workspace.name) if workspace else None
        tokens = account.tokens
        async with self._sessions() as session, session.begin():
            earlier = await session.scalar(
                select(UserAuthToken.id).where(
                    UserAuthToken.team_id == team_id,
                    UserAuthToken.user_id == user_id,
                    UserAuthToken.provider == account.provider,
                )
            )
            row = await save_connection(
                session, self._vault, team_id=team_id, user_id=user_id,
                provider=account.provider,
                tokens=NewTokens(
                    tokens.access_token, tokens.refresh_token, tokens.expires_at, tokens.scope
                ),
                now=now, workspace_id=workspace.id if workspace else None,
                workspace_name=workspace_name, account_id=account.account_id,
                account_email=clean_optional(account.account_email, limit=320),
            )  # fmt: skip
            row.flush_requested_at = now
            waiting = await count_owner_tasks(
                session, team_id=team_id, user_id=user_id, state=TaskState.PENDING_AUTH
            )
        try:
            await self._notifier.connection_changed(
                team_id, user_id, account.provider, _account_label(workspace_name, account),
                replaced=earlier is not None,
            )  # fmt: skip
        except Exception:
            log.exception("could not tell %s about their %s connection", user_id,
                          account.provider.label)  # fmt: skip
        for hook in self._hooks:  # e.g. registering the tool's webhook, in the background
            try:
                await hook.connected(team_id, user_id, account.provider)
            except Exception:
                log.exception("a hook failed on %s's %s connection", user_id,
                              account.provider.label)  # fmt: skip
        # Read before answering: a meeting posted right after connecting is routed with it.
        await self._flush.read_catalogs(team_id, user_id, [account.provider])
        if background:
            self._flush.start(team_id, user_id, catalogs_read=True)
            return waiting
        return await self._flush.run(team_id, user_id, catalogs_read=True)

    async def release_waiting(self, team_id: str, user_id: str) -> int:
        """Route and queue a person's `pending_auth` tasks (after they connected); the count.

        Safe to call twice at once: each task moves out of `pending_auth` once.
        """
        return await self._flush.release(team_id, user_id)

    @property
    def flush(self) -> ConnectFlush:
        """The connect flush: its background runs and its sweep."""
        return self._flush

    async def disconnect(self, team_id: str, user_id: str, provider: ProviderName) -> bool:
        """Forget a connection (revoking it at the tool where it can); tasks wait for a new one."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(UserAuthToken).where(
                    UserAuthToken.team_id == team_id,
                    UserAuthToken.user_id == user_id,
                    UserAuthToken.provider == provider,
                )
            )
            if row is None:
                return False
            access_token = self._vault.decrypt(row.encrypted_access_token)
            await session.execute(delete(UserAuthToken).where(UserAuthToken.id == row.id))
            await send_back_to_waiting(
                session, team_id=team_id, user_id=user_id, provider=provider,
                reason=f"{provider.label} was disconnected", now=now,
            )  # fmt: skip
        await self._catalogs.forget(team_id=team_id, user_id=user_id, provider=provider)
        for hook in self._hooks:  # e.g. removing the tool's webhook, with the token still known
            try:
                await hook.disconnected(team_id, user_id, provider, access_token)
            except Exception:
                log.exception("a hook failed on %s's %s disconnect", user_id, provider.label)
        client = self._providers.get(provider)
        if client is not None:
            # The token is already gone from our side; a failed revoke changes nothing.
            with contextlib.suppress(ProviderError):
                await client.revoke(access_token)
        return True
