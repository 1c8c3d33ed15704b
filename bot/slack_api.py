"""Calling the Slack Web API within its rate limits: one call, paced, retried, answered.

Slack counts each method per workspace and minute by tier (`users.info` Tier 4: 100+,
`users.lookupByEmail` Tier 3: 50+, `users.list` Tier 2: 20+). `SlackWebApi` keeps its own
count of the last minute per workspace and method and waits before a call that would pass it,
so one process never provokes a 429; a 429 anyway (another process sharing the budget) waits
the `Retry-After` Slack gives and tries again. Every read here is safe to repeat, so a 5xx or
a lost connection is tried again once, after a short jittered pause.

A wait longer than `max_wait` is not waited for: the call fails with `DirectoryUnavailable`
carrying the seconds to wait (the HTTP API answers 503 with `Retry-After`), so a caller is
never held for minutes.

    SlackRefused           Slack answered ok: false (`error`, and `needed`/`provided` for
                           missing_scope) — the caller decides what it means
    DirectoryUnavailable   Slack could not answer now (down, rate limited past `max_wait`)
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from primitives.clock import Clock
from routing.errors import DirectoryUnavailable

# Requests a minute per workspace, as Slack's tiers grant them (docs.slack.dev rate limits).
TIER_PER_MINUTE: Mapping[str, int] = {
    "users.info": 100,  # Tier 4
    "users.lookupByEmail": 50,  # Tier 3
    "users.list": 20,  # Tier 2
}
WINDOW = 60.0
DEFAULT_MAX_WAIT = timedelta(seconds=20)
RETRY_AFTER_UNKNOWN = 30.0  # seconds, when a 429 does not say
RETRY_PAUSE = 0.5  # seconds (jittered up to twice that) before trying a failed read again


class SlackRefused(Exception):
    """Slack answered `ok: false`; `error` is its code (never a token)."""

    def __init__(self, method: str, error: str, *, needed: str | None, provided: str | None):
        super().__init__(f"Slack refused {method}: {error}")
        self.method = method
        self.error = error
        self.needed = needed
        self.provided = provided


@dataclass(frozen=True)
class SlackAnswer:
    body: dict[str, Any]
    scopes: frozenset[str] | None  # from X-OAuth-Scopes, when Slack sent it


class _Window:
    """The instants of the calls of the last minute, to keep under a per-minute budget."""

    def __init__(self) -> None:
        self.sent: deque[float] = deque()

    def wait(self, now: float, budget: int) -> float:
        while self.sent and self.sent[0] <= now - WINDOW:
            self.sent.popleft()
        if len(self.sent) < budget:
            return 0.0
        return self.sent[len(self.sent) - budget] + WINDOW - now


class SlackWebApi:
    """Calls `api_url/<method>` with a bot token, paced by tier; see the module docstring."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        clock: Clock,
        max_wait: timedelta = DEFAULT_MAX_WAIT,
        per_minute: Mapping[str, int] = TIER_PER_MINUTE,
    ) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._clock = clock
        self._max_wait = max_wait.total_seconds()
        self._per_minute = dict(per_minute)
        self._windows: dict[tuple[str, str], _Window] = {}

    async def call(self, token: str, method: str, params: Mapping[str, str]) -> SlackAnswer:
        """The body of a successful call, or `SlackRefused` / `DirectoryUnavailable`."""
        waited = 0.0
        retried = False
        # The budget is the workspace's; the token stands for it without being kept in clear.
        key = (hashlib.sha256(token.encode()).hexdigest()[:16], method)
        while True:
            waited += await self._pace(key, method, waited)
            try:
                response = await self._http.post(
                    f"{self._api}/{method}", data=dict(params),
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
            except httpx.HTTPError as error:
                if retried:
                    raise DirectoryUnavailable(
                        f"Slack did not answer ({type(error).__name__})"
                    ) from None
                retried = True
                await self._clock.sleep(RETRY_PAUSE * (1 + random.random()))
                continue
            if response.status_code == 429:
                retry = _seconds(response.headers.get("retry-after"))
                if waited + retry > self._max_wait:
                    raise DirectoryUnavailable("Slack is rate limiting us", retry_after=retry)
                await self._clock.sleep(retry)
                waited += retry
                continue
            if response.status_code >= 500 and not retried:
                retried = True
                await self._clock.sleep(RETRY_PAUSE * (1 + random.random()))
                continue
            return _answer(method, response)

    async def _pace(self, key: tuple[str, str], method: str, waited: float) -> float:
        budget = self._per_minute.get(method)
        if budget is None:
            return 0.0
        window = self._windows.setdefault(key, _Window())
        slept = 0.0
        # Checked again after each sleep: calls waiting together must not share one slot.
        while (wait := window.wait(self._clock.monotonic(), budget)) > 0:
            if waited + slept + wait > self._max_wait:
                raise DirectoryUnavailable(
                    f"Slack allows {budget} {method} calls a minute; this needs more",
                    retry_after=max(1.0, wait),
                )
            await self._clock.sleep(wait)
            slept += wait
        window.sent.append(self._clock.monotonic())
        return slept


def _seconds(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else RETRY_AFTER_UNKNOWN
    except ValueError:
        seconds = RETRY_AFTER_UNKNOWN
    return max(1.0, seconds)


def _answer(method: str, response: httpx.Response) -> SlackAnswer:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise DirectoryUnavailable(f"Slack answered {response.status_code} without JSON")
    if body.get("ok") is not True:
        error = str(body.get("error") or "unknown_error")
        if response.status_code >= 500:
            raise DirectoryUnavailable(f"Slack failed {method}: {error}")
        needed, provided = body.get("needed"), body.get("provided")
        raise SlackRefused(
            method, error,
            needed=str(needed) if needed else None, provided=str(provided) if provided else None,
        )  # fmt: skip
    header = response.headers.get("x-oauth-scopes")
    scopes = frozenset(s.strip() for s in header.split(",") if s.strip()) if header else None
    return SlackAnswer(body, scopes)
