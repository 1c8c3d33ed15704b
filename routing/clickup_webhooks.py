"""Status flowing back from ClickUp: a webhook per connection, and its deliveries.

    webhooks = ClickUpWebhooks(sessions=…, vault=…, clock=…, client=clickup, statuses=…,
                               inbox=…, base_url=APP_BASE_URL)
    IntegrationUtility(…, connection_hooks=[webhooks])       registers on connect, removes
    SidecarDeps(…, webhooks={CLICKUP: webhooks})             POST /webhooks/clickup
    await webhooks.keep_running(stop)                         retries, sweeps, health checks

**Registering.** When a person connects ClickUp, a row of `tool_webhooks` asks for a webhook
(`next_attempt_at`), and the registration runs in the background: the OAuth callback never
waits for it, and its failure never undoes the connection. The registration (one process at
a time: it claims the row with a conditional UPDATE) removes the row's earlier webhook and
any leftover of ours at the same endpoint (a process that died between ClickUp's answer and
our commit), then creates one — `POST /team/{workspace}/webhook`, events `taskStatusUpdated`
and `taskDeleted` — and stores its id and its secret, encrypted by the vault (and so
re-encrypted by key rotation). A failure is logged (never with the token or the secret) and
tried again with backoff by `register_due`, which `keep_running` calls.

Each connection's endpoint is `APP_BASE_URL/webhooks/clickup?w=<row id>`: ClickUp refuses
the same configuration twice for one user, and two of our people may share a ClickUp account.

**Receiving** (`receive`, behind `POST /webhooks/clickup`, and `sweep`) is
`routing.clickup_deliveries.ClickUpDeliveries`: the signature checked against the row's
secret, the delivery recorded in the inbox, answered, then applied.

**Health.** Every `HEALTH_EVERY`, each connection's webhooks are listed; one ClickUp reports
`failing` or `suspended`, or no longer lists, or one at another address than `APP_BASE_URL`
now gives, is registered again (a new webhook, a new secret). ClickUp drops an event after
five failed attempts and does not resend it, so after a webhook is registered again
(unhealthy, a reconnect, or a connection made again after a disconnect) the connection's
tasks created in the last `CATCH_UP_DAYS` days (at most `CATCH_UP_MAX`) are read once
(`GET /task/{id}`) and their status applied as of ClickUp's `date_updated`: what changed while
deliveries were lost shows.

**Removing.** On disconnect the row is deleted and the webhook removed at ClickUp with the
connection's last token; should that fail, the webhook's next delivery is answered 410.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName, RemoteStatus, TaskState
from primitives.ids import new_id
from providers.base import AuthRevoked, Credentials, Permanent, ProviderError
from providers.clickup import ClickUpProvider
from routing.clickup_deliveries import ClickUpDeliveries
from routing.pacing import pause
from routing.remote_status import RemoteStatuses
from routing.webhooks import WebhookReceipt
from storage.connections import load_connection
from storage.models import Task, ToolWebhook
from storage.vault import TokenVault
from storage.webhook_inbox import WebhookInbox

log = logging.getLogger(__name__)

CLICKUP = ProviderName.CLICKUP
PATH = "/webhooks/clickup"
CLAIM_FOR = timedelta(minutes=2)  # a registration in progress; then another process may retry
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))
HEALTH_EVERY = timedelta(minutes=10)
KEEP_KEYS = timedelta(days=7)  # ClickUp retries for minutes; a replay after this is still old
CATCH_UP_DAYS = 30
CATCH_UP_MAX = 200
ERROR_LIMIT = 500


class ClickUpWebhooks:
    """ClickUp's webhooks for every connection; see the module docstring."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        clock: Clock,
        client: ClickUpProvider,
        statuses: RemoteStatuses,
        inbox: WebhookInbox,
        base_url: str,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._client = client
        self._statuses = statuses
        self._inbox = inbox
        self._base_url = base_url.rstrip("/")
        self._deliveries = ClickUpDeliveries(
            sessions=sessions, vault=vault, clock=clock, statuses=statuses, inbox=inbox
        )
        self._running: set[asyncio.Task[Any]] = set()
        self._health_due: datetime | None = None

    @property
    def provider(self) -> ProviderName:
        return CLICKUP

    def endpoint_for(self, row_id: str) -> str:
        return f"{self._base_url}{PATH}?{urlencode({'w': row_id})}"

    # --- connections (routing.webhooks.ConnectionHook) ---------------------------------------

    async def connected(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        """Ask for a webhook for the connection, and register it in the background."""
        if provider is not CLICKUP:
            return
        row_id = await self._request(team_id, user_id)
        self._spawn(self._register(row_id))

    async def disconnected(
        self, team_id: str, user_id: str, provider: ProviderName, access_token: str
    ) -> None:
        """Forget the connection's webhook, and remove it at ClickUp in the background."""
        if provider is not CLICKUP:
            return
        async with self._sessions() as session, session.begin():
            row = await session.scalar(_of(team_id, user_id))
            if row is None:
                return
            remote_id, row_id = row.remote_id, row.id
            await session.execute(delete(ToolWebhook).where(ToolWebhook.id == row_id))
        if remote_id:
            credentials = Credentials(f"webhook:{row_id}", access_token)
            self._spawn(self._remove_remote(credentials, remote_id))

    async def _request(self, team_id: str, user_id: str) -> str:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await session.scalar(_of(team_id, user_id))
            if row is None:
                row = ToolWebhook(
                    id=new_id("whk"), team_id=team_id, user_id=user_id, provider=CLICKUP,
                    endpoint="", created_at=now, updated_at=now,
                )  # fmt: skip
                row.endpoint = self.endpoint_for(row.id)
                session.add(row)
            row.next_attempt_at = now
            row.attempts = 0
            row.last_error = None
            row.updated_at = now
            return row.id

    async def _remove_remote(self, credentials: Credentials, remote_id: str) -> None:
        try:
            await self._client.delete_webhook(credentials, remote_id)
        except ProviderError as error:
            log.warning(
                "could not remove ClickUp webhook %s (%s); its deliveries will be answered 410",
                remote_id, type(error).__name__,
            )  # fmt: skip

    # --- registering -------------------------------------------------------------------------

    async def register_due(self) -> int:
        """Register every webhook asked for and due (new, retried, or unhealthy); how many
        were registered."""
        now = self._clock.now()
        async with self._sessions() as session:
            due = (
                await session.scalars(
                    select(ToolWebhook.id).where(
                        ToolWebhook.provider == CLICKUP,
                        ToolWebhook.next_attempt_at.is_not(None),
                        ToolWebhook.next_attempt_at <= now,
                    )
                )
            ).all()
        done = 0
        for row_id in due:
            done += await self._register(row_id)
        return done

    async def _register(self, row_id: str) -> bool:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            claimed = await session.execute(
                update(ToolWebhook)
                .where(
                    ToolWebhook.id == row_id,
                    ToolWebhook.next_attempt_at.is_not(None),
                    ToolWebhook.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + CLAIM_FOR)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return False  # done, or another process is at it
            row = await session.get(ToolWebhook, row_id)
            assert row is not None
            connection = await load_connection(
                session, self._vault, team_id=row.team_id, user_id=row.user_id, provider=CLICKUP
            )
            if connection is None:
                await session.execute(delete(ToolWebhook).where(ToolWebhook.id == row_id))
                return False
            old_remote, old_endpoint, attempts = row.remote_id, row.endpoint, row.attempts
        endpoint = self.endpoint_for(row_id)  # APP_BASE_URL may have moved since
        workspace = connection.workspace_id
        if not workspace:
            await self._failed(row_id, attempts, "the connection names no ClickUp workspace")
            return False
        credentials = Credentials(connection.id, connection.access_token, workspace)
        try:
            if old_remote:
                # Best effort: gone already, or made by the account this one replaced (a
                # webhook of ours we no longer know is answered 410, which suspends it).
                with contextlib.suppress(ProviderError):
                    await self._client.delete_webhook(credentials, old_remote)
            for leftover in await self._client.list_webhooks(credentials, team_id=workspace):
                if leftover.endpoint in (endpoint, old_endpoint):
                    with contextlib.suppress(Permanent):
                        await self._client.delete_webhook(credentials, leftover.id)
            created = await self._client.create_webhook(
                credentials, team_id=workspace, endpoint=endpoint
            )
        except ProviderError as error:
            await self._failed(row_id, attempts, str(error), revoked=isinstance(error, AuthRevoked))
            return False
        assert created.secret is not None
        async with self._sessions() as session, session.begin():
            stored = await session.execute(
                update(ToolWebhook)
                .where(ToolWebhook.id == row_id)
                .values(
                    remote_id=created.id,
                    endpoint=endpoint,
                    workspace_id=workspace,
                    health=created.health,
                    encrypted_secret=self._vault.encrypt(created.secret),
                    attempts=0,
                    next_attempt_at=None,
                    last_error=None,
                    updated_at=self._clock.now(),
                )
            )
        if getattr(stored, "rowcount", 0) != 1:  # disconnected meanwhile
            await self._remove_remote(credentials, created.id)
            return False
        log.info("registered ClickUp webhook %s for workspace %s", created.id, workspace)
        # Deliveries may have been lost meanwhile: while it was unhealthy, or between a
        # disconnect (its webhook removed) and this connection. A first connection has no
        # created ClickUp task, so reads nothing.
        self._spawn(self.catch_up(row_id))
        return True

    async def catch_up(self, row_id: str) -> int:
        """Read the status of the connection's recently created tasks from ClickUp and apply
        it (deliveries lost while a webhook was unhealthy); how many changed."""
        since = self._clock.now() - timedelta(days=CATCH_UP_DAYS)
        async with self._sessions() as session:
            row = await session.get(ToolWebhook, row_id)
            if row is None:
                return 0
            connection = await load_connection(
                session, self._vault, team_id=row.team_id, user_id=row.user_id, provider=CLICKUP
            )
            ids = (
                await session.scalars(
                    select(Task.provider_task_id)
                    .where(
                        Task.team_id == row.team_id, Task.owner_user_id == row.user_id,
                        Task.provider == CLICKUP, Task.state == TaskState.CREATED,
                        Task.provider_task_id.is_not(None), Task.finished_at >= since,
                        or_(Task.remote_status.is_(None),
                            Task.remote_status != RemoteStatus.DELETED),
                    )
                    .order_by(Task.finished_at.desc())
                    .limit(CATCH_UP_MAX)
                )
            ).all()  # fmt: skip
        if connection is None:
            return 0
        credentials = Credentials(connection.id, connection.access_token, row.workspace_id)
        changed = 0
        for task_id in ids:
            if task_id is None:
                continue
            try:
                now = await self._client.task_status(credentials, task_id)
            except Permanent:
                continue  # gone, or no longer visible to this person: nothing we can tell
            except ProviderError as error:
                log.info("stopped catching up ClickUp statuses: %s", error)
                break
            if now.status is not None:
                changed += await self._statuses.apply(
                    CLICKUP, task_id, now.status, now.edited_at or since, team_id=row.team_id,
                )  # fmt: skip
        log.info("caught up %d ClickUp task status(es) after re-registering", changed)
        return changed

    async def _failed(
        self, row_id: str, attempts: int, error: str, *, revoked: bool = False
    ) -> None:
        # A refused token waits for the person to reconnect, which asks again.
        wait = None if revoked else BACKOFF[min(attempts, len(BACKOFF) - 1)]
        log.warning(
            "could not register a ClickUp webhook (%s, attempt %d)%s", error[:ERROR_LIMIT],
            attempts + 1, "" if wait is None else f"; trying again in {wait}",
        )  # fmt: skip
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(ToolWebhook)
                .where(ToolWebhook.id == row_id)
                .values(
                    attempts=attempts + 1,
                    last_error=error[:ERROR_LIMIT],
                    next_attempt_at=None if wait is None else self._clock.now() + wait,
                    updated_at=self._clock.now(),
                )
            )

    # --- health ------------------------------------------------------------------------------

    async def check_health(self) -> int:
        """Ask ClickUp about every registered webhook; register again those it reports
        failing or suspended, or no longer has. How many were asked for again."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(ToolWebhook).where(
                        ToolWebhook.provider == CLICKUP,
                        ToolWebhook.remote_id.is_not(None),
                        ToolWebhook.next_attempt_at.is_(None),
                    )
                )
            ).all()
        again = 0
        for row in rows:
            async with self._sessions() as session:
                connection = await load_connection(
                    session, self._vault, team_id=row.team_id, user_id=row.user_id,
                    provider=CLICKUP,
                )  # fmt: skip
            if connection is None or not row.workspace_id:
                continue
            credentials = Credentials(connection.id, connection.access_token, row.workspace_id)
            try:
                listed = await self._client.list_webhooks(credentials, team_id=row.workspace_id)
            except ProviderError as error:
                log.info("could not check ClickUp webhook %s: %s", row.remote_id, error)
                continue
            ours = next((w for w in listed if w.id == row.remote_id), None)
            health = ours.health if ours is not None else "missing"
            if ours is not None and ours.endpoint != self.endpoint_for(row.id):
                health = "moved"  # APP_BASE_URL changed: register it at the new address
            elif ours is not None and ours.healthy:
                continue
            log.warning(
                "ClickUp reports webhook %s %s (fail count %s); registering it again",
                row.remote_id, health, ours.fail_count if ours else "-",
            )  # fmt: skip
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(ToolWebhook)
                    .where(ToolWebhook.id == row.id, ToolWebhook.remote_id == row.remote_id)
                    .values(health=health, next_attempt_at=self._clock.now(), attempts=0)
                )
            again += 1
        if again:
            await self.register_due()
        return again

    # --- receiving (routing.webhooks.WebhookReceiver) -----------------------------------------

    async def receive(self, body: bytes, headers: Mapping[str, str]) -> WebhookReceipt:
        """Verify and record one delivery (`routing.clickup_deliveries`)."""
        return await self._deliveries.receive(body, headers)

    async def sweep(self) -> int:
        """Process the deliveries recorded but left unprocessed; how many."""
        return await self._deliveries.sweep()

    # --- running -----------------------------------------------------------------------------

    async def run_once(self) -> None:
        """One round of upkeep: registrations due, deliveries left behind, health (every
        `HEALTH_EVERY`), old keys purged."""
        await self.register_due()
        await self.sweep()
        now = self._clock.now()
        if self._health_due is None or now >= self._health_due:
            self._health_due = now + HEALTH_EVERY
            await self.check_health()
            await self._inbox.purge(before=now - KEEP_KEYS)

    async def keep_running(self, stop: asyncio.Event, *, every: float = 30.0) -> None:
        """`run_once` at start and every `every` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("ClickUp webhook upkeep failed; trying again later")
            await pause(self._clock, every, stop)

    async def settle(self) -> None:
        """Wait for the background registrations and removals to end."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(self._logged(work))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        except Exception:
            log.exception("a ClickUp webhook task failed")


def _of(team_id: str, user_id: str) -> Select[ToolWebhook]:
    return select(ToolWebhook).where(
        and_(
            ToolWebhook.team_id == team_id,
            ToolWebhook.user_id == user_id,
            ToolWebhook.provider == CLICKUP,
        )
    )
