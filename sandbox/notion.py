"""An emulator of the Notion API (version 2025-09-03) for tests and the demo (docs/sandbox.md).

OAuth with Basic-auth token exchange and rotating refresh tokens (the old one dies on use),
search over data sources, schemas, users, page creation with Notion's validation (unknown
properties, wrong types, 2,000-character text, 100 items, 100 blocks), data source queries
with compound and timestamp filters on `created_time` (rounded down to the minute, as Notion
keeps it), block children, the error shape `{"object": "error", "status", "code", "message"}`,
an average of 3 requests a second per token with `Retry-After`, and the faults of
`sandbox.faults` (a server error with Notion's code for its status: `503 service_unavailable`
for an outage, with `Retry-After` when the fault says how long).

The consent page grants the integration as the Notion user "logged in" in the browser:
`consent_user_id`, or the workspace's first user when it is None.
"""

from __future__ import annotations

import base64
import html
import secrets
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from primitives.clock import Clock, SystemClock
from sandbox.faults import FaultBook, FaultKind, Network, fault_control_route, fired_of
from sandbox.notion_pages import (
    ARRAY_LIMIT,
    Invalid,
    apply_edit,
    check_blocks,
    check_property,
    option_id,
    property_id,
    status_groups,
    text_of,
    to_minute,
)
from sandbox.notion_webhooks import NotionWebhookBook, webhook_control_routes
from sandbox.tools_web import notion_web_routes

