"""An emulator of the Slack Web API, for tests, benchmarks and the demo (see docs/sandbox.md).

So far it speaks the directory methods the app uses to find a task's owner: `users.info` and
`users.lookupByEmail`, and `team.info` for a workspace's name — GET with a query or POST with a
form, `Authorization: Bearer xoxb-…`
(one bot token per workspace), Slack's envelope `{"ok": true, …}` / `{"ok": false, "error"}`
with HTTP 200, and 429 with `Retry-After` when the method's per-minute budget (Tier 4: 100 a
minute per workspace) is spent or a fault says so. Sign in with Slack (OpenID Connect) is in
`sandbox.slack_openid`. State is in memory and inspectable.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from primitives.clock import Clock, SystemClock
from sandbox.faults import FaultBook, FaultKind, fault_control_route
from sandbox.slack_openid import SlackOpenId, openid_routes

TIER_4_PER_MINUTE = 100


@dataclass
class SlackSandbox:
    """Workspaces, their bot tokens and their people."""

    per_minute: int = TIER_4_PER_MINUTE
    bot_tokens: dict[str, str] = field(default_factory=dict)  # token -> team id
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> user object
    faults: FaultBook = field(default_factory=FaultBook)
    requests: Counter[str] = field(default_factory=Counter)
    team_names: dict[str, str] = field(default_factory=dict)  # team id -> workspace name
    openid: SlackOpenId = field(default_factory=SlackOpenId)  # Sign in with Slack
    _calls: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))

    def add_workspace(self, team_id: str, bot_token: str, name: str | None = None) -> None:
        self.bot_tokens[bot_token] = team_id
        if name is not None:
            self.team_names[team_id] = name

    def add_user(
        self,
        team_id: str,
        user_id: str,
        name: str,
        email: str | None,
        *,
        deleted: bool = False,
        is_bot: bool = False,
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": team_id,
            "name": name.split()[0].lower(),
            "real_name": name,
            "deleted": deleted,
            "is_bot": is_bot,
            "profile": {"real_name": name, "display_name": name.split()[0], "email": email},
        }


def create_slack_emulator(world: SlackSandbox, *, clock: Clock | None = None) -> Starlette:
    time = clock or SystemClock()

    async def params_of(request: Request) -> dict[str, str]:
        values = {k: str(v) for k, v in request.query_params.items()}
        if request.method == "POST":
            values.update({k: str(v) for k, v in (await request.form()).items()})
        return values

    def team_of(request: Request, values: dict[str, str]) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            token = values.get("token", "")
        return world.bot_tokens.get(token.strip())

    def method(name: str, answer: Any) -> Route:
        async def endpoint(request: Request) -> Response:
            world.requests[name] += 1
            fired = world.faults.draw(request.method, request.url.path)
            kinds = {fault.kind for fault in fired}
            for fault in fired:
                if fault.kind is FaultKind.LATENCY:
                    await time.sleep(fault.seconds)  # the fake clock in tests: no real wait
            values = await params_of(request)
            team_id = team_of(request, values)
            if team_id is None:
                error = "not_authed" if not request.headers.get("authorization") else "invalid_auth"
                return JSONResponse({"ok": False, "error": error})
            minute = int(time.now().timestamp() // 60)
            world._calls[(name, team_id, minute)] += 1
            if (
                FaultKind.RATE_LIMIT in kinds
                or world._calls[(name, team_id, minute)] > world.per_minute
            ):
                retry = next((f.seconds for f in fired if f.kind is FaultKind.RATE_LIMIT), 0.0)
                wait = int(retry) or 60 - int(time.now().timestamp()) % 60
                return JSONResponse(
                    {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)}
                )
            if FaultKind.SERVER_ERROR in kinds:
                return JSONResponse({"ok": False, "error": "internal_error"}, 500)
            if FaultKind.BAD_GATEWAY_HTML in kinds:
                return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", 502)
            return JSONResponse(answer(team_id, values))

        return Route(f"/api/{name}", endpoint, methods=["GET", "POST"])

    def users_info(team_id: str, values: dict[str, str]) -> dict[str, Any]:
        user = world.users.get(values.get("user", ""))
        if user is None or user["team_id"] != team_id:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def lookup_by_email(team_id: str, values: dict[str, str]) -> dict[str, Any]:
        wanted = values.get("email", "").strip().casefold()
        if not wanted:
            return {"ok": False, "error": "invalid_arguments"}
        for user in world.users.values():
            email = (user["profile"].get("email") or "").casefold()
            if user["team_id"] == team_id and email == wanted:
                return {"ok": True, "user": user}
        return {"ok": False, "error": "users_not_found"}

    def team_info(team_id: str, values: dict[str, str]) -> dict[str, Any]:
        wanted = values.get("team") or team_id
        if wanted != team_id:
            return {"ok": False, "error": "team_not_found"}
        name = world.team_names.get(team_id, team_id)
        return {"ok": True, "team": {"id": team_id, "name": name, "domain": team_id.lower()}}

    app = Starlette(
        routes=[
            method("users.info", users_info),
            method("users.lookupByEmail", lookup_by_email),
            method("team.info", team_info),
            *openid_routes(world.openid, world.users, world.team_names, world.requests, time),
            fault_control_route(world.faults),
        ]
    )
    app.state.sandbox = world
    return app


def seed_demo_slack(world: SlackSandbox, *, team_id: str, bot_token: str) -> None:
    """The Acme workspace: the three people of the ClickUp and Notion demo worlds, and a bot."""
    world.add_workspace(team_id, bot_token, "Acme")
    world.add_user(team_id, "U0ANA", "Ana Lima", "ana@acme.example")
    world.add_user(team_id, "U0BO", "Bo Chen", "bo@acme.example")
    world.add_user(team_id, "U0CY", "Cy Roy", "cy@acme.example")
    world.add_user(team_id, "U0GONE", "Dee Past", "dee@acme.example", deleted=True)
    world.add_user(team_id, "B0SCRUMY", "Scrumy", None, is_bot=True)
