"""`ClickUpProvider`: the `Provider` protocol over ClickUp API v2 with httpx.

ClickUp publishes no maintained async SDK, and the surface we need is small, so this speaks
HTTP directly. OAuth tokens never expire and come without a refresh token; `GET /team` tells
which workspaces the person authorized. Reads are retried (a few times, honouring the rate
limit headers); the create call never is — the worker reconciles by marker instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import (
    AuthRevoked,
    Catalog,
    CreatedTask,
    Credentials,
    Destination,
    Member,
    OAuthTokens,
    Permanent,
    ProviderAccount,
    RateLimited,
    TaskDraft,
    Transient,
    Workspace,
)
from providers.clickup.errors import CLICKUP, error_from_response
from providers.clickup.mapping import task_body
from providers.ratelimit import ConnectionRateLimiter

READ_ATTEMPTS = 3


def _authorization(token: str) -> str:
    # Personal tokens go raw; OAuth tokens as Bearer (a Bearer pk_ token is refused).
    return token if token.startswith("pk_") else f"Bearer {token}"


class ClickUpProvider:
    """ClickUp for one Scrumy Tasks installation (one OAuth app)."""

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
    ) -> None:
        self._http = http
        self._api = api_url.rstrip("/") + "/v2"
        self._auth_url = auth_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._limiter = limiter
        self._clock = clock

    @property
    def name(self) -> ProviderName:
        return ProviderName.CLICKUP

    # --- HTTP -------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        credentials: Credentials | None = None,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        access = credentials.access_token if credentials else token
        if access:
            headers["Authorization"] = _authorization(access)
        if credentials is not None:
            await self._limiter.acquire(credentials.connection_id)
        try:
            response = await self._http.request(
                method, self._api + path, params=params, json=json, headers=headers
            )
        except httpx.ConnectError:
            raise Transient(
                CLICKUP, "ClickUp cannot be reached; retrying", request_sent=False
            ) from None
        except httpx.TimeoutException:
            raise Transient(CLICKUP, "ClickUp did not answer in time; retrying") from None
        except httpx.HTTPError as error:
            raise Transient(
                CLICKUP, f"network error talking to ClickUp ({type(error).__name__})"
            ) from None
        now = self._clock.now().timestamp()
        if credentials is not None:
            self._note_budget(credentials.connection_id, response, now)
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                raise Transient(CLICKUP, "ClickUp sent an unreadable answer; retrying") from None
        raise error_from_response(response, now=now)

    def _note_budget(self, connection_id: str, response: httpx.Response, now: float) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        try:
            if remaining is not None and reset is not None and int(remaining) <= 0:
                self._limiter.hold(connection_id, float(reset) - now)
        except ValueError:
            pass  # garbled headers only cost us the early hold; a 429 still tells us

    async def _read(self, path: str, credentials: Credentials, **params: Any) -> dict[str, Any]:
        """A GET, retried on rate limits and transient errors (safe to repeat)."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                body = await self._send("GET", path, credentials=credentials, params=params or None)
            except RateLimited as error:
                self._limiter.hold(credentials.connection_id, error.retry_after)
                if attempt == READ_ATTEMPTS:
                    raise
                continue  # acquire() waits out the hold
            except Transient:
                if attempt == READ_ATTEMPTS:
                    raise
                await self._clock.sleep(2**attempt)
                continue
            if not isinstance(body, dict):
                raise Transient(CLICKUP, "ClickUp sent an answer of an unexpected shape")
            return body
        raise AssertionError("unreachable")

    # --- OAuth ------------------------------------------------------------------------------

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = urlencode(
            {"client_id": self._client_id, "redirect_uri": redirect_uri, "state": state}
        )
        return f"{self._auth_url}?{query}"

    async def exchange_code(self, *, code: str, redirect_uri: str) -> ProviderAccount:
        body = await self._send(
            "POST", "/oauth/token",
            json={"client_id": self._client_id, "client_secret": self._client_secret, "code": code},
        )  # fmt: skip
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise Permanent(CLICKUP, "ClickUp did not return an access token; try connecting again")
        user = await self._send("GET", "/user", token=token)
        teams = await self._send("GET", "/team", token=token)
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
        teams = await self._read("/team", credentials)
        destinations: list[Destination] = []
        members: list[Member] = []
        try:
            for team in teams["teams"]:
                team_id = str(team["id"])
                for entry in team.get("members") or ():
                    user = entry["user"]
                    label = str(user.get("username") or user.get("email") or "")
                    members.append(Member(str(user["id"]), label, user.get("email"), team_id))
                spaces = await self._read(f"/team/{team_id}/space", credentials, archived="false")
                for space in spaces["spaces"]:
                    space_id, space_name = str(space["id"]), str(space["name"])
                    folders = await self._read(
                        f"/space/{space_id}/folder", credentials, archived="false"
                    )
                    for folder in folders["folders"]:
                        for lst in folder.get("lists") or ():
                            destinations.append(
                                Destination(CLICKUP, str(lst["id"]), str(lst["name"]), team_id,
                                            path=(space_name, str(folder["name"])))
                            )  # fmt: skip
                    loose = await self._read(
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
    ) -> CreatedTask:
        if not draft.title.strip():
            raise Permanent(CLICKUP, "a ClickUp task needs a name")
        body = await self._send(
            "POST", f"/list/{destination.id}/task", credentials=credentials,
            json=task_body(draft, destination, members),
        )  # fmt: skip
        return self._created(body, destination)

    def _created(self, body: Any, destination: Destination) -> CreatedTask:
        try:
            task_id = str(body["id"])
            url = str(body.get("url") or f"https://app.clickup.com/t/{task_id}")
        except (KeyError, TypeError):
            # The task may exist: a Transient makes the worker look it up by marker.
            raise Transient(CLICKUP, "ClickUp's answer to the create had no task id") from None
        return CreatedTask(CLICKUP, task_id, url, destination.id)

    async def find_task_by_marker(
        self,
        credentials: Credentials,
        destination: Destination,
        marker: str,
        *,
        created_after: datetime,
    ) -> CreatedTask | None:
        after_ms = int(created_after.timestamp() * 1000)
        page = 0
        while True:
            body = await self._read(
                f"/list/{destination.id}/task", credentials, page=page,
                date_created_gt=after_ms, include_markdown_description="true",
                subtasks="true", include_closed="true",
            )  # fmt: skip
            tasks = body.get("tasks")
            if not isinstance(tasks, list):
                raise Transient(CLICKUP, "ClickUp sent a task listing of an unexpected shape")
            for task in tasks:
                text = f"{task.get('markdown_description') or ''}{task.get('description') or ''}"
                if isinstance(task, dict) and marker in text:
                    return self._created(task, destination)
            if body.get("last_page", True) or len(tasks) < 100:
                return None
            page += 1