CODE_LIFETIME = timedelta(minutes=10)
# developers.notion.com/reference/status-codes: the code and message of each server error.
SERVER_ERRORS = {
    500: ("internal_server_error", "Unexpected error occurred."),
    502: ("bad_gateway", "Notion encountered an issue while attempting to complete this request."),
    503: ("service_unavailable", "Notion is unavailable, please try again later."),
    504: ("gateway_timeout", "Notion timed out while attempting to complete this request."),
    529: ("service_overload", "Notion is overloaded, please try again later."),
}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"object": "error", "status": status, "code": code, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class NotionSandbox:
    """The emulator's world: seed it, point the client at it, inspect it."""

    workspace_id: str = "ws-acme"
    workspace_name: str = "Acme"
    # The integration's "user information" capability: "with_email" (Read user information
    # including email addresses), "without_email", or "none" (GET /v1/users answers 403).
    user_information: str = "with_email"
    requests_per_second: float = 3.0
    burst: float = 10.0
    auto_approve: bool = False
    consent_user_id: str | None = None  # who "is logged in" on the consent page (None: the first)
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # access -> grant
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh -> access
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: FaultBook = field(default_factory=FaultBook)
    network: Network = field(default_factory=Network)
    requests: Counter[str] = field(default_factory=Counter)
    throttled: list[float] = field(default_factory=list)  # when (unix) each over-budget 429 was
    webhooks: NotionWebhookBook = field(default_factory=NotionWebhookBook)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def add_integration(self, client_id: str, client_secret: str, *redirect_uris: str) -> None:
        self.integrations[client_id] = {"secret": client_secret, "redirects": redirect_uris}

    def add_user(self, user_id: str, name: str, email: str) -> None:
        self.users[user_id] = {"id": user_id, "name": name, "email": email}

    def add_data_source(
        self, source_id: str, title: str, properties: dict[str, dict[str, Any]]
    ) -> None:
        """`properties`: name -> {"type": ..., "options": [...]} (options for select/status;
        a status may say its `groups`, {"To-do": [...], "In progress": [...], "Complete":
        [...]}, else its first option is To-do, its last Complete, the others In progress)."""
        self.data_sources[source_id] = {
            "title": title,
            "database_id": f"db-{source_id}",
            "properties": properties,
        }

    def issue_tokens(self, user_id: str) -> tuple[str, str]:
        access, refresh = f"ntn_{secrets.token_hex(20)}", f"nrt_{secrets.token_hex(20)}"
        self.tokens[access] = {"user_id": user_id, "refresh": refresh, "revoked": False}
        self.refresh_tokens[refresh] = access
        return access, refresh

    def store_page(
        self,
        source_id: str,
        properties: dict[str, Any],
        children: list[dict[str, Any]],
        *,
        created: datetime,
    ) -> dict[str, Any]:
        """Store a page as the create endpoint does (for seeding many pages in tests): its
        `created_time` is `created` rounded down to the minute, as Notion keeps it."""
        page_id = str(uuid.uuid4())
        page = {"id": page_id, "parent": source_id, "properties": properties,
                "children": list(children), "created": to_minute(created),
                "edited": to_minute(created), "in_trash": False,
                "url": f"https://www.notion.so/{page_id.replace('-', '')}"}  # fmt: skip
        self.pages[page_id] = page
        return page

    def edit_page(
        self,
        page_id: str,
        *,
        now: datetime,
        properties: dict[str, Any] | None = None,
        in_trash: bool | None = None,
        author: str | None = None,
    ) -> dict[str, Any]:
        """A person (the user `author`, the first when None) edits a page in Notion: sets
        `properties` (values as the API takes them, e.g. {"Status": {"status": {"name":
        "Done"}}}, {"Done": {"checkbox": True}}) and/or moves it to or from the trash. The
        subscription is owed the events Notion would send. Raises ValueError for an edit
        Notion refuses."""
        page = self.pages.get(page_id)
        if page is None:
            raise ValueError(f"no page {page_id}")
        who = {"id": author or next(iter(self.users)), "type": "person"}
        apply_edit(self, page, properties or {}, in_trash, now=now, author=who)
        return page

    def mark_done(self, page_id: str, *, now: datetime) -> bool:
        """A person marks the page done in Notion: its status (not the priority) set to its
        Complete group's first option, else its "Done" checkbox ticked; whether it changed."""
        page = self.pages[page_id]
        schema = self.data_sources[page["parent"]]["properties"]
        statuses = [n for n, spec in schema.items()
                    if spec["type"] == "status" and "priority" not in n.casefold()]  # fmt: skip
        for name in statuses:
            complete = status_groups(schema[name])["Complete"]
            if not complete:
                continue
            if (page["properties"].get(name) or {}).get("status", {}).get("name") in complete:
                return False
            self.edit_page(page_id, now=now, properties={name: {"status": {"name": complete[0]}}})
            return True
        for name, spec in schema.items():
            if spec["type"] == "checkbox" and name.casefold() == "done":
                if (page["properties"].get(name) or {}).get("checkbox") is True:
                    return False
                self.edit_page(page_id, now=now, properties={name: {"checkbox": True}})
                return True
        return False

    def pages_with_marker(self, marker: str) -> list[dict[str, Any]]:
        return [p for p in self.pages.values() if marker in text_of(p["children"])]

    def count(self, method: str, path_prefix: str) -> int:
        return sum(n for k, n in self.requests.items() if k.startswith(f"{method} {path_prefix}"))


def _instant(value: Any, where: str) -> datetime:
    """An ISO 8601 date or date-time of a filter; one without an offset is read as UTC."""
    if not isinstance(value, str):
        raise Invalid(f"{where} should be a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{where} should be an ISO 8601 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_TIMESTAMP_CONDITIONS = {
    "equals": lambda a, b: a == b,
    "before": lambda a, b: a < b,
    "after": lambda a, b: a > b,
    "on_or_before": lambda a, b: a <= b,
    "on_or_after": lambda a, b: a >= b,
}


