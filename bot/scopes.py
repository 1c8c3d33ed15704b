"""The Slack scopes the code relies on, and which a bot token was granted (`auth.test`).

Slack names a token's scopes in the `X-OAuth-Scopes` header of every Web API answer; `auth.test`
is the cheapest call to read it. docs/setup.md says what breaks without each scope.
"""

from __future__ import annotations

import httpx

# Scope -> what stops working without it: logged at start-up and reported by `scrumy check`.
REQUIRED_BOT_SCOPES = {
    "users:read": "users.info: nobody can be checked, so every task is its meeting owner's",
    "users:read.email": "users.lookupByEmail: owners and assignees given by e-mail are not found",
    "team:read": "team.info: the connect confirmation page names the workspace by its id",
}


class ScopeCheckFailed(Exception):
    """Slack could not tell the token's scopes; `str(error)` says why, without the token."""


async def granted_scopes(http: httpx.AsyncClient, *, api_url: str, token: str) -> frozenset[str]:
    """The scopes granted to `token`, from `auth.test`'s `X-OAuth-Scopes` header."""
    try:
        response = await http.post(
            f"{api_url.rstrip('/')}/auth.test", headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as error:
        raise ScopeCheckFailed(f"Slack did not answer ({type(error).__name__})") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ScopeCheckFailed(f"Slack answered {response.status_code} without JSON")
    if body.get("ok") is not True:
        raise ScopeCheckFailed(f"Slack refused the bot token: {body.get('error', 'unknown')}")
    header = response.headers.get("x-oauth-scopes", "")
    return frozenset(scope.strip() for scope in header.split(",") if scope.strip())
