"""`ClickUpProvider`: the `Provider` protocol over ClickUp API v2 with httpx.

ClickUp publishes no maintained async SDK, and the surface we need is small, so this speaks
HTTP directly, through the shared layer of `providers.http`: the connection's budget, the
`X-RateLimit-*` holds, transport errors, and reads retried with jittered backoff that honours
the rate-limit reset. The create call is sent once, never repeated — the worker reconciles by
marker instead: `find_tasks` lists the tasks created in the lookups' windows
(`date_created_gt` / `date_created_lt`) and reads the markers in their descriptions.
Failures are read by `providers.clickup.errors`, told whether they came from the token endpoint
(a refused sign-in code: connect again) or the API (a token gone, a list outside the
authorized workspaces).

OAuth tokens never expire and come without a refresh token; `GET /team` tells which
workspaces the person authorized.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from primitives.clock import Clock
from primitives.enums import ProviderName, RemoteStatus
from providers.base import (
    AuthRevoked,
    Catalog,
    CreatedTask,
    Credentials,
    Destination,
    Lookup,
    Member,
    OAuthTokens,
    Permanent,
    ProviderAccount,
    SendGuard,
    TaskDraft,
    TaskStatus,
    Transient,
    Workspace,
)
from providers.clickup.errors import CLICKUP, error_from_response
from providers.clickup.mapping import task_body
from providers.clickup.webhooks import (
    STATUS_EVENTS,
    STATUS_TYPES,
    ClickUpWebhook,
    webhook_of,
)
from providers.http import Endpoint, ProviderHttp
from providers.ratelimit import ConnectionRateLimiter
from providers.reconcile import Window, carries, merged_windows

TASK_NOT_FOUND = "ITEM_013"
PAGE_SIZE = 100  # tasks in a full page of `GET /list/{id}/task`
# Lookups whose windows are this close share a listing: the tasks created in between cost less
# than the second listing's first page would.
MERGE_GAP = timedelta(seconds=10)

# ClickUp counts requests per token per minute — 100, 1,000 or 10,000 by the workspace's plan
# — and every answer says how many are left and when the minute resets (X-RateLimit-*): the
# limiter follows that window. The bucket only smooths bursts and guesses no plan.
WINDOW_SECONDS = 60.0
SMOOTHING_RATE = 50.0
SMOOTHING_BURST = 100.0


def clickup_limiter(clock: Clock) -> ConnectionRateLimiter:
    """The per-connection budget to give `ClickUpProvider` (one per process)."""
    return ConnectionRateLimiter(
        clock, rate=SMOOTHING_RATE, burst=SMOOTHING_BURST, window=WINDOW_SECONDS
    )


def _authorization(token: str) -> str:
    # Personal tokens go raw; OAuth tokens as Bearer (a Bearer pk_ token is refused).
    return token if token.startswith("pk_") else f"Bearer {token}"


class ClickUpProvider:
    """ClickUp for one Scrumy Tasks installation (one OAuth app).

    `rng` draws the jitter of read retries (seed it for a repeatable run).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        auth_url: str,
        client_id: str,
        client_secret: str,
        limiter: ConnectionRateLimiter,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._http = ProviderHttp(
            http, provider=CLICKUP, base_url=api_url.rstrip("/") + "/v2",
            errors=error_from_response, limiter=limiter, clock=clock, rng=rng,
        )  # fmt: skip
        self._auth_url = auth_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock

    @property
    def name(self) -> ProviderName:
        return ProviderName.CLICKUP

    # --- HTTP -------------------------------------------------------------------------------

    async def _get(self, path: str, credentials: Credentials, **params: Any) -> dict[str, Any]:
        """A GET for a connection: safe to repeat, so retried by the shared layer."""
        return await self._http.read(
            "GET", path, authorization=_authorization(credentials.access_token),
            connection_id=credentials.connection_id, params=params or None,
        )  # fmt: skip

    # --- OAuth ------------------------------------------------------------------------------

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = urlencode(
            {"client_id": self._client_id, "redirect_uri": redirect_uri, "state": state}
        )
        return f"{self._auth_url}?{query}"

    async def exchange_code(self, *, code: str, redirect_uri: str) -> ProviderAccount:
        # Sent once: a code is single use, so repeating the exchange could only be refused.
        body = await self._http.send(
            "POST", "/oauth/token", endpoint=Endpoint.OAUTH,
            json={"client_id": self._client_id, "client_secret": self._client_secret, "code": code},
        )  # fmt: skip
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise Permanent(
                CLICKUP, "ClickUp did not return an access token; connect ClickUp again"
            )
        # The code is spent now, so a blip on these reads must not lose the connection: they
        # are retried. No connection id yet, so no budget to draw from. They are part of the
        # sign-in, and a failure is worded as one (the person, not the worker, tries again).
        signed_in = _authorization(token)
        user = await self._http.read(
            "GET", "/user", endpoint=Endpoint.OAUTH, authorization=signed_in
        )
        teams = await self._http.read(
            "GET", "/team", endpoint=Endpoint.OAUTH, authorization=signed_in
        )
        try:
            person = user["user"]
            workspaces = tuple(Workspace(str(t["id"]), str(t["name"])) for t in teams["teams"])
        except (KeyError, TypeError):
            raise Transient(CLICKUP, "ClickUp sent an answer of an unexpected shape") from None
        return ProviderAccount(
            provider=CLICKUP,
            tokens=OAuthTokens(access_token=token),
            workspaces=workspaces,
            account_id=str(person.get("id")) if person.get("id") is not None else None,
            account_email=person.get("email"),
            account_name=person.get("username"),
        )

    async def refresh(self, refresh_token: str) -> OAuthTokens:
        raise AuthRevoked(CLICKUP, "ClickUp tokens cannot be refreshed; reconnect ClickUp")

    async def revoke(self, access_token: str) -> bool:
        return False  # ClickUp has no revoke endpoint; the person removes the app in ClickUp

    # --- catalog ----------------------------------------------------------------------------

    async def fetch_catalog(self, credentials: Credentials) -> Catalog:
        teams = await self._get("/team", credentials)
        destinations: list[Destination] = []
        members: list[Member] = []
        try:
            for team in teams["teams"]:
                team_id = str(team["id"])
                for entry in team.get("members") or ():
                    user = entry["user"]
                    label = str(user.get("username") or user.get("email") or "")
                    members.append(Member(str(user["id"]), label, user.get("email"), team_id))
                spaces = await self._get(f"/team/{team_id}/space", credentials, archived="false")
                for space in spaces["spaces"]:
                    space_id, space_name = str(space["id"]), str(space["name"])
                    folders = await self._get(
                        f"/space/{space_id}/folder", credentials, archived="false"
                    )
                    for folder in folders["folders"]:
                        for lst in folder.get("lists") or ():
                            destinations.append(
                                Destination(CLICKUP, str(lst["id"]), str(lst["name"]), team_id,
                                            path=(space_name, str(folder["name"])))
                            )  # fmt: skip
                    loose = await self._get(
                        f"/space/{space_id}/list", credentials, archived="false"
                    )
                    for lst in loose["lists"]:
                        destinations.append(
                            Destination(CLICKUP, str(lst["id"]), str(lst["name"]), team_id,
                                        path=(space_name,))
                        )  # fmt: skip
        except (KeyError, TypeError):
            raise Transient(
                CLICKUP, "ClickUp sent a workspace listing of an unexpected shape"
            ) from None
        return Catalog(CLICKUP, tuple(destinations), tuple(members), self._clock.now())

    # --- tasks ------------------------------------------------------------------------------

    async def create_task(
        self,
        credentials: Credentials,
        destination: Destination,
        draft: TaskDraft,
        members: Sequence[Member] = (),
        *,
        guard: SendGuard | None = None,
    ) -> CreatedTask:
        if not draft.title.strip():
            raise Permanent(CLICKUP, "a ClickUp task needs a name")
        body = await self._http.send(
            "POST", f"/list/{destination.id}/task",
            authorization=_authorization(credentials.access_token),
            connection_id=credentials.connection_id, json=task_body(draft, destination, members),
            guard=guard,
        )  # fmt: skip
        return self._created(body, destination)

    def _created(
        self, body: dict[str, Any], destination: Destination, *, answer: str = "the create"
    ) -> CreatedTask:
        try:
            task_id = str(body["id"])
            url = str(body.get("url") or f"https://app.clickup.com/t/{task_id}")
        except (KeyError, TypeError):
            # The task may exist: a Transient makes the worker look it up (again) by marker.
            raise Transient(CLICKUP, f"ClickUp's answer to {answer} had no task id") from None
        return CreatedTask(CLICKUP, task_id, url, destination.id)

    async def task_status(
        self, credentials: Credentials, task_id: str, *, spare_only: bool = False
    ) -> TaskStatus:
        """`GET /task/{id}`, sent once: its status read by type (`STATUS_TYPES`, as the
        webhooks' are), and `date_updated` (unix ms) as the tool's time of the change. A task
        ClickUp no longer has (404 `ITEM_013`, "Task not found") is `deleted`. The status poll
        reads with it, and so does catching up after a webhook was re-created."""
        try:
            body = await self._http.send(
                "GET", f"/task/{task_id}", authorization=_authorization(credentials.access_token),
                connection_id=credentials.connection_id, spare_only=spare_only,
            )  # fmt: skip
        except Permanent as gone:
            if gone.code != TASK_NOT_FOUND:
                raise
            return TaskStatus(RemoteStatus.DELETED, None)
        status = body.get("status")
        kind = status.get("type") if isinstance(status, dict) else None
        edited = None
        with contextlib.suppress(KeyError, TypeError, ValueError):
            edited = datetime.fromtimestamp(int(body["date_updated"]) / 1000, UTC)
        return TaskStatus(STATUS_TYPES.get(str(kind)), edited)

    async def find_tasks(
        self, credentials: Credentials, destination: Destination, lookups: Sequence[Lookup]
    ) -> dict[str, CreatedTask]:
        found: dict[str, CreatedTask] = {}
        for window in merged_windows(lookups, gap=MERGE_GAP):
            await self._list_window(credentials, destination, window, found)
        return found

    async def _list_window(
        self,
        credentials: Credentials,
        destination: Destination,
        window: Window,
        found: dict[str, CreatedTask],
    ) -> None:
        """Page through the tasks created in `window` until each of its markers is found."""
        missing = set(window.markers) - set(found)
        page = 0
        while missing:
            # ClickUp's bounds are strict and in milliseconds: one either side keeps both ends.
            body = await self._get(
                f"/list/{destination.id}/task", credentials, page=page,
                date_created_gt=_ms(window.start) - 1, date_created_lt=_ms(window.end) + 1,
                include_markdown_description="true", subtasks="true", include_closed="true",
            )  # fmt: skip
            tasks = body.get("tasks")
            last_page = body.get("last_page")
            if not isinstance(tasks, list) or not isinstance(last_page, bool | None):
                raise Transient(CLICKUP, "ClickUp sent a task listing of an unexpected shape")
            for task in tasks:
                if not isinstance(task, dict):
                    continue  # not a task: nothing of ours to find in it
                text = f"{task.get('markdown_description') or ''}\n{task.get('description') or ''}"
                for marker in [m for m in missing if carries(text, m)]:
                    found[marker] = self._created(task, destination, answer="a task listing")
                    missing.discard(marker)
            # Without `last_page`, a short page is the last one.
            if not tasks or last_page or (last_page is None and len(tasks) < PAGE_SIZE):
                return
            page += 1

    # --- webhooks (providers.clickup.webhooks) -----------------------------------------------

    async def create_webhook(
        self, credentials: Credentials, *, team_id: str, endpoint: str,
        events: Sequence[str] = STATUS_EVENTS,
    ) -> ClickUpWebhook:  # fmt: skip
        """Register a webhook for the workspace `team_id`; its `secret` is in the answer only.
        Sent once: a repeat could make a second webhook."""
        body = await self._http.send(
            "POST", f"/team/{team_id}/webhook",
            authorization=_authorization(credentials.access_token),
            connection_id=credentials.connection_id,
            json={"endpoint": endpoint, "events": list(events)},
        )  # fmt: skip
        try:
            webhook = webhook_of(body.get("webhook") or {"id": body.get("id")})
        except ValueError:
            raise Transient(CLICKUP, "ClickUp's answer to a new webhook had no id") from None
        if webhook.secret is None:
            raise Transient(CLICKUP, "ClickUp's answer to a new webhook had no secret")
        return webhook

    async def list_webhooks(
        self, credentials: Credentials, *, team_id: str
    ) -> list[ClickUpWebhook]:
        """The webhooks this connection's user made in the workspace, with their health."""
        body = await self._get(f"/team/{team_id}/webhook", credentials)
        found = body.get("webhooks")
        if not isinstance(found, list):
            raise Transient(CLICKUP, "ClickUp sent a webhook listing of an unexpected shape")
        webhooks = []
        for data in found:
            try:
                webhooks.append(webhook_of(data))
            except ValueError:
                continue
        return webhooks

    async def delete_webhook(self, credentials: Credentials, webhook_id: str) -> None:
        """Remove a webhook (safe to repeat, so retried like a read)."""
        await self._http.read(
            "DELETE", f"/webhook/{webhook_id}",
            authorization=_authorization(credentials.access_token),
            connection_id=credentials.connection_id,
        )  # fmt: skip


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
