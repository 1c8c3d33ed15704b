"""The people of a Slack workspace, read from the Slack Web API (`routing.owners.Directory`).

`users.info` tells whether a user id is an active member; `users.lookupByEmail` finds one by
e-mail. Answers are cached for a few minutes per workspace, since one meeting asks about the
same few people many times. Both answer with the user, whose time zone (`tz`) is kept for
`time_zone`. The bot token comes from `SLACK_BOT_TOKEN` (one workspace) or from
the stored installation of the workspace (installed in many).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from primitives.clock import Clock
from routing.errors import DirectoryUnavailable

CACHE_LIFETIME = timedelta(minutes=5)

TokenSource = Callable[[str], Awaitable[str | None]]


class SlackDirectory:
    def __init__(
        self, http: httpx.AsyncClient, *, api_url: str, tokens: TokenSource, clock: Clock
    ) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._tokens = tokens
        self._clock = clock
        self._cache: dict[tuple[str, str, str], tuple[datetime, Any]] = {}

    async def is_member(self, team_id: str, user_id: str) -> bool:
        async def ask() -> bool:
            body = await self._call(team_id, "users.info", {"user": user_id})
            self._note_time_zone(team_id, body)
            return body is not None and _active(body.get("user"))

        return bool(await self._cached(("member", team_id, user_id), ask))

    async def user_by_email(self, team_id: str, email: str) -> str | None:
        async def ask() -> str | None:
            body = await self._call(team_id, "users.lookupByEmail", {"email": email})
            self._note_time_zone(team_id, body)
            user = body.get("user") if body else None
            return str(user["id"]) if _active(user) and isinstance(user, dict) else None

        found = await self._cached(("email", team_id, email.casefold()), ask)
        return str(found) if found else None

    async def time_zone(self, team_id: str, user_id: str) -> str | None:
        """The member's time zone (`tz` of users.info): kept from the answer that found them
        as owner, so it usually costs no call."""

        async def ask() -> str | None:
            body = await self._call(team_id, "users.info", {"user": user_id})
            user = body.get("user") if body else None
            zone = user.get("tz") if isinstance(user, dict) else None
            return zone if isinstance(zone, str) and zone else None

        found = await self._cached(("tz", team_id, user_id), ask)
        return str(found) if found else None

    def _note_time_zone(self, team_id: str, body: dict[str, Any] | None) -> None:
        """Keep the time zone of a user object Slack sent anyway, for `time_zone`."""
        user = body.get("user") if body else None
        if isinstance(user, dict) and isinstance(user.get("id"), str):
            zone = user.get("tz")
            if isinstance(zone, str) and zone:
                self._cache[("tz", team_id, user["id"])] = (self._clock.now(), zone)

    async def _cached(self, key: tuple[str, str, str], ask: Callable[[], Awaitable[Any]]) -> Any:
        now = self._clock.now()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_LIFETIME:
            return hit[1]
        value = await ask()
        self._cache[key] = (now, value)
        return value

    async def _call(
        self, team_id: str, method: str, params: dict[str, str]
    ) -> dict[str, Any] | None:
        """The body of a successful call; None when Slack says there is no such user."""
        token = await self._tokens(team_id)
        if token is None:
            raise DirectoryUnavailable(f"Scrumy Tasks is not installed in Slack team {team_id}")
        try:
            response = await self._http.get(
                f"{self._api}/{method}", params=params,
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
        except httpx.HTTPError as error:
            raise DirectoryUnavailable(f"Slack did not answer ({type(error).__name__})") from None
        if response.status_code == 429:
            retry = response.headers.get("retry-after", "")
            raise DirectoryUnavailable(
                "Slack is rate limiting us",
                retry_after=float(retry) if retry.isdigit() else 30.0,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise DirectoryUnavailable(f"Slack answered {response.status_code} without JSON")
        if body.get("ok") is True:
            return body
        if body.get("error") in ("user_not_found", "users_not_found"):
            return None
        raise DirectoryUnavailable(f"Slack refused {method}: {body.get('error', 'unknown error')}")


def _active(user: object) -> bool:
    return isinstance(user, dict) and not user.get("deleted") and not user.get("is_bot")