def _compiled(condition: Any, depth: int = 0) -> Callable[[dict[str, Any]], bool]:
    """A query filter as a test of a page: `and`/`or` nested at most two levels deep, and
    timestamp filters on `created_time`. Anything else is refused rather than ignored, so a
    client never believes a filter was applied that was not."""
    if not isinstance(condition, dict):
        raise Invalid("body.filter should be an object")
    for compound in ("and", "or"):
        if compound in condition:
            if depth >= 2:
                raise Invalid("body.filter: compound filters may be nested two levels deep")
            parts = condition[compound]
            if not isinstance(parts, list) or len(parts) > ARRAY_LIMIT:
                raise Invalid(f"body.filter.{compound} should be an array of at most 100")
            tests = [_compiled(part, depth + 1) for part in parts]
            join = all if compound == "and" else any
            return lambda page: join(test(page) for test in tests)
    if condition.get("timestamp") != "created_time":
        raise Invalid("body.filter: the emulator filters on the created_time timestamp only")
    conditions = condition.get("created_time")
    if not isinstance(conditions, dict) or len(conditions) != 1:
        raise Invalid("body.filter.created_time should hold exactly one condition")
    ((name, value),) = conditions.items()
    compare = _TIMESTAMP_CONDITIONS.get(name)
    if compare is None:
        raise Invalid(f"body.filter.created_time.{name} is not a supported condition")
    bound = _instant(value, f"body.filter.created_time.{name}")
    return lambda page: bool(compare(page["created"], bound))


def _sorted(pages: list[dict[str, Any]], sorts: Any) -> list[dict[str, Any]]:
    if sorts is None:
        return pages
    if not isinstance(sorts, list):
        raise Invalid("body.sorts should be an array")
    for sort in reversed(sorts):
        if not isinstance(sort, dict) or sort.get("timestamp") != "created_time":
            raise Invalid("body.sorts: the emulator sorts by the created_time timestamp only")
        if sort.get("direction") not in ("ascending", "descending"):
            raise Invalid("body.sorts[].direction should be ascending or descending")
        pages = sorted(pages, key=lambda p: p["created"],
                       reverse=sort["direction"] == "descending")  # fmt: skip
    return pages


