"""The one way the app calls the Slack Web API: `slack_sdk`'s `AsyncWebClient`.

    slack_web_client(api_url, timeout=...) -> AsyncWebClient

Every client is made here, on the process's shared HTTP settings (`SLACK_API_URL`, the timeout
every outbound call has), with `slack_sdk`'s retry handlers: a dropped connection is tried once
more, and a 429 waits the `Retry-After` Slack gives before trying again (at most
`RATE_LIMIT_RETRIES` times; past that the call fails with Slack's `ratelimited` and the caller
decides). A client holds no token: each call passes the token of the workspace it is for, so
one client serves every installed workspace.
"""

from __future__ import annotations

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

DEFAULT_TIMEOUT = 20  # seconds, as for every outbound call (scrumy.services)
RATE_LIMIT_RETRIES = 2


def slack_web_client(
    api_url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    token: str | None = None,
    rate_limit_retries: int = RATE_LIMIT_RETRIES,
) -> AsyncWebClient:
    """A Web API client for `api_url` (e.g. `https://slack.com/api/`); `token` only for a
    client that serves one workspace."""
    handlers: list[AsyncRetryHandler] = [AsyncConnectionErrorRetryHandler(max_retry_count=1)]
    if rate_limit_retries:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries))
    return AsyncWebClient(
        token=token,
        base_url=api_url.rstrip("/") + "/",
        timeout=max(1, round(timeout)),
        retry_handlers=handlers,
    )
