"""The one HTTP layer under the provider clients: send, rate-limit bookkeeping, retried reads.

The ClickUp and Notion clients reach their APIs only through a `ProviderHttp`:

    send(...)   one request: wait for the connection's budget (`limiter.acquire`), pass the
                caller's fence if any (`SendGuard`: the worker's lease, checked and recorded
                in the database right before the send; the request is abandoned at the
                deadline it returns), send it, note what the answer says about the budget —
                a 429 holds the connection, and the `X-RateLimit-*` headers tell the limiter
                what is left of the window (here and nowhere else) — and turn a transport
                failure or anything but a 2xx JSON object into the error tree of
                `providers.base`.
    read(...)   `send`, repeated a few times on `RateLimited` and `Transient` with jittered
                exponential backoff that never waits less than the provider's `Retry-After`.
                Only for requests that are safe to repeat: a create goes through `send` once,
                and the worker finds a task whose answer was lost by its marker instead.

Each tool brings its own `ErrorMapper`, told which kind of endpoint failed (`Endpoint`): a 4xx
from the token endpoint is about the person's sign-in ("connect again"), the same status from
the API is about a token, a list or a database.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol

import httpx

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import ProviderError, RateLimited, SendGuard, Transient
from providers.ratelimit import RESET_MARGIN, ConnectionRateLimiter


class Endpoint(StrEnum):
    """Which kind of endpoint a request went to, so a failure is worded for what it is."""

    OAUTH = "oauth"  # the token endpoint (code exchange, refresh, revoke): a person's sign-in
    API = "api"  # everything done with a connection's access token


class ErrorMapper(Protocol):
    """A tool's reading of a non-2xx answer.

    `retry_after` is what the answer asked us to wait, in seconds (`Retry-After`, or until
    `X-RateLimit-Reset` when the budget is spent), None when it did not say.
    """

    def __call__(
        self, response: httpx.Response, *, endpoint: Endpoint, retry_after: float | None
    ) -> ProviderError: ...


@dataclass(frozen=True)
class ReadRetry:
    """How `ProviderHttp.read` repeats a failed read.

    Attempt n (from 1) is followed by a pause drawn from [ceiling / 2, ceiling], ceiling being
    `base_delay * 2 ** (n - 1)` capped at `max_delay`, raised to the provider's Retry-After.
    A provider asking for more than `max_wait` (Notion's workspace-wide limit may ask for
    minutes) is not waited for in line: the error goes up, carrying its `retry_after`, and the
    worker reschedules.
    """

    attempts: int = 3
    base_delay: float = 2.0
    max_delay: float = 30.0
    max_wait: float = 60.0


def retry_hint(endpoint: Endpoint) -> str:
    """The end of a transient failure's message: the worker retries API calls by itself,
    while a failed sign-in is retried only by the person."""
    return "try again in a minute" if endpoint is Endpoint.OAUTH else "retrying"


def requested_wait(response: httpx.Response, now: float) -> float | None:
    """Seconds the provider asked us to wait before the next request, None when it did not.

    `Retry-After` (seconds or an HTTP date) comes first; failing that, when the budget is
    spent (a 429, or `X-RateLimit-Remaining: 0`), the time until `X-RateLimit-Reset` (unix
    seconds, as ClickUp sends it) and `RESET_MARGIN` more: the reset is in whole seconds, so
    coming back at the second it names may still be inside the spent window. `now` is unix
    seconds.
    """
    header = response.headers.get("retry-after", "").strip()
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return max(0.0, moment.timestamp() - now)
    if response.status_code == 429 or _budget_spent(response):
        try:
            reset = float(response.headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return None
        return max(0.0, reset - now) + RESET_MARGIN
    return None


def rate_window(response: httpx.Response) -> tuple[int, int, float] | None:
    """`X-RateLimit-Limit`, `-Remaining` and `-Reset` (unix seconds) when all three are there
    and readable, else None (Notion sends none of them)."""
    headers = response.headers
    try:
        return (
            int(headers["x-ratelimit-limit"]),
            int(headers["x-ratelimit-remaining"]),
            float(headers["x-ratelimit-reset"]),
        )
    except (KeyError, ValueError):
        return None


def _budget_spent(response: httpx.Response) -> bool:
    try:
        return int(response.headers.get("x-ratelimit-remaining", "1")) <= 0
    except ValueError:
        return False  # garbled headers only cost us the early hold; a 429 still tells us


class ProviderHttp:
    """Requests to one tool's API, on the injected `httpx.AsyncClient`, limiter and clock.

    `base_url` is the API root that request paths are appended to; `headers` go on every
    request (e.g. `Notion-Version`). `rng` draws the retry jitter: seed it in tests.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        provider: ProviderName,
        base_url: str,
        errors: ErrorMapper,
        limiter: ConnectionRateLimiter,
        clock: Clock,
        rng: random.Random | None = None,
        headers: Mapping[str, str] | None = None,
        retry: ReadRetry | None = None,
    ) -> None:
        self._http = http
        self._provider = provider
        self._base_url = base_url.rstrip("/")
        self._errors = errors
        self._limiter = limiter
        self._clock = clock
        self._rng = rng or random.Random()
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._retry = retry or ReadRetry()

    async def send(
        self,
        method: str,
        path: str,
        *,
        endpoint: Endpoint = Endpoint.API,
        authorization: str | None = None,
        connection_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        guard: SendGuard | None = None,
        spare_only: bool = False,
    ) -> dict[str, Any]:
        """Send one request and return its JSON object, or raise a `ProviderError`.

        With `connection_id` (our id of a person's connection, never the token) the request
        draws from that connection's budget and a rate-limit answer holds it. With `guard`,
        the request goes out only if the guard lets it, and is abandoned at its deadline.
        With `spare_only` it goes out only if that budget is idle (`limiter.idle`); else
        `RateLimited` is raised at once, nothing sent.
        """
        headers = dict(self._headers)
        if authorization:
            headers["Authorization"] = authorization
        if spare_only and connection_id is not None and not self._limiter.idle(connection_id):
            raise RateLimited(
                self._provider, f"{self._provider.label}: no spare request budget now",
                retry_after=max(1.0, self._limiter.delay(connection_id)),
            )  # fmt: skip
        ticket = None if connection_id is None else await self._limiter.acquire(connection_id)
        try:
            return await self._send(
                method, path, endpoint=endpoint, headers=headers, ticket=ticket,
                connection_id=connection_id, params=params, json=json, guard=guard,
            )  # fmt: skip
        finally:
            if connection_id is not None and ticket is not None:
                self._limiter.release(connection_id, ticket)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        endpoint: Endpoint,
        headers: dict[str, str],
        ticket: int | None,
        connection_id: str | None,
        params: Mapping[str, Any] | None,
        json: Any,
        guard: SendGuard | None,
    ) -> dict[str, Any]:
        label = self._provider.label
        budget = await guard() if guard is not None else None
        try:
            async with asyncio.timeout(budget):
                response = await self._http.request(
                    method, self._base_url + path, params=params, json=json, headers=headers
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            # No connection was made, so the provider certainly saw nothing.
            raise Transient(
                self._provider,
                f"{label} cannot be reached; {retry_hint(endpoint)}",
                request_sent=False,
            ) from None
        except (httpx.TimeoutException, TimeoutError):
            raise Transient(
                self._provider, f"{label} did not answer in time; {retry_hint(endpoint)}"
            ) from None
        except httpx.HTTPError as error:
            kind = type(error).__name__
            raise Transient(
                self._provider, f"network error talking to {label} ({kind}); {retry_hint(endpoint)}"
            ) from None
        now = self._clock.now().timestamp()
        wait = requested_wait(response, now)
        failure = None
        if not response.is_success:
            failure = self._errors(response, endpoint=endpoint, retry_after=wait)
        if connection_id is not None and ticket is not None:
            self._note_budget(connection_id, ticket, response, failure, now)
        if failure is not None:
            raise failure
        try:
            body = response.json()
        except ValueError:
            raise Transient(
                self._provider, f"{label} sent an unreadable answer; {retry_hint(endpoint)}"
            ) from None
        if not isinstance(body, dict):
            raise Transient(self._provider, f"{label} sent an answer of an unexpected shape")
        return body

    def _note_budget(
        self,
        connection_id: str,
        ticket: int,
        response: httpx.Response,
        failure: ProviderError | None,
        now: float,
    ) -> None:
        """The one place a provider's rate-limit answer reaches the connection's budget."""
        if isinstance(failure, RateLimited):
            self._limiter.hold(connection_id, failure.retry_after)
        window = rate_window(response)
        if window is not None:
            limit, remaining, reset = window
            # A window spent by the last request waits for its reset rather than spending a
            # request on a certain 429.
            self._limiter.note_window(
                connection_id, ticket, limit=limit, remaining=remaining, reset=reset, now=now
            )

    async def read(
        self,
        method: str,
        path: str,
        *,
        endpoint: Endpoint = Endpoint.API,
        authorization: str | None = None,
        connection_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        """`send`, repeated on rate limits and transient failures (see `ReadRetry`).

        Only for requests that change nothing at the provider: GETs, and POSTs that search
        or query. The pause sleeps on the injected clock.
        """
        policy = self._retry
        for attempt in range(1, policy.attempts + 1):
            try:
                return await self.send(
                    method, path, endpoint=endpoint, authorization=authorization,
                    connection_id=connection_id, params=params, json=json,
                )  # fmt: skip
            except (RateLimited, Transient) as error:
                pause = self._pause(attempt, error.retry_after)
                if attempt == policy.attempts or pause > policy.max_wait:
                    raise
                await self._clock.sleep(pause)
        raise AssertionError("unreachable")

    def _pause(self, attempt: int, retry_after: float | None) -> float:
        policy = self._retry
        ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
        return max(self._rng.uniform(ceiling / 2, ceiling), retry_after or 0.0)
