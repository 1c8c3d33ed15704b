"""Turning a ClickUp response into our error tree (providers.base).

ClickUp answers errors as `{"err": "...", "ECODE": "..."}`, and what an OAUTH_0xx code means
depends on where it came from:

- from the token endpoint (`Endpoint.OAUTH`) it is about the sign-in: the code was refused
  (used, expired, never issued) and the person connects again — unless ClickUp does not
  accept our app itself (`APP_NOT_ACCEPTED`), which only whoever runs Scrumy Tasks can fix;
- from the API, the codes ClickUp documents as "team not authorized" (OAUTH_023, OAUTH_026,
  OAUTH_027, OAUTH_029 to OAUTH_045) — also returned for an unknown or foreign list id — mean
  "not in a workspace you authorized" and must not disconnect anyone; every other OAUTH_0xx on
  a 401 means the token is gone and the person reconnects. That covers the documented "token
  not found" codes (OAUTH_019/021/025/077) and those seen in the wild but not documented
  (OAUTH_018 "Oauth token not found"), and it is the safe reading of a code we have never
  seen: "reconnect" can be acted on, while "choose another list" would send the person after a
  list that is not the problem, task after task.
"""

from __future__ import annotations

import httpx

from primitives.enums import ProviderName
from providers.base import AuthRevoked, Permanent, ProviderError, RateLimited, Transient
from providers.http import Endpoint, retry_hint

CLICKUP = ProviderName.CLICKUP
# Documented as "token not found"; OAUTH_018, which ClickUp answers ("Oauth token not found")
# without documenting it; and OAUTH_017, no usable Authorization header, which from the API
# means the token we hold is empty or malformed. Any other OAUTH_0xx on a 401 reads the same.
TOKEN_GONE = frozenset({"OAUTH_017", "OAUTH_018", "OAUTH_019", "OAUTH_021", "OAUTH_025",
                        "OAUTH_077"})  # fmt: skip
# Documented as "team(s) not authorized": the token works, this workspace or id is not its.
WORKSPACE_NOT_AUTHORIZED = frozenset(
    {"OAUTH_023", "OAUTH_026", "OAUTH_027", *(f"OAUTH_{n:03d}" for n in range(29, 46))}
)
# Our app, not the person's code: redirect URI not registered (OAUTH_007), client not found
# (OAUTH_010) — both in ClickUp's common errors — and "Client secret does not match"
# (OAUTH_011, which ClickUp does not document but answers).
APP_NOT_ACCEPTED = frozenset({"OAUTH_007", "OAUTH_010", "OAUTH_011"})
# ClickUp's window is a minute; a 429 that names no reset is waited out as a whole window.
DEFAULT_RETRY_AFTER = 60.0


def error_from_response(
    response: httpx.Response, *, endpoint: Endpoint, retry_after: float | None
) -> ProviderError:
    """The error a non-2xx ClickUp answer stands for, with a message a person can read."""
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
        # At least a second: a reset already past (clock skew) must not make us hammer.
        wait = DEFAULT_RETRY_AFTER if retry_after is None else max(1.0, retry_after)
        return RateLimited(CLICKUP, f"ClickUp is rate limiting us; {retry_hint(endpoint)}",
                           retry_after=wait, code=code)  # fmt: skip
    if endpoint is Endpoint.OAUTH:
        return _sign_in_error(status, code, endpoint)
    if code in WORKSPACE_NOT_AUTHORIZED:
        return Permanent(CLICKUP, "This ClickUp list is not in a workspace you authorized, or it "
                         "was deleted; choose another list", code=code)  # fmt: skip
    oauth = code is not None and code.startswith("OAUTH_")
    if code in TOKEN_GONE or (status == 401 and (code is None or oauth)):
        return AuthRevoked(CLICKUP, "ClickUp no longer accepts your connection; reconnect "
                           "ClickUp with /tasks connect clickup", code=code)  # fmt: skip
    if status >= 500 or status in (408, 425):
        return Transient(
            CLICKUP, f"ClickUp had a problem (HTTP {status}); {retry_hint(endpoint)}", code=code
        )
    if 400 <= status < 500:
        reason = detail or f"HTTP {status}"
        return Permanent(CLICKUP, f"ClickUp refused the task: {reason}", code=code)
    return Transient(CLICKUP, f"ClickUp answered with an unexpected HTTP {status}", code=code)


def _sign_in_error(status: int, code: str | None, endpoint: Endpoint) -> ProviderError:
    """A failure at the token endpoint: there is no connection yet, so nothing is revoked."""
    if status >= 500 or status in (408, 425):
        return Transient(
            CLICKUP, f"ClickUp had a problem (HTTP {status}); {retry_hint(endpoint)}", code=code
        )
    if code in APP_NOT_ACCEPTED:
        return Permanent(
            CLICKUP,
            f"ClickUp does not accept this Scrumy Tasks app ({code}); ask whoever runs Scrumy "
            "Tasks to check its ClickUp settings",
            code=code,
        )
    if 400 <= status < 500:
        return Permanent(
            CLICKUP, "ClickUp refused the sign-in code; connect ClickUp again", code=code
        )
    return Transient(CLICKUP, f"ClickUp answered with an unexpected HTTP {status}", code=code)
