"""People's connections to ClickUp and Notion as the domain sees them: who is connected, what
happens on connecting (the catalog is read, waiting tasks are routed and queued), and on
disconnecting (the tool is asked to revoke, unsent tasks wait for a new connection).

Tokens are stored and read only through `storage.connections`, always encrypted by the vault.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, TaskState
from primitives.text import clean_optional
from providers.base import Credentials, Provider, ProviderAccount, ProviderError
from routing.catalogs import CatalogCache
from routing.notify import Notifier
from routing.outbox import (
    TaskUpdate,
    count_owner_tasks,
    move_task,
    owner_tasks,
    send_back_to_waiting,
)
from routing.owner_context import OwnerRouter, routable
from routing.results import Results
from storage.connections import NewTokens, save_connection
from storage.models import Task, UserAuthToken
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
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._providers = providers
        self._catalogs = catalogs
        self._router = router
        self._results = results
        self._notifier = notifier

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

    async def completed(self, team_id: str, user_id: str, account: ProviderAccount) -> int:
        """Store a new connection, tell its owner (in Slack: "Not you? Disconnect"), read its
        catalog, and queue the person's waiting tasks.

        Returns how many waiting tasks were queued. Names from the tool are stored without
        control or bidi characters.
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
            connection_id = row.id
        try:
            await self._notifier.connection_changed(
                team_id, user_id, account.provider, _account_label(workspace_name, account),
                replaced=earlier is not None,
            )  # fmt: skip
        except Exception:
            log.exception("could not tell %s about their %s connection", user_id,
                          account.provider.label)  # fmt: skip
        provider = self._providers.get(account.provider)
        if provider is not None:
            credentials = Credentials(
                connection_id, tokens.access_token, workspace.id if workspace else None
            )
            # If the catalog cannot be read now, the worker routes these tasks once it can.
            with contextlib.suppress(ProviderError):
                await self._catalogs.get(
                    provider, credentials, team_id=team_id, user_id=user_id, refresh=True
                )
        return await self.release_waiting(team_id, user_id)

    async def release_waiting(self, team_id: str, user_id: str) -> int:
        """Route and queue a person's `pending_auth` tasks (after they connected); the count.

        Safe to call twice at once: each task moves out of `pending_auth` once.
        """
        now = self._clock.now()
        changed: list[Task] = []
        async with self._sessions() as session, session.begin():
            context = await self._router.context(session, team_id=team_id, user_id=user_id)
            if not context.connections:
                return 0
            waiting = await owner_tasks(
                session, team_id=team_id, user_id=user_id, state=TaskState.PENDING_AUTH
            )
            for row in waiting:
                decision = await self._router.decide_cached(
                    routable(row), context.with_mode(row.routing_mode)
                )
                if decision.state is TaskState.PENDING_AUTH:
                    continue
                change = TaskUpdate.of(decision)
                if await move_task(session, row, decision.state, change, now=now):
                    changed.append(row)
        await self._results.publish(changed)
        if changed:
            try:
                await self._notifier.tasks_flushed(team_id, user_id, [row.id for row in changed])
            except Exception:
                log.exception("could not tell %s about their %d queued task(s)", user_id,
                              len(changed))  # fmt: skip
        return len(changed)

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
        client = self._providers.get(provider)
        if client is not None:
            # The token is already gone from our side; a failed revoke changes nothing.
            with contextlib.suppress(ProviderError):
                await client.revoke(access_token)
        return True
