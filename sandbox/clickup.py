"""An emulator of the ClickUp API v2 for tests and the demo (see docs/sandbox.md).

It speaks what our client uses — OAuth (consent page, one-time codes, token exchange), the
workspace hierarchy, task creation and listing, webhooks and their signed deliveries, and a
task's status changed or the task deleted (`sandbox.clickup_webhooks`) — with ClickUp's error shape
`{"err": ..., "ECODE": ...}`, per-token rate limits with the `X-RateLimit-*` headers, and the
fault injection of `sandbox.faults` (a server error answers the fault's `status`, 500 unless
told, with `Retry-After` when the fault says how long). State is in memory, seedable and
inspectable.
"""

from __future__ import annotations

import html
import itertools
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from primitives.clock import Clock, SystemClock
from sandbox.clickup_deliveries import WebhookBook
from sandbox.clickup_webhooks import ClickUpWebhookApi, statuses_of
from sandbox.faults import FaultBook, FaultKind, Network, fault_control_route, fired_of
from sandbox.tools_web import clickup_web_routes

PAGE_SIZE = 100
REFUSED_GRANT_ECODE = "OAUTH_019"
CODE_LIFETIME = timedelta(minutes=10)


@dataclass
class ClickUpApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class ClickUpSandbox:
    """The emulator's whole world. Seed it, point the client at it, inspect it."""

    rate_limit_per_minute: int = 100
    # The workspace's time zone (ClickUp: the person's profile setting, `timezone` in GET
    # /user). A date-only due (`due_date_time: false`) is kept as 04:00 there, on the calendar
    # day the instant sent falls on there — as ClickUp does.
    time_zone: str = "UTC"
    auto_approve: bool = False
    consent_user_id: int | None = None  # who "is logged in" on the consent page
    apps: dict[str, ClickUpApp] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {name, members}
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {name, team_id}
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {name, space_id}
    lists: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # id -> {name, space_id, folder_id}
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> {user_id, team_ids}
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: FaultBook = field(default_factory=FaultBook)
    webhook_book: WebhookBook = field(default_factory=WebhookBook)
    network: Network = field(default_factory=Network)
    requests: Counter[str] = field(default_factory=Counter)
    # 429s answered because a token's budget was spent: (token, start of its window) -> count.
    throttled: Counter[tuple[str, float]] = field(default_factory=Counter)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9001))
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    # --- seeding ----------------------------------------------------------------------------

    def add_app(self, client_id: str, client_secret: str, *redirect_uris: str) -> ClickUpApp:
        app = ClickUpApp(client_id, client_secret, tuple(redirect_uris))
        self.apps[client_id] = app
        return app

    def add_user(self, user_id: int, username: str, email: str) -> dict[str, Any]:
        user = {"id": user_id, "username": username, "email": email, "color": "#7b68ee"}
        self.users[user_id] = user
        return user

    def add_team(self, team_id: str, name: str, member_ids: list[int]) -> None:
        self.teams[team_id] = {"name": name, "members": list(member_ids)}

    def add_space(self, space_id: str, team_id: str, name: str) -> None:
        self.spaces[space_id] = {"name": name, "team_id": team_id}

    def add_folder(self, folder_id: str, space_id: str, name: str) -> None:
        self.folders[folder_id] = {"name": name, "space_id": space_id}

    def add_list(
        self,
        list_id: str,
        name: str,
        *,
        space_id: str,
        folder_id: str | None = None,
        statuses: list[dict[str, Any]] | None = None,
    ) -> None:
        """A list; `statuses` (`{status, color, type, orderindex}`) replace the workspace's
        defaults (`sandbox.clickup_webhooks.DEFAULT_STATUSES`)."""
        self.lists[list_id] = {"name": name, "space_id": space_id, "folder_id": folder_id}
        if statuses is not None:
            self.lists[list_id]["statuses"] = statuses

    def issue_token(self, user_id: int, team_ids: list[str]) -> str:
        token = f"{user_id}_{secrets.token_hex(20)}"
        self.tokens[token] = {"user_id": user_id, "team_ids": list(team_ids), "revoked": False,
                              "refused_with": REFUSED_GRANT_ECODE}  # fmt: skip
        return token

    def revoke_token(self, token: str, code: str = REFUSED_GRANT_ECODE) -> None:
        """Refuse `token` from now on with `code`: ClickUp's documented OAUTH_019 by default,
        or one it answers without documenting (e.g. OAUTH_018)."""
        self.tokens[token]["revoked"] = True
        self.tokens[token]["refused_with"] = code

    def store_task(
        self,
        list_id: str,
        name: str,
        *,
        markdown: str,
        creator_id: int,
        created_ms: int,
        priority: int | None = None,
        due: int | None = None,
        due_has_time: bool = False,
        assignees: list[int] | None = None,
    ) -> dict[str, Any]:
        """Store a task as ClickUp returns it (the create endpoint, and seeding in tests)."""
        task_id = format(next(self._ids), "x")
        location = self.lists[list_id]
        task = {
            "id": task_id,
            "custom_id": None,
            "name": name,
            "text_content": markdown,
            "description": markdown,
            "markdown_description": markdown,
            "status": dict(statuses_of(self, list_id)[0]),
            "date_created": str(created_ms),
            "date_updated": str(created_ms),
            "creator": {"id": creator_id},
            "assignees": [self.users[a] for a in assignees or ()],
            "priority": None
            if priority is None
            else {
                "id": str(priority),
                "priority": ["urgent", "high", "normal", "low"][priority - 1],
            },
            "due_date": None if due is None else str(due),
            "due_date_time": due_has_time,
            "list": {"id": list_id},
            "folder": {"id": location["folder_id"]},
            "space": {"id": location["space_id"]},
            "url": f"https://app.clickup.com/t/{task_id}",
        }
        self.tasks[task_id] = task
        return task

    # --- inspection -------------------------------------------------------------------------

    def tasks_with_marker(self, marker: str) -> list[dict[str, Any]]:
        return [t for t in self.tasks.values() if marker in (t.get("markdown_description") or "")]

    def count(self, method: str, path_prefix: str) -> int:
        return sum(
            n for key, n in self.requests.items() if key.startswith(f"{method} {path_prefix}")
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "tasks": list(self.tasks.values()),
            "requests": dict(self.requests),
            "faults": self.faults.describe(),
            "webhooks": [self.webhook_book.json_of(w) for w in self.webhook_book.webhooks.values()],
            "webhook_deliveries": [
                {k: v for k, v in entry.items() if k != "body"} for entry in self.webhook_book.log
            ],
        }

    def team_of_list(self, list_id: str) -> str | None:
        found = self.lists.get(list_id)
        return None if found is None else self.spaces[found["space_id"]]["team_id"]


