"""An emulator of the Slack Web API, for tests, benchmarks and the demo (see docs/sandbox.md).

So far it speaks the methods the app uses to find a task's owner: `auth.test`, `users.info`,
`users.lookupByEmail` and `users.list`, and `team.info` for a workspace's name — GET with a
query or POST with a form, `Authorization: Bearer xoxb-…` (one bot token per workspace),
Slack's envelope
`{"ok": true, …}` / `{"ok": false, "error"}` with HTTP 200, and as Slack does:

- each method needs its scope (`users:read`; `users:read.email` for `users.lookupByEmail`, and
  for the `email` field of a profile); a token without it gets `missing_scope` with `needed`
  and `provided`, and every answer carries the token's scopes in `X-OAuth-Scopes`;
- each method has a budget per workspace and minute by its tier (`users.info` Tier 4: 100,
  `users.lookupByEmail` Tier 3: 50, `users.list` Tier 2: 20); past it, 429 with `Retry-After`
  (the seconds left in the minute, on the emulator's clock);
- people of another organisation reach the workspace through Slack Connect (`share_channel`):
  they are found, with their own `team_id`; someone whose organisation hides them is
  `user_not_visible` to `users.info`; a stranger carries `is_stranger`.

Sign in with Slack (OpenID Connect) is in `sandbox.slack_openid`. State is in memory and
inspectable.
"""

from __future__ import annotations

import base64
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

# Requests a minute per workspace, by method (Slack's tiers: 4 = 100+, 3 = 50+, 2 = 20+).
TIERS: dict[str, int] = {"users.info": 100, "users.lookupByEmail": 50, "users.list": 20}
# What a bot token is granted unless `add_workspace` says otherwise.
BOT_SCOPES = frozenset({"users:read", "users:read.email", "team:read", "chat:write", "commands"})
# The scope each method needs (auth.test needs none).
NEEDED_SCOPE = {
    "users.info": "users:read",
    "users.list": "users:read",
    "users.lookupByEmail": "users:read.email",
    "team.info": "team:read",
}
MAX_PAGE = 1000


@dataclass
class SlackSandbox:
    """Workspaces, their bot tokens and scopes, their people and their Slack Connect links."""

    per_minute: int | None = None  # one budget for every method instead of the tiers
    tiers: dict[str, int] = field(default_factory=lambda: dict(TIERS))
    bot_tokens: dict[str, str] = field(default_factory=dict)  # token -> team id
    scopes: dict[str, frozenset[str]] = field(default_factory=dict)  # token -> granted
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> user object
    hidden: set[str] = field(default_factory=set)  # users.info answers user_not_visible
    shared: set[frozenset[str]] = field(default_factory=set)  # teams sharing a channel
    faults: FaultBook = field(default_factory=FaultBook)
    requests: Counter[str] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)  # 429s answered, by method
    team_names: dict[str, str] = field(default_factory=dict)  # team id -> workspace name
    openid: SlackOpenId = field(default_factory=SlackOpenId)  # Sign in with Slack
    _calls: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))

    def add_workspace(
        self,
        team_id: str,
        bot_token: str,
        name: str | None = None,
        *,
        scopes: frozenset[str] | set[str] | None = None,
    ) -> None:
        self.bot_tokens[bot_token] = team_id
        self.scopes[bot_token] = frozenset(BOT_SCOPES if scopes is None else scopes)
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
        stranger: bool = False,
        visible: bool = True,
        tz: str = "Europe/London",
    ) -> None:
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": team_id,
            "name": name.split()[0].lower(),
            "real_name": name,
            "deleted": deleted,
            "is_bot": is_bot,
            "tz": tz,  # Slack sends the person's IANA time zone (and tz_label, tz_offset)
            "profile": {"real_name": name, "display_name": name.split()[0], "email": email},
        }
        if stranger:
            user["is_stranger"] = True
        self.users[user_id] = user
        if not visible:
            self.hidden.add(user_id)

    def share_channel(self, team_id: str, other_team_id: str) -> None:
        """A Slack Connect channel between two organisations: each sees the other's people."""
        self.shared.add(frozenset({team_id, other_team_id}))

    def budget(self, method: str) -> int | None:
        return self.per_minute if self.per_minute is not None else self.tiers.get(method)


