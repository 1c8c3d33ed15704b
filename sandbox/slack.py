"""An emulator of the Slack Web API, for tests, benchmarks and the demo (see docs/sandbox.md).

It speaks the methods the app calls — GET with a query, POST with a form or JSON,
`Authorization: Bearer xoxb-…` (one bot token per workspace) — with Slack's envelope
`{"ok": true, …}` / `{"ok": false, "error"}` and HTTP 200, and as strictly as Slack:

- the directory: `auth.test`, `users.info`, `users.lookupByEmail`, `users.list`, `team.info`
  (here); messages: `chat.postMessage`, `chat.update`, `chat.postEphemeral`,
  `chat.getPermalink`, `conversations.open` (`sandbox.slack_messages`); views: `views.publish`,
  `views.open`, `views.update` (`sandbox.slack_views`); installs: `oauth.v2.access` and
  `apps.connections.open` (`sandbox.slack_install`), and Socket Mode's WebSocket behind the
  URL it answers (`sandbox.slack_socket`: hello, envelopes, acks, disconnects); Sign in with
  Slack
  (`sandbox.slack_openid`); every message and view is checked against Block Kit's limits
  (`sandbox.slack_blocks`);
- each method needs its scope; a token without it gets `missing_scope` with `needed` and
  `provided`, and every answer carries the token's scopes in `X-OAuth-Scopes`;
- each method has a budget per workspace and minute by its tier (`TIERS`), and
  `chat.postMessage` about one message a second per channel with short bursts; past it, 429
  with `Retry-After` on the emulator's clock;
- the faults of `sandbox.faults`: a server error answers the fault's `status` (500 unless told)
  with `internal_error` (or the fault's `code`), and `Retry-After` when it says how long;
- people of another organisation reach the workspace through Slack Connect (`share_channel`):
  they are found, with their own `team_id`; someone whose organisation hides them is
  `user_not_visible` to `users.info`; a stranger carries `is_stranger`.

State is in memory and inspectable: `world.messages` (per channel, with blocks and threads),
`world.ephemerals` (per person), `world.home_views`, `world.views`, `world.calls`, and Socket
Mode's connections and acks in `world.socket`. Tests send signed requests into the app with
`sandbox.slack_requests`, or envelopes over Socket Mode with `await world.socket.deliver(...)`
(the emulator served on a real socket, `sandbox.server`). A person sees it all in a browser
at `/web/` (`sandbox.slack_web`), and clicks there reach the app at `world.app_requests`.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from primitives.clock import Clock, SystemClock
from sandbox.faults import FaultBook, FaultKind, fault_control_route, fired_of
from sandbox.slack_install import SlackInstalls, install_routes
from sandbox.slack_messages import MESSAGE_METHODS, Channel
from sandbox.slack_openid import SlackOpenId, openid_routes
from sandbox.slack_socket import SlackSocket, socket_routes
from sandbox.slack_views import VIEW_METHODS
from sandbox.slack_web import AppRequests, slack_web_routes

# Requests a minute per workspace, by method (Slack's tiers: 4 = 100+, 3 = 50+, 2 = 20+).
# auth.test, chat.getPermalink and oauth.v2.access are "Special" (hundreds a minute): unlimited
# here; chat.postMessage is Special too, about one a second per channel (`post_burst`).
TIERS: dict[str, int] = {
    "users.info": 100,
    "users.lookupByEmail": 50,
    "users.list": 20,
    "team.info": 50,
    "chat.update": 50,
    "chat.postEphemeral": 100,
    "conversations.open": 50,
    "views.publish": 100,
    "views.open": 100,
    "views.update": 100,
}
# What a bot token is granted unless `add_workspace` says otherwise.
BOT_SCOPES = frozenset(
    {"users:read", "users:read.email", "team:read", "chat:write", "commands", "im:write"}
)
# The scope each method needs (auth.test, chat.getPermalink and views.* need none;
# conversations.open needs im:write for one person, mpim:write for several: it checks itself).
NEEDED_SCOPE = {
    "users.info": "users:read",
    "users.list": "users:read",
    "users.lookupByEmail": "users:read.email",
    "team.info": "team:read",
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
}
MAX_PAGE = 1000
BOT_USER, BOT_ID = "U0SCRUMYBOT", "B0SCRUMY"


@dataclass(frozen=True)
class Call:
    """One Web API call as a method's handler sees it."""

    method: str
    team_id: str
    token: str
    granted: frozenset[str]
    values: dict[str, Any]
    now: datetime


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
    installs: SlackInstalls = field(default_factory=SlackInstalls)  # OAuth v2, Socket Mode
    socket: SlackSocket = field(default_factory=SlackSocket)  # Socket Mode's WebSocket
    bots: dict[str, tuple[str, str]] = field(default_factory=dict)  # team -> (bot user, bot id)
    channels: dict[str, Channel] = field(default_factory=dict)  # channel id -> channel
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    ephemerals: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> Home tab
    views: dict[str, dict[str, Any]] = field(default_factory=dict)  # view id -> opened modal
    triggers: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # id -> user, when
    triggers_used: set[str] = field(default_factory=set)  # views.open takes a trigger once
    home_tab_enabled: bool = True  # views.publish answers not_enabled without it
    post_burst: int = 3  # chat.postMessage: messages a channel takes at once, then 1 a second
    calls: list[dict[str, Any]] = field(default_factory=list)  # every Web API call, in order
    # The app's Request URL and signing secret: the browser view (`sandbox.slack_web`) sends
    # clicks and events there; set by whoever runs the app against the emulator.
    app_requests: AppRequests | None = None
    # Link prefixes the browser view rewrites (`sandbox.tools_web.tool_links`: a task's ClickUp
    # or Notion address to the emulator's own page), so a click stays on 127.0.0.1.
    web_links: dict[str, str] = field(default_factory=dict)
    _calls: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    _posts: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    _serial: int = 0

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
        self.bots.setdefault(team_id, (BOT_USER, BOT_ID))
        if name is not None:
            self.team_names[team_id] = name

    def add_channel(
        self,
        team_id: str,
        channel_id: str,
        name: str,
        *,
        members: set[str] | frozenset[str] = frozenset(),
        private: bool = False,
        bot_member: bool = True,
    ) -> Channel:
        """A channel of the workspace; the bot is in it unless `bot_member=False`."""
        people = set(members) | (
            {self.bots.get(team_id, (BOT_USER, BOT_ID))[0]} if bot_member else set()
        )
        channel = Channel(channel_id, team_id, name, private=private, members=people)
        self.channels[channel_id] = channel
        return channel

    def store_message(
        self, channel_id: str, text: str, *, user: str, bot_id: str | None = None
    ) -> str:
        """A message someone else posted (a person, or another app with `bot_id`); its ts."""
        ts = self.next_ts(datetime.fromtimestamp(1_700_000_000 + self._serial, tz=UTC))
        message = {"type": "message", "user": user, "text": text, "ts": ts}
        if bot_id is not None:
            message["bot_id"] = bot_id
        self.messages[channel_id].append(message)
        return ts

    def issue_trigger(self, user_id: str, *, at: datetime) -> str:
        """A `trigger_id` as Slack puts in a command, shortcut or button payload, issued `at`
        (the emulator's clock): `views.open` takes it once, within three seconds."""
        self._serial += 1
        trigger_id = f"{int(at.timestamp())}.{self._serial:010d}.{self._serial * 7919:x}"
        self.triggers[trigger_id] = (user_id, at)
        return trigger_id

    def next_ts(self, now: datetime) -> str:
        """A message timestamp: the second it was posted and a serial, unique and increasing."""
        self._serial += 1
        return f"{int(now.timestamp())}.{self._serial:06d}"

    def thread_of(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel_id, []) if m["ts"] == ts), None)

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

    def bot_of(self, team_id: str) -> tuple[str, str]:
        """The bot's user id and bot id in a workspace."""
        return self.bots.get(team_id, (BOT_USER, BOT_ID))


