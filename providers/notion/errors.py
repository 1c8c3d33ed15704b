"""Turning a Notion response into our error tree (providers.base).

API errors are `{"object": "error", "status", "code", "message"}`; the OAuth endpoints answer
OAuth-style `{"error": "invalid_grant", ...}` instead — a refused refresh means reconnect.
"""

from __future__ import annotations

import httpx

from primitives.enums import ProviderName
from providers.base import AuthRevoked, Permanent, ProviderError, RateLimited, Transient

NOTION = ProviderName.NOTION
RETRYABLE = frozenset({"conflict_error", "internal_server_error", "service_unavailable",
                       "service_overload", "gateway_timeout"})  # fmt: skip


def retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return 1.0


def error_from_response(response: httpx.Response, *, oauth: bool = False) -> ProviderError:
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
        return RateLimited(NOTION, "Notion is rate limiting us; retrying shortly",
                           retry_after=retry_after(response), code=code)  # fmt: skip
    if code in ("invalid_grant", "unauthorized") or status == 401:
        return AuthRevoked(NOTION, "Notion no longer accepts your connection; reconnect Notion "
                           "with /tasks connect notion", code=code)  # fmt: skip
    if oauth and 400 <= status < 500:
        return Permanent(NOTION, f"Notion refused the connection: {message or code}", code=code)
    if code in ("object_not_found", "restricted_resource") or status in (403, 404):
        return Permanent(
            NOTION,
            "Scrumy Tasks cannot reach this Notion database: share it with Scrumy Tasks in "
            "Notion, or choose another database",
            code=code,
        )
    if status >= 500 or code in RETRYABLE:
        wait = retry_after(response) if status in (503, 529) else None
        return Transient(
            NOTION, f"Notion had a problem (HTTP {status}); retrying", code=code, retry_after=wait
        )
    if 400 <= status < 500:
        return Permanent(NOTION, f"Notion refused the page: {message or code or status}", code=code)
    return Transient(NOTION, f"Notion answered with an unexpected HTTP {status}", code=code)