def create_slack_emulator(world: SlackSandbox, *, clock: Clock | None = None) -> Starlette:
    time = clock or SystemClock()

    async def params_of(request: Request) -> dict[str, str]:
        values = {k: str(v) for k, v in request.query_params.items()}
        if request.method == "POST":
            values.update({k: str(v) for k, v in (await request.form()).items()})
        return values

    def token_of(request: Request, values: dict[str, str]) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            token = values.get("token", "")
        return token.strip()

    def rate_limited(name: str, team_id: str, fired: list[Any]) -> Response | None:
        minute = int(time.now().timestamp() // 60)
        world._calls[(name, team_id, minute)] += 1
        budget = world.budget(name)
        forced = any(f.kind is FaultKind.RATE_LIMIT for f in fired)
        if not forced and (budget is None or world._calls[(name, team_id, minute)] <= budget):
            return None
        world.rate_limited[name] += 1
        retry = next((f.seconds for f in fired if f.kind is FaultKind.RATE_LIMIT), 0.0)
        wait = int(retry) or 60 - int(time.now().timestamp()) % 60
        return JSONResponse({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)})

    def method(name: str, answer: Any) -> Route:
        async def endpoint(request: Request) -> Response:
            world.requests[name] += 1
            fired = world.faults.draw(request.method, request.url.path)
            kinds = {fault.kind for fault in fired}
            for fault in fired:
                if fault.kind is FaultKind.LATENCY:
                    await time.sleep(fault.seconds)  # the fake clock in tests: no real wait
            values = await params_of(request)
            token = token_of(request, values)
            team_id = world.bot_tokens.get(token)
            if team_id is None:
                error = "not_authed" if not token else "invalid_auth"
                return JSONResponse({"ok": False, "error": error})
            limited = rate_limited(name, team_id, fired)
            if limited is not None:
                return limited
            if FaultKind.SERVER_ERROR in kinds:
                return JSONResponse({"ok": False, "error": "internal_error"}, 500)
            if FaultKind.BAD_GATEWAY_HTML in kinds:
                return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", 502)
            granted = world.scopes.get(token, frozenset())
            headers = {"X-OAuth-Scopes": ",".join(sorted(granted))}
            needed = NEEDED_SCOPE.get(name)
            if needed is not None and needed not in granted:
                refusal = {"ok": False, "error": "missing_scope", "needed": needed,
                           "provided": ",".join(sorted(granted))}  # fmt: skip
                return JSONResponse(refusal, headers=headers)
            return JSONResponse(answer(team_id, granted, values), headers=headers)

        return Route(f"/api/{name}", endpoint, methods=["GET", "POST"])

    def visible_to(team_id: str, user: dict[str, Any]) -> bool:
        """Of this workspace, or of an organisation it shares a channel with."""
        other = str(user["team_id"])
        return other == team_id or frozenset({team_id, other}) in world.shared

    def shown(user: dict[str, Any], granted: frozenset[str]) -> dict[str, Any]:
        if "users:read.email" in granted:
            return user
        profile = {k: v for k, v in user["profile"].items() if k != "email"}
        return {**user, "profile": profile}

    def auth_test(team_id: str, granted: frozenset[str], values: dict[str, str]) -> dict[str, Any]:
        return {
            "ok": True, "url": f"https://{team_id.lower()}.slack.example/", "team": team_id,
            "user": "scrumy", "team_id": team_id, "user_id": "U0SCRUMYBOT", "bot_id": "B0SCRUMY",
            "is_enterprise_install": False,
        }  # fmt: skip

    def users_info(team_id: str, granted: frozenset[str], values: dict[str, str]) -> dict[str, Any]:
        user = world.users.get(values.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        if user["id"] in world.hidden and user["team_id"] != team_id:
            return {"ok": False, "error": "user_not_visible"}
        if not visible_to(team_id, user) and not user.get("is_stranger"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": shown(user, granted)}

    def lookup_by_email(
        team_id: str, granted: frozenset[str], values: dict[str, str]
    ) -> dict[str, Any]:
        wanted = values.get("email", "").strip().casefold()
        if not wanted:
            return {"ok": False, "error": "invalid_arguments"}
        for user in world.users.values():
            email = (user["profile"].get("email") or "").casefold()
            if email == wanted and visible_to(team_id, user) and user["id"] not in world.hidden:
                return {"ok": True, "user": user}
        return {"ok": False, "error": "users_not_found"}

    def users_list(team_id: str, granted: frozenset[str], values: dict[str, str]) -> dict[str, Any]:
        # The workspace's people and the external members of its shared channels, in pages.
        people = [u for u in world.users.values() if visible_to(team_id, u)]
        try:
            start = int(base64.b64decode(values.get("cursor") or "MA==").decode())
            limit = int(values.get("limit") or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        size = min(MAX_PAGE, limit) if limit > 0 else len(people)
        page = people[start : start + size]
        end = start + size
        cursor = base64.b64encode(str(end).encode()).decode() if end < len(people) else ""
        return {
            "ok": True, "members": [shown(u, granted) for u in page],
            "response_metadata": {"next_cursor": cursor},
        }  # fmt: skip

    def team_info(team_id: str, granted: frozenset[str], values: dict[str, str]) -> dict[str, Any]:
        wanted = values.get("team") or team_id
        if wanted != team_id:
            return {"ok": False, "error": "team_not_found"}
        name = world.team_names.get(team_id, team_id)
        return {"ok": True, "team": {"id": team_id, "name": name, "domain": team_id.lower()}}

    app = Starlette(
        routes=[
            method("auth.test", auth_test),
            method("users.info", users_info),
            method("users.lookupByEmail", lookup_by_email),
            method("users.list", users_list),
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
    world.add_user(team_id, "U0ANA", "Ana Lima", "ana@acme.example", tz="America/Los_Angeles")
    world.add_user(team_id, "U0BO", "Bo Chen", "bo@acme.example", tz="Europe/Berlin")
    world.add_user(team_id, "U0CY", "Cy Roy", "cy@acme.example", tz="Pacific/Auckland")
    world.add_user(team_id, "U0GONE", "Dee Past", "dee@acme.example", deleted=True)
    world.add_user(team_id, "B0SCRUMY", "Scrumy", None, is_bot=True)
