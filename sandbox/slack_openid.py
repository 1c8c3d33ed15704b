"""Sign in with Slack (OpenID Connect) in the Slack emulator, as strict as Slack.

- `GET /openid/connect/authorize` — the consent page: `response_type=code`, a `scope` with
  `openid`, a known `client_id` and a `redirect_uri` registered for it exactly, else an error
  page (Slack does not redirect to an unknown address). The page offers the members of the
  workspace named by `team` (or `signed_in` only, when a test says who is signed in to Slack);
  the test presses "Continue as …" or "Cancel".
- `POST /openid/connect/authorize` — the button: a 302 to the redirect URI with a one-time
  `code` (10 minutes) and the `state`, or `error=access_denied`.
- `POST /api/openid.connect.token` — client id and secret (form or HTTP Basic), the `code`
  (once, unexpired, made for this client) and the same `redirect_uri`: `{"ok": true,
  "access_token": "xoxp-…", "token_type": "Bearer", "id_token": "<JWT>"}`; else `{"ok": false,
  "error": "invalid_client_id" | "bad_client_secret" | "invalid_code" | "bad_redirect_uri"}`.
  The ID token carries `iss`, `sub`, `aud`, `exp`, `iat`, `auth_time`, the `nonce` when one was
  sent, and the `https://slack.com/…` claims. Slack signs it with RS256; the emulator signs it
  with HS256 and the client secret (the app does not check the signature, see
  `sidecar.slack_sign_in`).
- `GET|POST /api/openid.connect.userInfo` — with the access token: `ok`, `sub`,
  `https://slack.com/user_id`, `https://slack.com/team_id`, `name`, `email`, `given_name`,
  `https://slack.com/team_name`, …; an unknown token is `invalid_auth`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from primitives.clock import Clock

CODE_LIFETIME = timedelta(minutes=10)
ID_TOKEN_LIFETIME = timedelta(hours=1)
ISSUER = "https://slack.com"


@dataclass
class SlackOpenIdApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class SlackOpenId:
    """Sign in with Slack's apps, codes and user tokens; `signed_in` is who is signed in to
    Slack in the browser (None: the consent page offers every member of the workspace)."""

    apps: dict[str, SlackOpenIdApp] = field(default_factory=dict)
    signed_in: str | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # user token -> user id

    def add_app(self, client_id: str, client_secret: str, *redirect_uris: str) -> SlackOpenIdApp:
        app = SlackOpenIdApp(client_id, client_secret, tuple(redirect_uris))
        self.apps[client_id] = app
        return app


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(claims: dict[str, Any], key: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(mac)}"


def openid_routes(
    openid: SlackOpenId,
    users: dict[str, dict[str, Any]],
    team_names: dict[str, str],
    requests: Counter[str],
    clock: Clock,
) -> list[Route]:
    """The routes of Sign in with Slack over the emulator's people and workspaces."""

    def failure_page(message: str) -> Response:
        return HTMLResponse(
            "<!doctype html><html><head><title>Slack — error</title></head><body>"
            f"<h1>Something went wrong</h1><p>{html.escape(message)}</p></body></html>",
            400,
        )

    def check(params: Any) -> Response | None:
        app = openid.apps.get(str(params.get("client_id", "")))
        if app is None:
            return failure_page("Invalid client_id parameter")
        if str(params.get("redirect_uri", "")) not in app.redirect_uris:
            return failure_page("redirect_uri did not match any configured URIs")
        if params.get("response_type") != "code":
            return failure_page("Invalid response_type parameter")
        if "openid" not in str(params.get("scope", "")).split():
            return failure_page("Invalid scope parameter: openid is required")
        return None

    def candidates(team_id: str) -> list[dict[str, Any]]:
        if openid.signed_in is not None:
            user = users.get(openid.signed_in)
            return [user] if user else []
        return [
            u
            for u in users.values()
            if (not team_id or u["team_id"] == team_id) and not u["deleted"] and not u["is_bot"]
        ]

    async def authorize(request: Request) -> Response:
        requests[f"{request.method} /openid/connect/authorize"] += 1
        params = request.query_params if request.method == "GET" else await request.form()
        failure = check(params)
        if failure is not None:
            return failure
        redirect_uri = str(params["redirect_uri"])
        state = str(params.get("state", ""))
        if request.method == "GET":
            keep = ("client_id", "redirect_uri", "state", "nonce", "scope", "response_type")
            hidden = "".join(
                f'<input type="hidden" name="{n}" value="{html.escape(str(params[n]))}">'
                for n in keep
                if n in params
            )
            buttons = "".join(
                f'<button name="user" value="{html.escape(u["id"])}">'
                f"Continue as {html.escape(u['real_name'])}</button> "
                for u in candidates(str(params.get("team", "")))
            )
            team = team_names.get(str(params.get("team", "")), "Slack")
            return HTMLResponse(
                "<!doctype html><html><head><title>Sign in with Slack</title></head><body>"
                f"<h1>Sign in to {html.escape(team)}</h1>"
                f"<p>{html.escape(str(params['client_id']))} wants to know who you are.</p>"
                f'<form method="post" action="/openid/connect/authorize">{hidden}{buttons}'
                '<button name="decision" value="deny">Cancel</button></form></body></html>'
            )
        if params.get("decision") == "deny":
            query = urlencode({"error": "access_denied", "state": state})
            return RedirectResponse(f"{redirect_uri}?{query}", 302)
        user = users.get(str(params.get("user", "")))
        if user is None or user not in candidates(""):
            return failure_page("Pick who signs in")
        code = secrets.token_hex(16)
        openid.codes[code] = {
            "client_id": str(params["client_id"]),
            "redirect_uri": redirect_uri,
            "user_id": user["id"],
            "nonce": params.get("nonce"),
            "expires": clock.now() + CODE_LIFETIME,
        }
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", 302)

    async def values_of(request: Request) -> dict[str, str]:
        values = {k: str(v) for k, v in request.query_params.items()}
        if request.method == "POST":
            values.update({k: str(v) for k, v in (await request.form()).items()})
        return values

    async def token(request: Request) -> Response:
        requests["openid.connect.token"] += 1
        values = await values_of(request)
        scheme, _, basic = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(basic).decode().partition(":")
            except ValueError:
                return JSONResponse({"ok": False, "error": "invalid_client_id"})
            values.setdefault("client_id", client_id)
            values.setdefault("client_secret", secret)
        app = openid.apps.get(values.get("client_id", ""))
        if app is None:
            return JSONResponse({"ok": False, "error": "invalid_client_id"})
        if not hmac.compare_digest(values.get("client_secret", ""), app.client_secret):
            return JSONResponse({"ok": False, "error": "bad_client_secret"})
        grant = openid.codes.pop(values.get("code", ""), None)  # one use, even when refused
        if grant is None or grant["client_id"] != app.client_id or grant["expires"] < clock.now():
            return JSONResponse({"ok": False, "error": "invalid_code"})
        if values.get("redirect_uri", "") != grant["redirect_uri"]:
            return JSONResponse({"ok": False, "error": "bad_redirect_uri"})
        user = users[grant["user_id"]]
        access_token = f"xoxp-{secrets.token_hex(12)}"
        openid.tokens[access_token] = user["id"]
        now = clock.now()
        claims = {
            "iss": ISSUER,
            "sub": user["id"],
            "aud": app.client_id,
            "exp": int((now + ID_TOKEN_LIFETIME).timestamp()),
            "iat": int(now.timestamp()),
            "auth_time": int(now.timestamp()),
            **({"nonce": grant["nonce"]} if grant["nonce"] else {}),
            **identity(user, now),
        }
        return JSONResponse(
            {
                "ok": True,
                "access_token": access_token,
                "token_type": "Bearer",
                "id_token": _jwt(claims, app.client_secret),
            }
        )

    def identity(user: dict[str, Any], now: datetime) -> dict[str, Any]:
        profile = user["profile"]
        return {
            "https://slack.com/user_id": user["id"],
            "https://slack.com/team_id": user["team_id"],
            "email": profile.get("email"),
            "email_verified": True,
            "date_email_verified": int(now.timestamp()),
            "name": user["real_name"],
            "given_name": user["real_name"].split()[0],
            "family_name": " ".join(user["real_name"].split()[1:]),
            "locale": "en-US",
            "https://slack.com/team_name": team_names.get(user["team_id"], user["team_id"]),
            "https://slack.com/team_domain": user["team_id"].lower(),
        }

    async def user_info(request: Request) -> Response:
        requests["openid.connect.userInfo"] += 1
        values = await values_of(request)
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        access_token = bearer.strip() if scheme.lower() == "bearer" else values.get("token", "")
        user_id = openid.tokens.get(access_token)
        if user_id is None:
            error = "not_authed" if not access_token else "invalid_auth"
            return JSONResponse({"ok": False, "error": error})
        user = users[user_id]
        return JSONResponse({"ok": True, "sub": user_id, **identity(user, clock.now())})

    return [
        Route("/openid/connect/authorize", authorize, methods=["GET", "POST"]),
        Route("/api/openid.connect.token", token, methods=["POST"]),
        Route("/api/openid.connect.userInfo", user_info, methods=["GET", "POST"]),
    ]
