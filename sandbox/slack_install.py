"""Installs in the Slack emulator: the consent page (`/oauth/v2/authorize`), `oauth.v2.access`
(the OAuth v2 code exchange, and token rotation's refresh) and `apps.connections.open` (Socket
Mode's URL), as Slack answers them.

- A test registers the app (`world.installs.add_app(client_id, client_secret, redirect_uri,
  scopes=..., token_rotation=..., name=...)`).
- `GET /oauth/v2/authorize?client_id=&scope=&state=&redirect_uri=` is the consent page: the
  app's name, the workspace and the scopes asked for, with "Allow" and "Cancel". The workspace
  is the `team` of the URL (Bolt passes `/slack/install?team=` on) or one to pick; who installs
  is the `user` of the URL or typed in. An unknown `client_id`, a `redirect_uri` that is not one
  registered for the app (exactly; none given means the first one), or a bot scope the app
  does not declare (or none at all) is an error page, never a redirect, as on Slack. User
  scopes (`user_scope`) are not emulated.
- `POST /oauth/v2/authorize` is the button: a 302 to the redirect URI with a one-time `code`
  and the same `state`, or `error=access_denied` and the `state` for "Cancel". The form's
  `team_id` and `user_id` say where and who (a test may put them in the query as `team` and
  `user` instead). A test may also skip the page: `world.installs.issue_code(client_id,
  team_id, user_id, at=..., redirect_uri=...)` is what pressing "Allow" hands out.
- `POST /api/oauth.v2.access` takes the client id and secret in the form or HTTP Basic:
  `invalid_client_id`, `bad_client_secret`; the code once, unexpired (ten minutes) and made for
  this client (`invalid_code`), with the `redirect_uri` of the authorize request when it had
  one (`bad_redirect_uri`). It installs the bot in the workspace (`world.bot_tokens`) with the
  scopes asked for (the app's, for a code from `issue_code`) and answers `access_token`,
  `token_type: "bot"`, `scope`, `bot_user_id`, `app_id`, `team` {id, name}, `enterprise: null`,
  `is_enterprise_install: false`, `authed_user` {id}; with token rotation the token is
  `xoxe.xoxb-…` with `expires_in` (12 hours) and a `refresh_token`, and
  `grant_type=refresh_token` gives a fresh access token (`invalid_refresh_token` otherwise).
  An expired token is `token_expired` on every method.
- `POST /api/apps.connections.open` with an app-level `xapp-` token in the Authorization header
  and `connections:write`: `{"ok": true, "url": "ws://<host>/link/?ticket=…&app_id=…"}`, a URL
  of the emulator itself with a one-time ticket, served by `sandbox.slack_socket`. Slack answers
  `wss://`; over loopback there is no TLS, so the emulator answers `ws://` (`wss://` when it
  was asked over https). No token in the header is `missing_args` (Slack refuses it as a form
  field), a bot token `not_allowed_token_type`, an unknown one `invalid_auth`, GET
  `insecure_request`. Tier 3 per app.
"""

from __future__ import annotations

import base64
import hmac
import html
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from primitives.clock import Clock
from sandbox.slack_socket import LINK_PATH

if TYPE_CHECKING:
    from sandbox.slack import SlackSandbox

CODE_LIFETIME = timedelta(minutes=10)
ROTATED_TOKEN_LIFETIME = timedelta(hours=12)  # Slack's `expires_in`: 43200
CONNECTIONS_PER_MINUTE = 50  # apps.connections.open: Tier 3


@dataclass
class SlackApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]
    token_rotation: bool = False
    app_id: str = "A0SCRUMY"
    name: str = "Scrumy Tasks"  # what the consent page calls it


@dataclass
class SlackInstalls:
    """Apps, install codes, rotating tokens and app-level tokens."""

    apps: dict[str, SlackApp] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> client, team
    expiry: dict[str, datetime] = field(default_factory=dict)  # rotating token -> expiry
    app_tokens: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    socket_urls: list[str] = field(default_factory=list)  # apps.connections.open's answers
    _opens: Counter[tuple[str, int]] = field(default_factory=Counter)

    def add_app(
        self,
        client_id: str,
        client_secret: str,
        *redirect_uris: str,
        scopes: frozenset[str] | set[str] = frozenset({"chat:write", "commands"}),
        token_rotation: bool = False,
        app_id: str = "A0SCRUMY",
        name: str = "Scrumy Tasks",
    ) -> SlackApp:
        app = SlackApp(client_id, client_secret, tuple(redirect_uris), frozenset(scopes),
                       token_rotation, app_id, name)  # fmt: skip
        self.apps[client_id] = app
        return app

    def issue_code(
        self,
        client_id: str,
        team_id: str,
        user_id: str,
        *,
        at: datetime,
        redirect_uri: str = "",
        scopes: frozenset[str] | None = None,
    ) -> str:
        """What Slack's consent page hands the redirect URI when the person allows the app
        (`scopes`: those the page asked for; None for all the app declares)."""
        code = f"{team_id}.{secrets.token_hex(12)}"
        self.codes[code] = {
            "client_id": client_id, "team_id": team_id, "user_id": user_id,
            "redirect_uri": redirect_uri, "expires": at + CODE_LIFETIME, "scopes": scopes,
        }  # fmt: skip
        return code

    def add_app_token(
        self,
        token: str,
        app_id: str = "A0SCRUMY",
        scopes: frozenset[str] | set[str] = frozenset({"connections:write"}),
    ) -> None:
        """An app-level token (`xapp-…`), made in the app's settings, for Socket Mode."""
        self.app_tokens[token] = (app_id, frozenset(scopes))


