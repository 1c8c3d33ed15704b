"""Sign in with Slack (OpenID Connect), to prove who opened a connect link.

1. The browser goes to `https://slack.com/openid/connect/authorize` with `response_type=code`,
   `scope=openid profile`, our client id, our fixed redirect URI, a one-time `state`, a `nonce`
   and `team` (the workspace the link was made in, so Slack offers that one first).
2. Slack sends it back with a `code`; we exchange it at `openid.connect.token` (client id and
   secret in the form, the same redirect URI) for an access token and an ID token, check that
   the ID token was made for our app, by Slack, with our nonce and is not expired, and ask
   `openid.connect.userInfo` who signed in: `https://slack.com/user_id` and
   `https://slack.com/team_id`.

The ID token's signature is not checked: it comes straight from Slack's token endpoint over
TLS, in answer to our client secret (OpenID Connect Core 1.0 §3.1.3.7, item 6); its claims
must still match, and the person's ids are taken from `userInfo` and must agree with the
token's.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from primitives.clock import Clock
from primitives.text import clean_optional

ISSUER = "https://slack.com"
AUTHORIZE_PATH = "/openid/connect/authorize"
SCOPES = "openid profile"
USER_ID = "https://slack.com/user_id"
TEAM_ID = "https://slack.com/team_id"
TEAM_NAME = "https://slack.com/team_name"


class SignInFailed(Exception):
    """Slack did not tell us who signed in; `str(error)` is safe to show (no token in it)."""


@dataclass(frozen=True)
class SlackIdentity:
    """Who signed in with Slack."""

    team_id: str
    user_id: str
    name: str | None
    team_name: str | None


class SlackSignIn:
    """The Sign in with Slack client: an authorize URL, then a code exchanged for an identity."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        client_id: str,
        client_secret: str,
        auth_url: str,
        clock: Clock,
    ) -> None:
        self._client = client
        self._client_id = client_id
        self._client_secret = client_secret
        self._authorize = auth_url.rstrip("/") + AUTHORIZE_PATH
        self._clock = clock

    @property
    def authorize_origin(self) -> str:
        """Scheme and host of the authorize page (a page's form may be sent on to it)."""
        parts = httpx.URL(self._authorize)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.host}{port}"

    def authorize_url(self, *, state: str, nonce: str, redirect_uri: str, team_id: str) -> str:
        query = {
            "response_type": "code",
            "scope": SCOPES,
            "client_id": self._client_id,
            "state": state,
            "nonce": nonce,
            "redirect_uri": redirect_uri,
            "team": team_id,
        }
        return f"{self._authorize}?{urlencode(query)}"

    async def identify(self, *, code: str, redirect_uri: str, nonce: str) -> SlackIdentity:
        """Exchange `code` and say who signed in, or `SignInFailed`."""
        tokens = await self._call(
            "openid.connect.token",
            data={
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "code": code,
                "redirect_uri": redirect_uri,
                "grant_type": "authorization_code",
            },
        )
        access_token = tokens.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise SignInFailed("Slack sent no access token")
        claims = _id_token_claims(tokens.get("id_token"))
        now = self._clock.now().timestamp()
        if claims.get("iss") != ISSUER:
            raise SignInFailed("the ID token was not issued by Slack")
        audience = claims.get("aud")
        if audience != self._client_id and not (
            isinstance(audience, list) and self._client_id in audience
        ):
            raise SignInFailed("the ID token was made for another app")
        if claims.get("nonce") != nonce:
            raise SignInFailed("the ID token does not belong to this sign-in")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires <= now:
            raise SignInFailed("the ID token has expired")
        info = await self._call(
            "openid.connect.userInfo", headers={"Authorization": f"Bearer {access_token}"}
        )
        user_id, team_id = info.get(USER_ID), info.get(TEAM_ID)
        if not isinstance(user_id, str) or not isinstance(team_id, str):
            raise SignInFailed("Slack did not say who signed in")
        if (claims.get(USER_ID), claims.get(TEAM_ID)) != (user_id, team_id):
            raise SignInFailed("Slack's ID token and user info disagree")
        return SlackIdentity(
            team_id=team_id,
            user_id=user_id,
            name=clean_optional(str(info.get("name") or "")),
            team_name=clean_optional(str(info.get(TEAM_NAME) or "")),
        )

    async def _call(
        self,
        method: str,
        *,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._client.api_call(method, data=data, headers=headers)
            status, body = response.status_code, response.data
        except SlackApiError as refused:
            status, body = refused.response.status_code, refused.response.data
        except (aiohttp.ClientError, TimeoutError) as error:
            raise SignInFailed(f"Slack did not answer ({type(error).__name__})") from None
        if not isinstance(body, dict):
            raise SignInFailed(f"Slack answered HTTP {status} without JSON")
        if body.get("ok") is not True:
            said = str(body.get("error") or f"HTTP {status}")
            raise SignInFailed(f"Slack refused {method}: {said[:80]}")
        return body


def _id_token_claims(token: object) -> dict[str, Any]:
    """The payload of a compact JWT (not its signature: see the module's docstring)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise SignInFailed("Slack sent no ID token")
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        raise SignInFailed("Slack's ID token cannot be read") from None
    if not isinstance(claims, dict):
        raise SignInFailed("Slack's ID token cannot be read")
    return claims