async def arguments_of(request: Request) -> dict[str, Any]:
    """A method's arguments: the query, then a form or a JSON body (as slack_sdk sends
    `chat.postMessage` and `views.*`); in a form, `blocks` and `view` are JSON strings."""
    values: dict[str, Any] = {k: str(v) for k, v in request.query_params.items()}
    if request.method != "POST":
        return values
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return values
        if isinstance(body, dict):
            values.update(body)
        return values
    values.update({k: str(v) for k, v in (await request.form()).items()})
    return values


def token_of(request: Request, values: dict[str, Any]) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        token = str(values.get("token", ""))
    return token.strip()


def create_slack_emulator(world: SlackSandbox, *, clock: Clock | None = None) -> Starlette:
    time = clock or SystemClock()

    def rate_limited(
        name: str, team_id: str, call: dict[str, Any], fired: list[Any]
    ) -> Response | None:
        forced = next((f for f in fired if f.kind is FaultKind.RATE_LIMIT), None)
        now = time.now().timestamp()
        if forced is not None:
            wait = int(forced.seconds) or 60 - int(now) % 60
        elif name == "chat.postMessage":
            wait = post_wait(team_id, str(call.get("channel", "")), now)
        else:
            minute = int(now // 60)
            world._calls[(name, team_id, minute)] += 1
            budget = world.budget(name)
            over = budget is not None and world._calls[(name, team_id, minute)] > budget
            wait = 60 - int(now) % 60 if over else 0
        if not wait:
            return None
        world.rate_limited[name] += 1
        return JSONResponse({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)})

    def post_wait(team_id: str, channel: str, now: float) -> int:
        """chat.postMessage: a bucket of `post_burst` messages per channel, refilled one a
        second; the seconds until the next message may go, or 0 when it may go now."""
        if world.per_minute is not None:
            minute = int(now // 60)
            world._calls[("chat.postMessage", team_id, minute)] += 1
            over = world._calls[("chat.postMessage", team_id, minute)] > world.per_minute
            return 60 - int(now) % 60 if over else 0
        level, then = world._posts.get((team_id, channel), (float(world.post_burst), now))
        level = min(float(world.post_burst), level + (now - then))
        if level < 1:
            world._posts[(team_id, channel)] = (level, now)
            return max(1, math.ceil(1 - level))
        world._posts[(team_id, channel)] = (level - 1, now)
        return 0

    def method(name: str, answer: Callable[[Call], dict[str, Any]]) -> Route:
        async def endpoint(request: Request) -> Response:
            world.requests[name] += 1
            fired = world.faults.draw(request.method, request.url.path)
            kinds = {fault.kind for fault in fired}
            for fault in fired:
                if fault.kind is FaultKind.LATENCY:
                    await time.sleep(fault.seconds)  # the fake clock in tests: no real wait
            values = await arguments_of(request)
            token = token_of(request, values)
            team_id = world.bot_tokens.get(token)
            if team_id is None:
                error = "not_authed" if not token else "invalid_auth"
                return JSONResponse({"ok": False, "error": error})
            expires = world.installs.expiry.get(token)
            if expires is not None and expires <= time.now():
                return JSONResponse({"ok": False, "error": "token_expired"})
            limited = rate_limited(name, team_id, values, fired)
            if limited is not None:
                return limited
            failing = fired_of(fired, FaultKind.SERVER_ERROR)
            if failing is not None:
                failed = {"ok": False, "error": failing.code or "internal_error"}
                return JSONResponse(failed, failing.status, failing.retry_after())
            if FaultKind.BAD_GATEWAY_HTML in kinds:
                return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", 502)
            granted = world.scopes.get(token, frozenset())
            headers = {"X-OAuth-Scopes": ",".join(sorted(granted))}
            needed = NEEDED_SCOPE.get(name)
            if needed is not None and needed not in granted:
                refusal = {"ok": False, "error": "missing_scope", "needed": needed,
                           "provided": ",".join(sorted(granted))}  # fmt: skip
                body = refusal
            else:
                body = answer(Call(name, team_id, token, granted, values, time.now()))
            args = {k: v for k, v in values.items() if k != "token"}
            world.calls.append({"method": name, "team_id": team_id, "args": args,
                                "ok": body.get("ok"), "error": body.get("error")})  # fmt: skip
            return JSONResponse(body, headers=headers)

        return Route(f"/api/{name}", endpoint, methods=["GET", "POST"])

    def legacy(
        answer: Callable[[str, frozenset[str], dict[str, Any]], dict[str, Any]],
    ) -> Callable[[Call], dict[str, Any]]:
        return lambda call: answer(call.team_id, call.granted, call.values)

    def visible_to(team_id: str, user: dict[str, Any]) -> bool:
        """Of this workspace, or of an organisation it shares a channel with."""
        other = str(user["team_id"])
        return other == team_id or frozenset({team_id, other}) in world.shared

    def shown(user: dict[str, Any], granted: frozenset[str]) -> dict[str, Any]:
        if "users:read.email" in granted:
            return user
        profile = {k: v for k, v in user["profile"].items() if k != "email"}
        return {**user, "profile": profile}

    def auth_test(team_id: str, granted: frozenset[str], values: dict[str, Any]) -> dict[str, Any]:
        user_id, bot_id = world.bot_of(team_id)
        return {
            "ok": True, "url": f"https://{team_id.lower()}.slack.example/", "team": team_id,
            "user": "scrumy", "team_id": team_id, "user_id": user_id, "bot_id": bot_id,
            "is_enterprise_install": False,
        }  # fmt: skip

    def users_info(team_id: str, granted: frozenset[str], values: dict[str, Any]) -> dict[str, Any]:
        user = world.users.get(values.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        if user["id"] in world.hidden and user["team_id"] != team_id:
            return {"ok": False, "error": "user_not_visible"}
        if not visible_to(team_id, user) and not user.get("is_stranger"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": shown(user, granted)}

    def lookup_by_email(
        team_id: str, granted: frozenset[str], values: dict[str, Any]
    ) -> dict[str, Any]:
        wanted = values.get("email", "").strip().casefold()
        if not wanted:
            return {"ok": False, "error": "invalid_arguments"}
        for user in world.users.values():
            email = (user["profile"].get("email") or "").casefold()
            if email == wanted and visible_to(team_id, user) and user["id"] not in world.hidden:
                return {"ok": True, "user": user}
        return {"ok": False, "error": "users_not_found"}

    def users_list(team_id: str, granted: frozenset[str], values: dict[str, Any]) -> dict[str, Any]:
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

    def team_info(team_id: str, granted: frozenset[str], values: dict[str, Any]) -> dict[str, Any]:
        wanted = values.get("team") or team_id
        if wanted != team_id:
            return {"ok": False, "error": "team_not_found"}
        name = world.team_names.get(team_id, team_id)
        return {"ok": True, "team": {"id": team_id, "name": name, "domain": team_id.lower()}}

    app = Starlette(
        routes=[
            method("auth.test", legacy(auth_test)),
            method("users.info", legacy(users_info)),
            method("users.lookupByEmail", legacy(lookup_by_email)),
            method("users.list", legacy(users_list)),
            method("team.info", legacy(team_info)),
            *(method(n, partial(h, world)) for n, h in {**MESSAGE_METHODS, **VIEW_METHODS}.items()),
            *install_routes(world, time),
            *socket_routes(world.socket, time),
            *openid_routes(world.openid, world.users, world.team_names, world.requests, time),
            fault_control_route(world.faults),
            *slack_web_routes(world, time),
        ]
    )
    app.state.sandbox = world
    return app


def seed_demo_slack(world: SlackSandbox, *, team_id: str, bot_token: str) -> None:
    """The Acme workspace: the three people of the ClickUp and Notion demo worlds, a bot, and
    three channels."""
    world.add_workspace(team_id, bot_token, "Acme")
    world.add_user(team_id, "U0ANA", "Ana Lima", "ana@acme.example", tz="America/Los_Angeles")
    world.add_user(team_id, "U0BO", "Bo Chen", "bo@acme.example", tz="Europe/Berlin")
    world.add_user(team_id, "U0CY", "Cy Roy", "cy@acme.example", tz="Pacific/Auckland")
    world.add_user(team_id, "U0GONE", "Dee Past", "dee@acme.example", deleted=True)
    world.add_user(team_id, "B0SCRUMY", "Scrumy", None, is_bot=True)
    # #general has the bot and the three people; the bot was never invited to #random; #secret
    # is private and without the bot.
    world.add_channel(team_id, "C0GENERAL", "general", members={"U0ANA", "U0BO", "U0CY"})
    world.add_channel(team_id, "C0RANDOM", "random", members={"U0ANA"}, bot_member=False)
    world.add_channel(team_id, "C0SECRET", "secret", members={"U0BO"}, private=True,
                      bot_member=False)  # fmt: skip