def install_routes(world: SlackSandbox, clock: Clock) -> list[Route]:
    installs = world.installs

    def refuse(error: str) -> JSONResponse:
        return JSONResponse({"ok": False, "error": error})

    def mint(
        app: SlackApp, team_id: str, user_id: str, scopes: frozenset[str] | None = None
    ) -> dict[str, Any]:
        granted = app.scopes if scopes is None else scopes
        rotating = app.token_rotation
        token = (
            f"xoxe.xoxb-1-{secrets.token_hex(16)}"
            if rotating
            else f"xoxb-{team_id}-{secrets.token_hex(12)}"
        )
        world.add_workspace(team_id, token, scopes=granted)
        bot_user, _ = world.bot_of(team_id)
        answer: dict[str, Any] = {
            "ok": True, "access_token": token, "token_type": "bot",
            "scope": ",".join(sorted(granted)), "bot_user_id": bot_user, "app_id": app.app_id,
            "team": {"id": team_id, "name": world.team_names.get(team_id, team_id)},
            "enterprise": None, "is_enterprise_install": False, "authed_user": {"id": user_id},
        }  # fmt: skip
        if rotating:
            installs.expiry[token] = clock.now() + ROTATED_TOKEN_LIFETIME
            refresh = next((r for r, (c, t) in installs.refresh_tokens.items()
                            if c == app.client_id and t == team_id), None)  # fmt: skip
            if refresh is None:
                refresh = f"xoxe-1-{secrets.token_hex(16)}"
                installs.refresh_tokens[refresh] = (app.client_id, team_id)
            answer["refresh_token"] = refresh
            answer["expires_in"] = int(ROTATED_TOKEN_LIFETIME.total_seconds())
        return answer

    async def access(request: Request) -> Response:
        world.requests["oauth.v2.access"] += 1
        values = {k: str(v) for k, v in request.query_params.items()}
        if request.method == "POST":
            values.update({k: str(v) for k, v in (await request.form()).items()})
        scheme, _, basic = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(basic).decode().partition(":")
            except ValueError:
                return refuse("invalid_client_id")
            values.setdefault("client_id", client_id)
            values.setdefault("client_secret", secret)
        app = installs.apps.get(values.get("client_id", ""))
        if app is None:
            return refuse("invalid_client_id")
        if not hmac.compare_digest(values.get("client_secret", ""), app.client_secret):
            return refuse("bad_client_secret")
        grant_type = values.get("grant_type", "authorization_code")
        if grant_type == "refresh_token":
            owner = installs.refresh_tokens.get(values.get("refresh_token", ""))
            if owner is None or owner[0] != app.client_id:
                return refuse("invalid_refresh_token")
            user_id = world.bot_of(owner[1])[0]
            return JSONResponse(mint(app, owner[1], user_id))
        if grant_type != "authorization_code":
            return refuse("invalid_grant_type")
        grant = installs.codes.pop(values.get("code", ""), None)  # one use, even when refused
        if grant is None or grant["client_id"] != app.client_id or grant["expires"] < clock.now():
            return refuse("invalid_code")
        if grant["redirect_uri"] and values.get("redirect_uri", "") != grant["redirect_uri"]:
            return refuse("bad_redirect_uri")
        return JSONResponse(mint(app, grant["team_id"], grant["user_id"], grant.get("scopes")))

    async def connections_open(request: Request) -> Response:
        world.requests["apps.connections.open"] += 1
        if request.method != "POST":
            return refuse("insecure_request")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if not token:
            return refuse("missing_args")
        if not token.startswith("xapp-"):
            return refuse("not_allowed_token_type" if token in world.bot_tokens else "invalid_auth")
        known = installs.app_tokens.get(token)
        if known is None:
            return refuse("invalid_auth")
        app_id, scopes = known
        if "connections:write" not in scopes:
            refusal = {"ok": False, "error": "missing_scope", "needed": "connections:write",
                       "provided": ",".join(sorted(scopes))}  # fmt: skip
            return JSONResponse(refusal)
        now = clock.now().timestamp()
        minute = int(now // 60)
        installs._opens[(app_id, minute)] += 1
        if installs._opens[(app_id, minute)] > CONNECTIONS_PER_MINUTE:
            world.rate_limited["apps.connections.open"] += 1
            wait = str(60 - int(now) % 60)
            return JSONResponse({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": wait})
        ticket = world.socket.issue_ticket(app_id)
        scheme = "wss" if request.url.scheme == "https" else "ws"
        base = str(request.base_url.replace(scheme=scheme)).rstrip("/")
        url = f"{base}{LINK_PATH}?ticket={ticket}&app_id={app_id}"
        installs.socket_urls.append(url)
        return JSONResponse({"ok": True, "url": url})

    return [
        *consent_routes(world, clock),
        Route("/api/oauth.v2.access", access, methods=["GET", "POST"]),
        Route("/api/apps.connections.open", connections_open, methods=["GET", "POST"]),
    ]


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body>{body}</body></html>",
        status,
    )


def _with_query(url: str, **values: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(values)}"


def consent_routes(world: SlackSandbox, clock: Clock) -> list[Route]:
    """Slack's "<app> is requesting permission to access the <workspace> workspace" page."""
    installs = world.installs

    def error_page(message: str) -> Response:
        # Slack shows its own page and never redirects to an address it cannot trust.
        body = f"<h1>Something went wrong</h1><p>{html.escape(message)}</p>"
        return _page("Slack — error", body, 400)

    def checked(params: dict[str, str]) -> tuple[SlackApp, str, frozenset[str]] | Response:
        """The app, the redirect URI to use and the bot scopes asked for, or an error page."""
        app = installs.apps.get(params.get("client_id", ""))
        if app is None:
            return error_page("Invalid client_id parameter")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri and app.redirect_uris:
            redirect_uri = app.redirect_uris[0]
        if redirect_uri not in app.redirect_uris:
            return error_page("redirect_uri did not match any configured URIs")
        scopes = frozenset(s.strip() for s in params.get("scope", "").split(",") if s.strip())
        if not scopes or not scopes <= app.scopes:
            return error_page("Invalid permissions requested")
        return app, redirect_uri, scopes

    def workspaces() -> list[str]:
        return sorted(set(world.team_names) | set(world.bots))

    def consent_page(params: dict[str, str], app: SlackApp, scopes: frozenset[str]) -> Response:
        team = params.get("team", "")
        keep = ("client_id", "scope", "user_scope", "redirect_uri", "state")
        hidden = "".join(
            f'<input type="hidden" name="{n}" value="{html.escape(params[n])}">'
            for n in keep
            if n in params
        )
        if team:
            where = html.escape(world.team_names.get(team, team))
            picker = f'<input type="hidden" name="team_id" value="{html.escape(team)}">'
        else:
            where = "your"
            options = "".join(
                f'<option value="{html.escape(t)}">{html.escape(world.team_names.get(t, t))}'
                "</option>"
                for t in workspaces()
            )
            picker = f'<label>Workspace <select name="team_id">{options}</select></label>'
        user = html.escape(params.get("user", ""))
        who = f'<label>You are <input name="user_id" value="{user}"></label>'
        listed = "".join(f"<li>{html.escape(s)}</li>" for s in sorted(scopes))
        body = (
            f"<h1>{html.escape(app.name)} is requesting permission to access the {where} Slack "
            f"workspace</h1><p>What will {html.escape(app.name)} be able to view and do?</p>"
            f'<ul class="scopes">{listed}</ul>'
            f'<form method="post" action="/oauth/v2/authorize">{hidden}{picker} {who} '
            '<button name="decision" value="allow">Allow</button> '
            '<button name="decision" value="deny">Cancel</button></form>'
        )
        return _page(f"Install {app.name}", body)

    async def authorize(request: Request) -> Response:
        world.requests[f"{request.method} /oauth/v2/authorize"] += 1
        params: dict[str, str] = {k: str(v) for k, v in request.query_params.items()}
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.form()).items()})
        outcome = checked(params)
        if isinstance(outcome, Response):
            return outcome
        app, redirect_uri, scopes = outcome
        if request.method == "GET":
            return consent_page(params, app, scopes)
        state = params.get("state", "")
        if params.get("decision") == "deny":
            denied = _with_query(redirect_uri, error="access_denied", state=state)
            return RedirectResponse(denied, 302)
        team_id = params.get("team_id") or params.get("team", "")
        user_id = params.get("user_id") or params.get("user", "")
        if not team_id or not user_id:
            return error_page("Pick a workspace and say who you are")
        code = installs.issue_code(
            app.client_id, team_id, user_id, at=clock.now(),
            redirect_uri=params.get("redirect_uri", ""), scopes=scopes,
        )  # fmt: skip
        return RedirectResponse(_with_query(redirect_uri, code=code, state=state), 302)

    return [Route("/oauth/v2/authorize", authorize, methods=["GET", "POST"])]