def create_notion_emulator(
    sandbox: NotionSandbox | None = None,
    *,
    clock: Clock | None = None,
    webhook_http: httpx.AsyncClient | None = None,
) -> Starlette:
    """A Starlette app emulating Notion; `app.state.sandbox` is its world. Its webhook
    deliveries, when driven over HTTP (`/_sandbox/webhooks/deliver`), go through
    `webhook_http` (a client made for each round when None)."""
    world = sandbox or NotionSandbox()
    time = clock or SystemClock()

    def over_budget(token: str) -> bool:
        now = time.now().timestamp()
        tokens, updated = world._buckets.get(token, (world.burst, now))
        tokens = min(world.burst, tokens + (now - updated) * world.requests_per_second)
        if tokens < 1:
            world._buckets[token] = (tokens, now)
            world.throttled.append(now)
            return True
        world._buckets[token] = (tokens - 1, now)
        return False

    async def api(request: Request, handler: Any) -> Response:
        """One API call over the world's network: there, answered, and back."""
        return await world.network.carry(time, lambda: answer(request, handler))

    async def answer(request: Request, handler: Any) -> Response:
        world.requests[f"{request.method} {request.url.path}"] += 1
        fired = world.faults.draw(request.method, request.url.path)
        kinds = {f.kind for f in fired}
        for fault in fired:
            if fault.kind is FaultKind.LATENCY:
                await time.sleep(fault.seconds)  # the fake clock in tests: no real wait
        if "notion-version" not in request.headers:
            return _error(400, "missing_version", "Notion-Version header failed validation.")
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        grant = world.tokens.get(token)
        if grant is None or grant["revoked"] or FaultKind.REVOKED in kinds:
            if grant is not None:
                grant["revoked"] = True
            return _error(401, "unauthorized", "API token is invalid.")
        if over_budget(token) or FaultKind.RATE_LIMIT in kinds:
            seconds = next((f.seconds for f in fired if f.kind is FaultKind.RATE_LIMIT), 0) or 1
            return _error(429, "rate_limited", "You have been rate limited.",
                          {"Retry-After": str(int(seconds))})  # fmt: skip
        failing = fired_of(fired, FaultKind.SERVER_ERROR)
        if failing is not None:
            code, message = SERVER_ERRORS.get(failing.status, SERVER_ERRORS[500])
            return _error(failing.status, failing.code or code, message, failing.retry_after())
        if FaultKind.BAD_GATEWAY_HTML in kinds:
            return HTMLResponse("<html><body>502 Bad Gateway</body></html>", 502)
        try:
            response: Response = await handler(request, grant)
        except Invalid as invalid:
            return _error(400, "validation_error", f"body failed validation: {invalid}")
        except ValueError:
            return _error(400, "invalid_json", "Error parsing JSON body.")
        if FaultKind.LOST_RESPONSE in kinds:
            return HTMLResponse("<html><body>502 Bad Gateway</body></html>", 502)
        return response

    def route(path: str, handler: Any, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            return await api(request, handler)

        return Route(path, endpoint, methods=methods)

    # --- OAuth ------------------------------------------------------------------------------

    async def authorize(request: Request) -> Response:
        world.requests[f"{request.method} /v1/oauth/authorize"] += 1
        params = request.query_params if request.method == "GET" else await request.form()
        client_id, redirect_uri = (
            str(params.get("client_id", "")),
            str(params.get("redirect_uri", "")),
        )
        state = str(params.get("state", ""))
        integration = world.integrations.get(client_id)
        if integration is None or redirect_uri not in integration["redirects"]:
            return _error(400, "invalid_request", "Invalid client_id or redirect_uri.")
        if request.method == "GET" and not world.auto_approve:
            hidden = "".join(
                f'<input type="hidden" name="{n}" value="{html.escape(v)}">'
                for n, v in (
                    ("client_id", client_id),
                    ("redirect_uri", redirect_uri),
                    ("state", state),
                )
            )
            return HTMLResponse(
                "<!doctype html><html><head><title>Notion — Allow access</title></head><body>"
                f"<h1>Allow access to {html.escape(world.workspace_name)}?</h1>"
                f'<form method="post" action="/v1/oauth/authorize">{hidden}'
                '<button name="decision" value="approve">Allow access</button> '
                '<button name="decision" value="deny">Cancel</button></form></body></html>'
            )
        if request.method == "POST" and params.get("decision") != "approve":
            return RedirectResponse(
                f"{redirect_uri}?{urlencode({'error': 'access_denied', 'state': state})}", 302
            )
        code = secrets.token_urlsafe(16)
        world.codes[code] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "user_id": world.consent_user_id or next(iter(world.users)),
            "expires": time.now() + CODE_LIFETIME,
        }
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", 302)

    def oauth_error(code: str, description: str) -> Response:
        return JSONResponse({"error": code, "error_description": description}, status_code=400)

    def basic_client(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        try:
            client_id, secret = (
                base64.b64decode(header.removeprefix("Basic ")).decode().split(":", 1)
            )
        except (ValueError, UnicodeDecodeError):
            return None
        integration = world.integrations.get(client_id)
        return client_id if integration is not None and integration["secret"] == secret else None

    def token_answer(access: str, refresh: str) -> Response:
        user = world.users[world.tokens[access]["user_id"]]
        return JSONResponse({
            "access_token": access, "refresh_token": refresh, "token_type": "bearer",
            "bot_id": "bot-1", "workspace_id": world.workspace_id,
            "workspace_name": world.workspace_name,
            "owner": {"type": "user", "user": {
                "object": "user", "id": user["id"], "name": user["name"],
                "person": {"email": user["email"]},
            }},
        })  # fmt: skip

    async def token(request: Request) -> Response:
        world.requests["POST /v1/oauth/token"] += 1
        client_id = basic_client(request)
        if client_id is None:
            return oauth_error("invalid_client", "Client authentication failed.")
        body = await request.json()
        if body.get("grant_type") == "authorization_code":
            grant = world.codes.pop(str(body.get("code")), None)
            if (grant is None or grant["client_id"] != client_id or grant["expires"] < time.now()
                    or body.get("redirect_uri") != grant["redirect_uri"]):  # fmt: skip
                return oauth_error("invalid_grant", "Invalid code.")
            return token_answer(*world.issue_tokens(grant["user_id"]))
        if body.get("grant_type") == "refresh_token":
            old_access = world.refresh_tokens.pop(str(body.get("refresh_token")), None)
            if old_access is None:
                return oauth_error("invalid_grant", "Invalid refresh token.")
            user_id = world.tokens[old_access]["user_id"]
            world.tokens[old_access]["revoked"] = True
            return token_answer(*world.issue_tokens(user_id))
        return oauth_error("unsupported_grant_type", "Unsupported grant type.")

    async def revoke(request: Request) -> Response:
        world.requests["POST /v1/oauth/revoke"] += 1
        if basic_client(request) is None:
            return oauth_error("invalid_client", "Client authentication failed.")
        grant = world.tokens.get(str((await request.json()).get("token")))
        if grant is not None:
            grant["revoked"] = True
        return JSONResponse({})

    # --- API --------------------------------------------------------------------------------

    def source_json(source_id: str) -> dict[str, Any]:
        source = world.data_sources[source_id]
        properties = {}
        for name, spec in source["properties"].items():
            kind = spec["type"]
            options = [{"id": option_id(name, o), "name": o, "color": "default"}
                       for o in spec.get("options", [])]  # fmt: skip
            detail: dict[str, Any] = {"options": options} if kind in ("select", "status") else {}
            if kind == "status":
                detail["groups"] = [
                    {"id": option_id(name, f"group:{group}"), "name": group, "color": "default",
                     "option_ids": [option_id(name, o) for o in names]}
                    for group, names in status_groups(spec).items()
                ]  # fmt: skip
            properties[name] = {"id": property_id(name), "name": name, "type": kind, kind: detail}
        return {"object": "data_source", "id": source_id,
                "title": [{"plain_text": source["title"], "text": {"content": source["title"]}}],
                "parent": {"type": "database_id", "database_id": source["database_id"]},
                "properties": properties}  # fmt: skip

    def paginate(items: list[Any], cursor: Any, size: Any) -> dict[str, Any]:
        start = int(cursor or 0)
        try:
            size = int(size or 100)
        except ValueError:
            raise Invalid("page_size should be a number") from None
        if not 1 <= size <= ARRAY_LIMIT:
            raise Invalid(f"page_size should be ≤ `{ARRAY_LIMIT}`, instead was `{size}`.")
        chunk = items[start : start + size]
        more = start + size < len(items)
        return {"object": "list", "results": chunk, "has_more": more,
                "next_cursor": str(start + size) if more else None}  # fmt: skip

    async def search(request: Request, grant: dict[str, Any]) -> Response:
        body = await request.json()
        if (body.get("filter") or {}).get("value") == "database":
            raise Invalid("body.filter.value should be `page` or `data_source`")
        items = [source_json(i) for i in world.data_sources]
        return JSONResponse(paginate(items, body.get("start_cursor"), body.get("page_size")))

    async def get_source(request: Request, grant: dict[str, Any]) -> Response:
        source_id = request.path_params["source_id"]
        if source_id not in world.data_sources:
            return _error(
                404, "object_not_found", f"Could not find data_source with ID: {source_id}."
            )
        return JSONResponse(source_json(source_id))

    async def query(request: Request, grant: dict[str, Any]) -> Response:
        source_id = request.path_params["source_id"]
        if source_id not in world.data_sources:
            return _error(
                404, "object_not_found", f"Could not find data_source with ID: {source_id}."
            )
        body = await request.json()
        condition = body.get("filter")
        test = _compiled(condition) if condition is not None else (lambda page: True)
        pages = [p for p in world.pages.values() if p["parent"] == source_id and test(p)]
        listed = paginate(_sorted(pages, body.get("sorts")), body.get("start_cursor"),
                          body.get("page_size"))  # fmt: skip
        return JSONResponse({**listed, "results": [page_json(p) for p in listed["results"]]})

    async def users(request: Request, grant: dict[str, Any]) -> Response:
        if world.user_information == "none":
            return _error(403, "restricted_resource",
                          "Insufficient permissions for this endpoint.")  # fmt: skip
        with_email = world.user_information == "with_email"
        items = [{"object": "user", "id": u["id"], "type": "person", "name": u["name"],
                  "person": {"email": u["email"]} if with_email else {}}
                 for u in world.users.values()]  # fmt: skip
        items.append({"object": "user", "id": "bot-1", "type": "bot", "name": "Scrumy Tasks"})
        params = request.query_params
        return JSONResponse(paginate(items, params.get("start_cursor"), params.get("page_size")))

    def property_json(name: str, value: dict[str, Any], source_id: str) -> dict[str, Any]:
        """A property value as Notion answers it: with its type, text with `plain_text`, a
        status or select option with its id."""
        spec = world.data_sources[source_id]["properties"].get(name, {})
        kind = spec.get("type")
        inner = value.get(kind) if kind else None
        if kind in ("title", "rich_text") and isinstance(inner, list):
            inner = [{**item, "plain_text": (item.get("text") or {}).get("content", "")}
                     for item in inner]  # fmt: skip
        if kind in ("status", "select") and isinstance(inner, dict) and "name" in inner:
            inner = {"id": option_id(name, inner["name"]), "name": inner["name"],
                     "color": "default"}  # fmt: skip
        return {"id": property_id(name), "type": kind, kind or "unknown": inner}

    def page_json(page: dict[str, Any]) -> dict[str, Any]:
        """The page as Notion answers it: a status never set shows its To-do group's first
        option and a checkbox never set is false, as a new page in Notion has them."""
        stored = dict(page["properties"])
        for name, spec in world.data_sources[page["parent"]]["properties"].items():
            if name in stored:
                continue
            if spec["type"] == "status" and (first := status_groups(spec)["To-do"][:1]):
                stored[name] = {"status": {"name": first[0]}}
            elif spec["type"] == "checkbox":
                stored[name] = {"checkbox": False}
        properties = {name: property_json(name, value, page["parent"])
                      for name, value in stored.items()}  # fmt: skip
        return {"object": "page", "id": page["id"], "url": page["url"],
                "created_time": page["created"].isoformat().replace("+00:00", "Z"),
                "last_edited_time": page["edited"].isoformat().replace("+00:00", "Z"),
                "in_trash": page["in_trash"], "archived": page["in_trash"],
                "parent": {"type": "data_source_id", "data_source_id": page["parent"]},
                "properties": properties}  # fmt: skip

    async def create_page(request: Request, grant: dict[str, Any]) -> Response:
        body = await request.json()
        source_id = (body.get("parent") or {}).get("data_source_id")
        if source_id not in world.data_sources:
            return _error(
                404, "object_not_found", f"Could not find data_source with ID: {source_id}."
            )
        schema = world.data_sources[source_id]["properties"]
        properties = body.get("properties") or {}
        for name, value in properties.items():
            if name not in schema:
                raise Invalid(f"{name} is not a property that exists.")
            check_property(world, name, value, schema[name])
        if not any(schema[n]["type"] == "title" for n in properties):
            raise Invalid("body.properties: the title property should be defined")
        children = body.get("children", [])
        check_blocks(children)
        for name, value in properties.items():  # Notion creates unknown select options
            if schema[name]["type"] == "select":
                options = schema[name].setdefault("options", [])
                if value["select"]["name"] not in options:
                    options.append(value["select"]["name"])
        page = world.store_page(source_id, properties, children, created=time.now())
        return JSONResponse(page_json(page))

    async def one_page(request: Request, grant: dict[str, Any]) -> Response:
        """`GET /v1/pages/{id}` (a trashed page too, with `in_trash`), and `PATCH` with
        `properties` and/or `in_trash` (`archived`, its older name, as well)."""
        page = world.pages.get(request.path_params["page_id"])
        if page is None:
            page_id = request.path_params["page_id"]
            return _error(404, "object_not_found", f"Could not find page with ID: {page_id}.")
        if request.method == "PATCH":
            body = await request.json()
            if not isinstance(body, dict):
                raise Invalid("body should be an object")
            trash = body.get("in_trash", body.get("archived"))
            if trash is not None and not isinstance(trash, bool):
                raise Invalid("body.in_trash should be a boolean")
            properties = body.get("properties") or {}
            if not isinstance(properties, dict):
                raise Invalid("body.properties should be an object")
            author = {"id": "bot-1", "type": "bot"}
            apply_edit(world, page, properties, trash, now=time.now(), author=author)
        return JSONResponse(page_json(page))

    async def children(request: Request, grant: dict[str, Any]) -> Response:
        page = world.pages.get(request.path_params["block_id"])
        if page is None:
            return _error(404, "object_not_found", "Could not find block.")
        if request.method == "PATCH":
            blocks = (await request.json()).get("children")
            check_blocks(blocks)
            page["children"].extend(blocks)
            return JSONResponse({"object": "list", "results": blocks, "has_more": False})
        params = request.query_params
        return JSONResponse(
            paginate(page["children"], params.get("start_cursor"), params.get("page_size"))
        )

    async def control_state(request: Request) -> Response:
        pages = [{**page_json(p), "text": text_of(p["children"])} for p in world.pages.values()]
        return JSONResponse({"pages": pages, "requests": dict(world.requests)})

    app = Starlette(
        routes=[
            Route("/v1/oauth/authorize", authorize, methods=["GET", "POST"]),
            Route("/v1/oauth/token", token, methods=["POST"]),
            Route("/v1/oauth/revoke", revoke, methods=["POST"]),
            route("/v1/search", search, ["POST"]),
            route("/v1/data_sources/{source_id}", get_source, ["GET"]),
            route("/v1/data_sources/{source_id}/query", query, ["POST"]),
            route("/v1/users", users, ["GET"]),
            route("/v1/pages", create_page, ["POST"]),
            route("/v1/pages/{page_id}", one_page, ["GET", "PATCH"]),
            route("/v1/blocks/{block_id}/children", children, ["GET", "PATCH"]),
            Route("/_sandbox/state", control_state, methods=["GET"]),
            fault_control_route(world.faults),
            *webhook_control_routes(world.webhooks, time, webhook_http),
            # The pages in a browser, at /web/, each with a button to mark it done.
            *notion_web_routes(world, mark_done=lambda i: world.mark_done(i, now=time.now())),
        ]
    )
    app.state.sandbox = world
    return app


def seed_demo_notion(
    world: NotionSandbox, *, client_id: str, client_secret: str, redirect_uri: str
) -> None:
    """A workspace with two data sources of different schemas and three people."""
    world.add_integration(client_id, client_secret, redirect_uri)
    world.add_user("u-ana", "Ana Lima", "ana@acme.example")
    world.add_user("u-bo", "Bo Chen", "bo@acme.example")
    world.add_user("u-cy", "Cy Roy", "cy@acme.example")
    world.add_data_source("ds-roadmap", "Product Roadmap", {
        "Name": {"type": "title"},
        "Priority": {"type": "select", "options": ["Urgent", "High", "Normal", "Low"]},
        "Due": {"type": "date"},
        "Assignee": {"type": "people"},
        "Status": {"type": "status", "options": ["Not started", "In progress", "Done"]},
    })  # fmt: skip
    world.add_data_source("ds-notes", "Meeting Notes", {
        "Task": {"type": "title"},
        "Deadline": {"type": "date"},
    })  # fmt: skip