def snap_date_only(due_ms: int, time_zone: str) -> int:
    """What ClickUp keeps for a date-only due sent as `due_ms`: 04:00 in the workspace's time
    zone, on the day `due_ms` falls on there (so midnight UTC is the day before west of UTC)."""
    zone = ZoneInfo(time_zone)
    day = datetime.fromtimestamp(due_ms / 1000, tz=zone).date()
    return int(datetime.combine(day, time(4), tzinfo=zone).timestamp() * 1000)


def _error(status: int, err: str, code: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"err": err, "ECODE": code}, status_code=status, headers=headers)


def create_clickup_emulator(
    sandbox: ClickUpSandbox | None = None, *, clock: Clock | None = None
) -> Starlette:
    """A Starlette app emulating ClickUp; `app.state.sandbox` is its world."""
    world = sandbox or ClickUpSandbox()
    time = clock or SystemClock()
    hooks = ClickUpWebhookApi(world, time)

    def authorized(request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if not token:
            return None, _error(400, "Authorization header required", "OAUTH_017")
        grant = world.tokens.get(token)
        if grant is None or grant["revoked"]:
            code = REFUSED_GRANT_ECODE if grant is None else grant["refused_with"]
            return None, _error(401, "Oauth token not found", code)
        return {**grant, "token": token}, None

    def rate_headers(token: str) -> tuple[dict[str, str], bool]:
        # A window per token opens with its first request and lasts a minute; the reset is
        # announced in whole seconds (rounded down), as ClickUp's unix-seconds header is.
        now = time.now().timestamp()
        start, used = world._windows.get(token, (now, 0))
        if now - start >= 60:
            start, used = now, 0
        used += 1
        world._windows[token] = (start, used)
        if used > world.rate_limit_per_minute:
            world.throttled[(token, start)] += 1
        remaining = max(0, world.rate_limit_per_minute - used)
        headers = {
            "X-RateLimit-Limit": str(world.rate_limit_per_minute),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(start + 60)),
        }
        return headers, used > world.rate_limit_per_minute

    async def api(request: Request, handler: Any) -> Response:
        """One API call over the world's network: there, answered, and back."""
        return await world.network.carry(time, lambda: answer(request, handler))

    async def answer(request: Request, handler: Any) -> Response:
        """Auth, rate limit and faults around one API handler."""
        key = f"{request.method} {request.url.path}"
        world.requests[key] += 1
        fired = world.faults.draw(request.method, request.url.path)
        for fault in fired:
            if fault.kind is FaultKind.LATENCY:
                await time.sleep(fault.seconds)  # the fake clock in tests: no real wait
        grant, failure = authorized(request)
        if failure is not None:
            return failure
        assert grant is not None
        headers, limited = rate_headers(grant["token"])
        kinds = {fault.kind for fault in fired}
        revoked = next((f for f in fired if f.kind is FaultKind.REVOKED), None)
        if revoked is not None:
            world.revoke_token(grant["token"], revoked.code or REFUSED_GRANT_ECODE)
            return _error(401, "Oauth token not found", revoked.code or REFUSED_GRANT_ECODE)
        if limited or FaultKind.RATE_LIMIT in kinds:
            throttled = {**headers, "X-RateLimit-Remaining": "0"}
            injected = next((f for f in fired if f.kind is FaultKind.RATE_LIMIT), None)
            if injected is not None and injected.seconds:
                # An injected 429 may say how long: its window resets `seconds` from now.
                reset = time.now().timestamp() + injected.seconds
                throttled["X-RateLimit-Reset"] = str(int(reset))
            return _error(429, "Rate limit reached", "APP_002", throttled)
        failing = fired_of(fired, FaultKind.SERVER_ERROR)
        if failing is not None:
            code = failing.code or f"SERVER_{failing.status}"
            return _error(failing.status, "Internal server error", code, failing.retry_after())
        if FaultKind.BAD_GATEWAY_HTML in kinds:
            return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", 502)
        response: Response = await handler(request, grant)
        if FaultKind.LOST_RESPONSE in kinds:
            return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", 502)
        response.headers.update(headers)
        return response

    def route(path: str, handler: Any, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            return await api(request, handler)

        return Route(path, endpoint, methods=methods)

    # --- OAuth ------------------------------------------------------------------------------

    def check_client(client_id: str, redirect_uri: str) -> Response | None:
        app = world.apps.get(client_id)
        if app is None:
            return _error(400, "Client not found", "OAUTH_010")
        if redirect_uri not in app.redirect_uris:
            return _error(400, "Redirect URI not registered for this app", "OAUTH_007")
        return None

    def issue_code(client_id: str, redirect_uri: str, team_ids: list[str]) -> str:
        code = secrets.token_urlsafe(16)
        user_id = world.consent_user_id or next(iter(world.users))
        world.codes[code] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "user_id": user_id,
            "team_ids": team_ids,
            "expires": time.now() + CODE_LIFETIME,
        }
        return code

    def user_teams() -> list[str]:
        user_id = world.consent_user_id or next(iter(world.users), None)
        return [tid for tid, team in world.teams.items() if user_id in team["members"]]

    async def consent(request: Request) -> Response:
        world.requests[f"{request.method} /api"] += 1
        params = request.query_params if request.method == "GET" else await request.form()
        client_id = str(params.get("client_id", ""))
        redirect_uri = str(params.get("redirect_uri", ""))
        state = str(params.get("state", ""))
        failure = check_client(client_id, redirect_uri)
        if failure is not None:
            return failure
        if request.method == "GET" and not world.auto_approve:
            workspaces = "".join(
                f"<li>{html.escape(world.teams[t]['name'])}</li>" for t in user_teams()
            )
            hidden = "".join(
                f'<input type="hidden" name="{n}" value="{html.escape(v)}">'
                for n, v in (
                    ("client_id", client_id),
                    ("redirect_uri", redirect_uri),
                    ("state", state),
                )
            )
            return HTMLResponse(
                "<!doctype html><html><head><title>ClickUp — Connect</title></head><body>"
                "<h1>Connect Workspaces</h1>"
                f"<p>{html.escape(client_id)} wants to access:</p><ul>{workspaces}</ul>"
                f'<form method="post" action="/api">{hidden}'
                '<button name="decision" value="approve">Connect Workspace</button> '
                '<button name="decision" value="deny">Cancel</button></form></body></html>'
            )
        if request.method == "POST" and params.get("decision") != "approve":
            query = urlencode({"error": "access_denied", "state": state})
            return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)
        code = issue_code(client_id, redirect_uri, user_teams())
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", 302)

    async def token(request: Request) -> Response:
        world.requests["POST /api/v2/oauth/token"] += 1
        values: dict[str, Any] = dict(request.query_params)
        body = await request.body()
        if body:
            try:
                values.update(json.loads(body))
            except ValueError:
                values.update(dict(await request.form()))
        app = world.apps.get(str(values.get("client_id", "")))
        if app is None:
            return _error(400, "Client not found", "OAUTH_010")
        if values.get("client_secret") != app.client_secret:
            return _error(400, "Client secret invalid", "OAUTH_011")
        grant = world.codes.pop(str(values.get("code", "")), None)
        if grant is None or grant["client_id"] != app.client_id or grant["expires"] < time.now():
            return _error(400, "Code not found or already used", "OAUTH_015")
        return JSONResponse(
            {"access_token": world.issue_token(grant["user_id"], grant["team_ids"])}
        )

    # --- API --------------------------------------------------------------------------------

    def team_json(team_id: str) -> dict[str, Any]:
        team = world.teams[team_id]
        return {
            "id": team_id,
            "name": team["name"],
            "color": "#7b68ee",
            "avatar": None,
            "members": [{"user": world.users[uid]} for uid in team["members"]],
        }

    async def get_user(request: Request, grant: dict[str, Any]) -> Response:
        return JSONResponse(
            {"user": {**world.users[grant["user_id"]], "timezone": world.time_zone}}
        )

    async def get_teams(request: Request, grant: dict[str, Any]) -> Response:
        return JSONResponse(
            {"teams": [team_json(t) for t in grant["team_ids"] if t in world.teams]}
        )

    def not_authorized() -> Response:
        return _error(401, "Team(s) not authorized", "OAUTH_023")

    async def get_spaces(request: Request, grant: dict[str, Any]) -> Response:
        team_id = request.path_params["team_id"]
        if team_id not in grant["team_ids"]:
            return not_authorized()
        spaces = [
            {"id": sid, "name": s["name"], "private": False, "archived": False}
            for sid, s in world.spaces.items()
            if s["team_id"] == team_id
        ]
        return JSONResponse({"spaces": spaces})

    def space_allowed(space_id: str, grant: dict[str, Any]) -> bool:
        space = world.spaces.get(space_id)
        return space is not None and space["team_id"] in grant["team_ids"]

    def list_json(list_id: str) -> dict[str, Any]:
        found = world.lists[list_id]
        return {"id": list_id, "name": found["name"], "archived": False}

    async def get_folders(request: Request, grant: dict[str, Any]) -> Response:
        space_id = request.path_params["space_id"]
        if not space_allowed(space_id, grant):
            return not_authorized()
        folders = [
            {
                "id": fid,
                "name": f["name"],
                "lists": [
                    list_json(lid) for lid, lst in world.lists.items() if lst["folder_id"] == fid
                ],
            }
            for fid, f in world.folders.items()
            if f["space_id"] == space_id
        ]
        return JSONResponse({"folders": folders})

    async def get_folderless(request: Request, grant: dict[str, Any]) -> Response:
        space_id = request.path_params["space_id"]
        if not space_allowed(space_id, grant):
            return not_authorized()
        lists = [
            list_json(lid)
            for lid, lst in world.lists.items()
            if lst["space_id"] == space_id and lst["folder_id"] is None
        ]
        return JSONResponse({"lists": lists})

    async def list_tasks(request: Request, grant: dict[str, Any]) -> Response:
        list_id = request.path_params["list_id"]
        team_id = world.team_of_list(list_id)
        if team_id is None or team_id not in grant["team_ids"]:
            return not_authorized()
        if request.method == "POST":
            return await create_task(request, grant, list_id, team_id)
        params = request.query_params
        try:
            page = int(params.get("page", "0"))
            # Both bounds are strict, in milliseconds, as ClickUp documents them.
            after = int(params["date_created_gt"]) if "date_created_gt" in params else None
            before = int(params["date_created_lt"]) if "date_created_lt" in params else None
        except ValueError:
            return _error(400, "Invalid query parameter", "INPUT_002")
        if page < 0:
            return _error(400, "Invalid query parameter", "INPUT_002")
        matching = [
            t
            for t in world.tasks.values()
            if t["list"]["id"] == list_id
            and (after is None or int(t["date_created"]) > after)
            and (before is None or int(t["date_created"]) < before)
        ]
        # ClickUp's default order is by creation (its direction undocumented: oldest first
        # here). Seeding may store an earlier task later, so sort.
        matching.sort(key=lambda t: int(t["date_created"]))
        chunk = matching[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        include_markdown = request.query_params.get("include_markdown_description") == "true"
        tasks = [
            t if include_markdown else {k: v for k, v in t.items() if k != "markdown_description"}
            for t in chunk
        ]
        return JSONResponse({"tasks": tasks, "last_page": (page + 1) * PAGE_SIZE >= len(matching)})

    async def create_task(
        request: Request, grant: dict[str, Any], list_id: str, team_id: str
    ) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Body is not valid JSON", "INPUT_001")
        if not isinstance(body, dict):
            return _error(400, "Body must be an object", "INPUT_001")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            return _error(400, "Task name invalid", "INPUT_005")
        priority = body.get("priority")
        if priority is not None and priority not in (1, 2, 3, 4):
            return _error(400, "Priority invalid", "INPUT_006")
        due = body.get("due_date")
        if due is not None and (not isinstance(due, int) or isinstance(due, bool)):
            return _error(400, "Due date invalid", "INPUT_007")
        assignees = body.get("assignees") or []
        members = world.teams[team_id]["members"]
        if not isinstance(assignees, list) or any(a not in members for a in assignees):
            return _error(400, "Assignees must be members of the workspace", "ASSIGN_023")
        if due is not None and not body.get("due_date_time"):
            due = snap_date_only(due, world.time_zone)
        task = world.store_task(
            list_id,
            name,
            markdown=body.get("markdown_content") or body.get("markdown_description") or "",
            creator_id=grant["user_id"],
            created_ms=int(time.now().timestamp() * 1000),
            priority=priority,
            due=due,
            due_has_time=bool(body.get("due_date_time")),
            assignees=assignees,
        )
        return JSONResponse(task)

    async def control_state(request: Request) -> Response:
        return JSONResponse(world.snapshot())

    app = Starlette(
        routes=[
            Route("/api", consent, methods=["GET", "POST"]),
            Route("/api/v2/oauth/token", token, methods=["POST"]),
            route("/api/v2/user", get_user, ["GET"]),
            route("/api/v2/team", get_teams, ["GET"]),
            route("/api/v2/team/{team_id}/space", get_spaces, ["GET"]),
            route("/api/v2/space/{space_id}/folder", get_folders, ["GET"]),
            route("/api/v2/space/{space_id}/list", get_folderless, ["GET"]),
            route("/api/v2/list/{list_id}/task", list_tasks, ["GET", "POST"]),
            route("/api/v2/task/{task_id}", hooks.one_task, ["GET", "PUT", "DELETE"]),
            route("/api/v2/team/{team_id}/webhook", hooks.team_webhooks, ["GET", "POST"]),
            route("/api/v2/webhook/{webhook_id}", hooks.one_webhook, ["PUT", "DELETE"]),
            Route("/_sandbox/state", control_state, methods=["GET"]),
            fault_control_route(world.faults),
            # The tasks in a browser, at /web/, each with a button to mark it done.
            *clickup_web_routes(world, mark_done=hooks.finish),
        ]
    )
    app.state.sandbox = world
    app.state.webhooks = hooks
    return app


def seed_demo_clickup(
    world: ClickUpSandbox, *, client_id: str, client_secret: str, redirect_uri: str
) -> None:
    """A small believable workspace: two spaces, a folder, three lists, three people."""
    world.add_app(client_id, client_secret, redirect_uri)
    world.add_user(101, "Ana Lima", "ana@acme.example")
    world.add_user(102, "Bo Chen", "bo@acme.example")
    world.add_user(103, "Cy Roy", "cy@acme.example")
    world.add_team("9001", "Acme", [101, 102, 103])
    world.add_space("s1", "9001", "Engineering")
    world.add_space("s2", "9001", "Marketing")
    world.add_folder("f1", "s2", "Q3")
    world.add_list("l1", "Backlog", space_id="s1")
    world.add_list("l2", "Website Redesign", space_id="s2", folder_id="f1")
    world.add_list("l3", "Launch", space_id="s2")
