"""Reading a created task's status from its tool, with its owner's connection.

Shared by Notion's webhook events (which never carry values: the page is read) and the status
poll. A read is one request (Notion: a second for the data source's schema now and then),
never retried here: the caller asks again later. A token refused once is refreshed, once, as
the dispatcher does; a connection that still fails, or needs reconnecting, is left alone (the
owner is told to reconnect by the dispatcher, when a task of theirs needs it) and not read
again by this process for `REFUSED_PAUSE`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import (
    AuthRevoked,
    Provider,
    ProviderError,
    RateLimited,
    TaskStatus,
    Transient,
)
from routing.owner_context import credentials_of
from routing.token_refresh import refresh_connection
from storage.connections import (
    ConnectionGone,
    StoredConnection,
    load_connection,
)
from storage.vault import TokenVault

log = logging.getLogger(__name__)

REFUSED_PAUSE = timedelta(hours=1)


@dataclass(frozen=True)
class StatusRead:
    """What one read gave: the task's status (None when it could not be read now); `busy`:
    not even tried, the connection's budget was busy (or the tool said 429); `passing`: the
    tool failed in a way that may pass (a 5xx, no answer), worth trying again soon."""

    status: TaskStatus | None
    busy: bool = False
    passing: bool = False


NOT_READ = StatusRead(None)


class StatusReader:
    """Reads tasks' statuses with their owners' connections; one per process."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        clock: Clock,
        providers: Mapping[ProviderName, Provider],
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._providers = providers
        self._refused_until: dict[str, datetime] = {}  # connection id -> not before

    async def connection(
        self, provider: ProviderName, team_id: str, user_id: str
    ) -> StoredConnection | None:
        """The owner's usable connection to `provider`, None when there is none to read with
        (not connected, needs reconnecting, or refused lately)."""
        async with self._sessions() as session:
            connection = await load_connection(
                session, self._vault, team_id=team_id, user_id=user_id, provider=provider
            )
        if connection is None or connection.needs_reconnect:
            return None
        until = self._refused_until.get(connection.id)
        if until is not None and self._clock.now() < until:
            return None
        return connection

    async def read(
        self, connection: StoredConnection, task_id: str, *, spare_only: bool = False
    ) -> StatusRead:
        """Task `task_id`'s status, read with `connection`."""
        provider = self._providers.get(connection.provider)
        if provider is None:
            return NOT_READ
        refreshed = False
        while True:
            try:
                return StatusRead(
                    await provider.task_status(
                        credentials_of(connection), task_id, spare_only=spare_only
                    )
                )
            except RateLimited:
                return StatusRead(None, busy=True)
            except AuthRevoked:
                if refreshed or not connection.refresh_token:
                    return self._refused(connection)
                refreshed = True
                try:
                    connection = await self._refresh(connection, provider)
                except (ConnectionGone, ProviderError):
                    return self._refused(connection)
            except ProviderError as error:
                log.info(
                    "could not read the status of %s task %s: %s",
                    connection.provider.label, task_id, error.message,
                )  # fmt: skip
                return StatusRead(None, passing=isinstance(error, Transient))

    def _refused(self, connection: StoredConnection) -> StatusRead:
        self._refused_until[connection.id] = self._clock.now() + REFUSED_PAUSE
        log.info(
            "%s refuses %s's connection; their tasks' statuses are not read for now",
            connection.provider.label, connection.user_id,
        )  # fmt: skip
        return NOT_READ

    async def _refresh(self, connection: StoredConnection, provider: Provider) -> StoredConnection:
        return await refresh_connection(
            self._sessions, self._vault, connection, provider, now=self._clock.now()
        )
