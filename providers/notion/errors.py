"""Turning a Notion response into our error tree (providers.base).

API errors are `{"object": "error", "status", "code", "message"}`. The token endpoint
(`Endpoint.OAUTH`: code exchange, refresh, revoke) answers OAuth-style
`{"error": "invalid_grant", ...}` instead, and its failures are about the person's sign-in: a
refused grant means connect Notion again; an unknown client (`invalid_client`) is for whoever
runs Scrumy Tasks to fix.
"""

from __future__ import annotations

import httpx

from primitives.enums import ProviderName
from providers.base import AuthRevoked, Permanent, ProviderError, RateLimited, Transient
from providers.http import Endpoint, retry_hint

NOTION = ProviderName.NOTION
RETRYABLE = frozenset({"conflict_error", "internal_server_error", "service_unavailable",
                       "service_overload", "gateway_timeout"})  # fmt: skip
# Notion's per-connection limit averages three requests a second; a 429 without Retry-After
# is rare and short.
DEFAULT_RETRY_AFTER = 1.0


def error_from_response(
    response: httpx.Response, *, endpoint: Endpoint, retry_after: float | None
) -> ProviderError:
    """The error a non-2xx Notion answer stands for, with a message a person can read."""
    status = response.status_code
    code: str | None = None
    message = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            code = str(body.get("code") or body.get("error") or "") or None
            message = str(body.get("message") or body.get("error_description") or "")[:300]
    except ValueError:
        pass  # an HTML page from a proxy
    if status == 429 or code == "rate_limited":
        return RateLimited(NOTION, f"Notion is rate limiting us; {retry_hint(endpoint)}",
                           retry_after=DEFAULT_RETRY_AFTER if retry_after is None else retry_after,
                           code=code)  # fmt: skip
    if status >= 500 or code in RETRYABLE:
        return Transient(
            NOTION,
            f"Notion had a problem (HTTP {status}); {retry_hint(endpoint)}",
            code=code,
            # 503 and 529 (service_overload) say how long to stay away.
            retry_after=retry_after if status in (503, 529) else None,
        )
    if endpoint is Endpoint.OAUTH:
        return _sign_in_error(status, code, message)
    if code == "unauthorized" or status == 401:
        return AuthRevoked(NOTION, "Notion no longer accepts your connection; reconnect Notion "
                           "with /tasks connect notion", code=code)  # fmt: skip
    if code in ("object_not_found", "restricted_resource") or status in (403, 404):
        return Permanent(
            NOTION,
            "Scrumy Tasks cannot reach this Notion database: share it with Scrumy Tasks in "
            "Notion, or choose another database",
            code=code,
        )
    if 400 <= status < 500:
        return Permanent(NOTION, f"Notion refused the page: {message or code or status}", code=code)
    return Transient(NOTION, f"Notion answered with an unexpected HTTP {status}", code=code)


def _sign_in_error(status: int, code: str | None, message: str) -> ProviderError:
    """A failure at the token endpoint, worded for the person signing in."""
    if code == "invalid_client":
        return Permanent(
            NOTION,
            "Notion does not accept this Scrumy Tasks integration; ask whoever runs Scrumy "
            "Tasks to check its Notion settings",
            code=code,
        )
    if code == "invalid_grant" or status == 401:
        # A refused refresh token: the connection is over. (A refused code is the same words;
        # the client makes it a Permanent, as there is no connection yet to revoke.)
        return AuthRevoked(
            NOTION, "Notion did not accept this sign-in; connect Notion again", code=code
        )
    if 400 <= status < 500:
        return Permanent(NOTION, f"Notion refused the sign-in ({message or code or status}); "
                         "connect Notion again", code=code)  # fmt: skip
    return Transient(NOTION, f"Notion answered with an unexpected HTTP {status}", code=code)
