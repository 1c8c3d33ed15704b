"""Calling the Slack Web API within its rate limits: one call, paced, retried, answered.

Every call goes through `slack_sdk`'s `AsyncWebClient` (`bot.slack_client`), with the token of
the workspace it is for. Slack counts each method per workspace and minute by tier
(`users.info` Tier 4: 100+, `users.lookupByEmail` Tier 3: 50+, `users.list` Tier 2: 20+).
`SlackWebApi` keeps its own count of the last minute per workspace and method and waits before
a call that would pass it, so one process never provokes a 429; a 429 anyway (another process
sharing the budget) waits the `Retry-After` Slack gives and tries again — here, on the clock
`SlackWebApi` is given, which is why its client has no rate-limit retry handler of its own.
Every read here is safe to repeat, so a 5xx or a lost connection is tried again once, after a
short jittered pause (the client's connection retry handler counts as that one retry).

A wait longer than `max_wait` is not waited for: the call fails with `DirectoryUnavailable`
carrying the seconds to wait (the HTTP API answers 503 with `Retry-After`), so a caller is
never held for minutes.

    SlackRefused           Slack answered ok: false (`error`, and `needed`/`provided` for
                           missing_scope) — the caller decides what it means
    DirectoryUnavailable   Slack could not answer now (down, rate limited past `max_wait`)

Each answer carries the token's scopes, from the `X-OAuth-Scopes` header Slack sends with it.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

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


@dataclass(frozen=True)
class _Reply:
    """What came back over HTTP, whatever the client made of it."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    body: dict[str, Any] | None  # None: not a JSON object


class SlackWebApi:
    """Calls Slack's Web API through `client` with a bot token, paced by tier; see the module
    docstring. `client` (from `bot.slack_client.slack_web_client(..., rate_limit_retries=0)`)
    must not wait out 429s itself: that waiting is done here, on `clock` and within
    `max_wait`."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        clock: Clock,
        max_wait: timedelta = DEFAULT_MAX_WAIT,
        per_minute: Mapping[str, int] = TIER_PER_MINUTE,
    ) -> None:
        if any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers):
            # Its waits would pass unseen by the clock and unbounded by max_wait.
            raise ValueError("SlackWebApi waits out 429s itself: give it rate_limit_retries=0")
        self._client = client
        self._clock = clock
        self._max_wait = max_wait.total_seconds()
        self._per_minute = dict(per_minute)
        self._windows: dict[tuple[str, str], _Window] = {}
        # Connection errors the client already tried again: not tried a third time here.
        self._retried_by_client = tuple(
            kind
            for handler in client.retry_handlers
            if isinstance(handler, AsyncConnectionErrorRetryHandler)
            for kind in handler.error_types_to_do_retries
        )

    async def call(
        self,
        token: str,
        method: str,
        params: Mapping[str, str],
        *,
        max_wait: timedelta | None = None,
    ) -> SlackAnswer:
        """The body of a successful call, or `SlackRefused` / `DirectoryUnavailable`;
        `max_wait` bounds this call's waits more tightly than the one given at construction."""
        bound = (
            self._max_wait if max_wait is None else min(self._max_wait, max_wait.total_seconds())
        )
        waited = 0.0
        retried = False
        # The budget is the workspace's; the token stands for it without being kept in clear.
        key = (hashlib.sha256(token.encode()).hexdigest()[:16], method)
        while True:
            waited += await self._pace(key, method, waited, bound)
            try:
                reply = await self._send(token, method, params)
            except (aiohttp.ClientError, TimeoutError) as error:
                if retried or isinstance(error, self._retried_by_client):
                    raise DirectoryUnavailable(
                        f"Slack did not answer ({type(error).__name__})"
                    ) from None
                retried = True
                await self._clock.sleep(RETRY_PAUSE * (1 + random.random()))
                continue
            if reply.status == 429:
                retry = _seconds(reply.headers.get("retry-after"))
                if waited + retry > bound:
                    raise DirectoryUnavailable("Slack is rate limiting us", retry_after=retry)
                await self._clock.sleep(retry)
                waited += retry
                continue
            if reply.status >= 500 and not retried:
                retried = True
                await self._clock.sleep(RETRY_PAUSE * (1 + random.random()))
                continue
            return _answer(method, reply)

    async def _send(self, token: str, method: str, params: Mapping[str, str]) -> _Reply:
        """One POST of `params` as a form, as every Slack method accepts them."""
        try:
            response: object = await self._client.api_call(
                method, data=dict(params), headers={"Authorization": f"Bearer {token}"}
            )
        except SlackApiError as error:
            # Anything but a 200 with ok: true. A body that is not JSON leaves aiohttp's own
            # response here rather than an AsyncSlackResponse.
            response = error.response
        if isinstance(response, AsyncSlackResponse):
            status, headers, data = response.status_code, response.headers, response.data
        elif isinstance(response, aiohttp.ClientResponse):
            status, headers, data = response.status, dict(response.headers), None
        else:
            raise DirectoryUnavailable(f"Slack's client gave no answer to {method}")
        return _Reply(
            status=status,
            headers={str(k).lower(): str(v) for k, v in headers.items()},
            body=data if isinstance(data, dict) and data else None,
        )

    async def _pace(self, key: tuple[str, str], method: str, waited: float, bound: float) -> float:
        budget = self._per_minute.get(method)
        if budget is None:
            return 0.0
        window = self._windows.setdefault(key, _Window())
        slept = 0.0
        # Checked again after each sleep: calls waiting together must not share one slot.
        while (wait := window.wait(self._clock.monotonic(), budget)) > 0:
            if waited + slept + wait > bound:
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


def _answer(method: str, reply: _Reply) -> SlackAnswer:
    body = reply.body
    if body is None:
        raise DirectoryUnavailable(f"Slack answered {reply.status} without JSON")
    if body.get("ok") is not True:
        error = str(body.get("error") or "unknown_error")
        if reply.status >= 500:
            raise DirectoryUnavailable(f"Slack failed {method}: {error}")
        needed, provided = body.get("needed"), body.get("provided")
        raise SlackRefused(
            method, error,
            needed=str(needed) if needed else None, provided=str(provided) if provided else None,
        )  # fmt: skip
    header = reply.headers.get("x-oauth-scopes")
    scopes = frozenset(s.strip() for s in header.split(",") if s.strip()) if header else None
    return SlackAnswer(body, scopes)
