"""Turning a ClickUp response into our error tree (providers.base).

ClickUp answers errors as `{"err": "...", "ECODE": "..."}`. Only OAUTH_019/021/025/077 mean
the token is gone (reconnect); the other OAUTH_0xx codes — also returned for an unknown or
foreign list id — mean "not in a workspace you authorized" and must not disconnect anyone.
"""

from __future__ import annotations

import time

import httpx

from primitives.enums import ProviderName
from providers.base import AuthRevoked, Permanent, ProviderError, RateLimited, Transient

CLICKUP = ProviderName.CLICKUP
TOKEN_GONE = frozenset({"OAUTH_019", "OAUTH_021", "OAUTH_025", "OAUTH_077"})


def retry_after(response: httpx.Response, now: float | None = None) -> float:
    """Seconds to wait after a 429: Retry-After, else until X-RateLimit-Reset (unix seconds)."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    reset = response.headers.get("x-ratelimit-reset")
    if reset:
        try:
            return max(1.0, float(reset) - (now if now is not None else time.time()))
        except ValueError:
            pass
    return 60.0


def error_from_response(response: httpx.Response, *, now: float) -> ProviderError:
    """The error a non-2xx ClickUp response stands for, with a message a person can read."""
    status = response.status_code
    code: str | None = None
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            code = str(body["ECODE"]) if body.get("ECODE") else None
            detail = str(body.get("err") or "")[:300]
    except ValueError:
        pass  # an HTML page from a proxy, or nothing at all
    if status == 429:
        return RateLimited(CLICKUP, "ClickUp is rate limiting us; retrying shortly",
                           retry_after=retry_after(response, now), code=code)  # fmt: skip
    if code in TOKEN_GONE or (status == 401 and code is None):
        return AuthRevoked(CLICKUP, "ClickUp no longer accepts your connection; reconnect "
                           "ClickUp with /tasks connect clickup", code=code)  # fmt: skip
    if code is not None and code.startswith("OAUTH_"):
        return Permanent(CLICKUP, "This ClickUp list is not in a workspace you authorized, or it "
                         "was deleted; choose another list", code=code)  # fmt: skip
    if status >= 500 or status in (408, 425):
        return Transient(CLICKUP, f"ClickUp had a problem (HTTP {status}); retrying", code=code)
    if 400 <= status < 500:
        reason = detail or f"HTTP {status}"
        return Permanent(CLICKUP, f"ClickUp refused the task: {reason}", code=code)
    return Transient(CLICKUP, f"ClickUp answered with an unexpected HTTP {status}", code=code)
