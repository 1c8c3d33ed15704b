"""`NotionProvider`: the `Provider` protocol over the Notion API with httpx.

We pin `Notion-Version: 2025-09-03`, the first version with data sources: a database may hold
several data sources, pages are created with `parent: {data_source_id}`, search filters on
`data_source`, and a schema is read with `GET /v1/data_sources/{id}`. Older versions would
create pages in "the database" and break on multi-source databases.

We speak HTTP directly rather than through notion-client's AsyncClient: its built-in retries
sleep on the real clock and hide the per-connection Retry-After we must share with the worker,
and the surface we need is small. Requests go through the shared layer of `providers.http`:
the connection's budget and its 429 holds, transport errors, and reads (GETs, search, query)
retried with jittered backoff that never waits less than Retry-After. The page create and the
block appends are sent once, never repeated — the worker reconciles by marker instead:
`find_tasks` queries the pages created in the lookups' windows and reads only the first block
of the pages titled like a task it looks for, where `mapping.header` puts our marker.
Failures are read by `providers.notion.errors`, told whether they came from the token endpoint
(a refused sign-in: connect Notion again) or the API.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from primitives.clock import Clock
from primitives.enums import ProviderName, RemoteStatus
from providers.base import (
    AuthRevoked,
    Catalog,
    CreatedTask,
    Credentials,
    Destination,
    DestinationField,
    Lookup,
    Member,
    OAuthTokens,
    Permanent,
    ProviderAccount,
    RateLimited,
    SendGuard,
    TaskDraft,
    TaskStatus,
    Transient,
    Workspace,
)
from providers.http import Endpoint, ProviderHttp
from providers.notion.errors import NOTION, error_from_response
from providers.notion.mapping import BLOCKS_PER_REQUEST, page_body
from providers.notion.status import edited_at, page_status, status_groups, status_property, trashed
from providers.ratelimit import ConnectionRateLimiter
from providers.reconcile import Window, carries, merged_windows, same_title

NOTION_VERSION = "2025-09-03"
# Notion: "an average of three requests per second" per connection, "some bursts beyond the
# average rate are allowed" (how many, it does not say). We pace 5% under the average — at
# exactly it, any jitter on the way makes one request in a second the fourth — and burst two
# requests, the least a "burst beyond the average" can mean, which leaves Notion's bucket a
# request of slack for requests that reach it out of step. After a 429 the limiter waits
# Retry-After and starts again from an empty bucket.
AVERAGE_PER_SECOND = 3.0
PACE_PER_SECOND = 0.95 * AVERAGE_PER_SECOND
BURST = 2.0
# How long the status groups of a data source's schema are trusted (options are added rarely;
# an option we do not know makes us read the schema again at once).
SCHEMA_TTL = timedelta(minutes=10)


def notion_limiter(clock: Clock) -> ConnectionRateLimiter:
    """The per-connection budget to give `NotionProvider` (one per process)."""
    return ConnectionRateLimiter(clock, rate=PACE_PER_SECOND, burst=BURST)


# Why an assignee was not matched, in the task's reason (the capabilities as Notion names them
# in the integration's settings; docs/setup.md says what each is for).
USER_INFORMATION = "Read user information including email addresses"
NO_USER_INFORMATION = (
    "the assignee was not matched: the Notion integration may not read user information — "
    f"give it “{USER_INFORMATION}”"
)
NO_USER_EMAILS = (
    "the assignee was not matched: the Notion integration reads people without their e-mail "
    f"addresses — give it “{USER_INFORMATION}”"
)


class NotionProvider:
    """Notion for one Scrumy Tasks installation (one public integration).

    `rng` draws the jitter of read retries (seed it for a repeatable run).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        limiter: ConnectionRateLimiter,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._api = api_url.rstrip("/") + "/v1"
        self._http = ProviderHttp(
            http, provider=NOTION, base_url=self._api, errors=error_from_response,
            limiter=limiter, clock=clock, rng=rng, headers={"Notion-Version": NOTION_VERSION},
        )  # fmt: skip
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        # data source id -> (read at, status property -> option id/name -> group)
        self._groups: dict[str, tuple[datetime, dict[str, dict[str, str]]]] = {}

    @property
    def name(self) -> ProviderName:
        return ProviderName.NOTION

    # --- HTTP -------------------------------------------------------------------------------

    def _basic(self) -> str:
        """The token endpoint authenticates our integration, not a person."""
        pair = f"{self._client_id}:{self._client_secret}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    async def _sign_in(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A call to the token endpoint, sent once: a code is single use and a refresh token
        dies on use, so a repeat could only be refused."""
        return await self._http.send(
            "POST", path, endpoint=Endpoint.OAUTH, authorization=self._basic(), json=body
        )

    async def _write(
        self,
        method: str,
        path: str,
        credentials: Credentials,
        body: Any,
        *,
        guard: SendGuard | None = None,
    ) -> dict[str, Any]:
        """A request that changes something: sent once, never repeated."""
        return await self._http.send(
            method, path, authorization=f"Bearer {credentials.access_token}",
            connection_id=credentials.connection_id, json=body, guard=guard,
        )  # fmt: skip

    async def _read(
        self,
        method: str,
        path: str,
        credentials: Credentials,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        """A read (GET, or the POSTs search and query), retried by the shared layer."""
        return await self._http.read(
            method, path, authorization=f"Bearer {credentials.access_token}",
            connection_id=credentials.connection_id, params=params, json=json,
        )  # fmt: skip

    # --- OAuth ------------------------------------------------------------------------------

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "client_id": self._client_id,
                "response_type": "code",
                "owner": "user",
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{self._api}/oauth/authorize?{query}"

    def _tokens(self, body: dict[str, Any]) -> OAuthTokens:
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise Transient(NOTION, "Notion's token answer had no access token")
        expires_in = body.get("expires_in")
        expires_at = None
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            expires_at = self._clock.now() + timedelta(seconds=float(expires_in))
        refresh = body.get("refresh_token")
        return OAuthTokens(
            access, refresh if isinstance(refresh, str) and refresh else None, expires_at
        )

    async def exchange_code(self, *, code: str, redirect_uri: str) -> ProviderAccount:
        grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        try:
            body = await self._sign_in("/oauth/token", grant)
        except AuthRevoked as error:
            # A refused code (used, expired, never issued): the error's words fit, but there
            # is no connection yet that could be revoked.
            raise Permanent(NOTION, error.message, code=error.code) from None
        tokens = self._tokens(body)
        owner = _object(body.get("owner"))
        user = _object(owner.get("user"))
        person = _object(user.get("person"))
        workspace_id = body.get("workspace_id")
        workspaces = (
            (Workspace(str(workspace_id), str(body.get("workspace_name") or "Notion")),)
            if workspace_id
            else ()
        )
        return ProviderAccount(
            provider=NOTION,
            tokens=tokens,
            workspaces=workspaces,
            account_id=str(user["id"]) if user.get("id") else None,
            account_email=person.get("email"),
            account_name=user.get("name"),
        )

    async def refresh(self, refresh_token: str) -> OAuthTokens:
        body = await self._sign_in(
            "/oauth/token", {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        return self._tokens(body)

    async def revoke(self, access_token: str) -> bool:
        await self._sign_in("/oauth/revoke", {"token": access_token})
        return True

    # --- catalog ----------------------------------------------------------------------------

    async def fetch_catalog(self, credentials: Credentials) -> Catalog:
        destinations: list[Destination] = []
        cursor: str | None = None
        try:
            while True:
                query: dict[str, Any] = {
                    "filter": {"property": "object", "value": "data_source"},
                    "page_size": 100,
                }
                if cursor:
                    query["start_cursor"] = cursor
                page = await self._read("POST", "/search", credentials, json=query)
                for found in page["results"]:
                    source = await self._read("GET", f"/data_sources/{found['id']}", credentials)
                    destinations.append(self._destination(source, credentials))
                if not page.get("has_more"):
                    break
                cursor = page.get("next_cursor")
            members, note = await self._members(credentials)
        except (KeyError, TypeError):
            raise Transient(NOTION, "Notion sent a listing of an unexpected shape") from None
        return Catalog(
            NOTION, tuple(destinations), tuple(members), self._clock.now(), members_note=note
        )

    def _destination(self, source: dict[str, Any], credentials: Credentials) -> Destination:
        title = "".join(t.get("plain_text", "") for t in source.get("title") or ()) or "Untitled"
        fields = []
        for name, schema in (source.get("properties") or {}).items():
            kind = str(schema["type"])
            options = tuple(
                str(o["name"]) for o in (schema.get(kind) or {}).get("options") or ()
            ) if kind in ("select", "status") else ()  # fmt: skip
            fields.append(DestinationField(str(name), kind, options))
        parent = source.get("parent") or {}
        return Destination(
            NOTION, str(source["id"]), title, credentials.workspace_id or "",
            parent_id=parent.get("database_id"), fields=tuple(fields),
        )  # fmt: skip

    async def _members(self, credentials: Credentials) -> tuple[list[Member], str | None]:
        """The workspace's people, and a note when they cannot be matched by e-mail.

        Reading users is a capability the integration may lack ("Read user information"): then
        `GET /v1/users` answers 403 `restricted_resource`. The destinations are still good, so
        the catalog loads without members, and a note says why assignees are not matched —
        never "share the database", which is not the problem. With "Read user information
        without email addresses" the people come without e-mail: the same note.
        """
        members: list[Member] = []
        cursor: str | None = None
        while True:
            params = {"page_size": 100, **({"start_cursor": cursor} if cursor else {})}
            try:
                page = await self._read("GET", "/users", credentials, params=params)
            except Permanent as refused:
                if refused.code != "restricted_resource":
                    raise
                return [], NO_USER_INFORMATION
            for user in page["results"]:
                if user.get("type") == "person":
                    email = (user.get("person") or {}).get("email")
                    members.append(
                        Member(str(user["id"]), str(user.get("name") or email or ""), email,
                               credentials.workspace_id or "")
                    )  # fmt: skip
            if not page.get("has_more"):
                if members and not any(m.email for m in members):
                    return members, NO_USER_EMAILS
                return members, None
            cursor = page.get("next_cursor")

    async def missing_capabilities(self, credentials: Credentials) -> tuple[str, ...]:
        """The integration capabilities this connection shows it lacks, by Notion's names;
        so far what reading the people tells ("Read user information including email
        addresses"). For `scrumy check`."""
        _, note = await self._members(credentials)
        return () if note is None else (USER_INFORMATION,)

    # --- tasks ------------------------------------------------------------------------------

    async def create_task(
        self,
        credentials: Credentials,
        destination: Destination,
        draft: TaskDraft,
        members: Sequence[Member] = (),
        *,
        guard: SendGuard | None = None,
    ) -> CreatedTask:
        if not draft.title.strip():
            raise Permanent(NOTION, "a Notion page needs a title")
        body, blocks = page_body(draft, destination, members)
        body["children"] = blocks[:BLOCKS_PER_REQUEST]
        page = await self._write("POST", "/pages", credentials, body, guard=guard)
        created = self._created(page, destination)
        rest = blocks[BLOCKS_PER_REQUEST:]
        for i in range(0, len(rest), BLOCKS_PER_REQUEST):
            # Appending is safe to retry only as a whole page of blocks; a failure here leaves
            # the page created with part of a very long description, which the error says.
            try:
                await self._write(
                    "PATCH", f"/blocks/{created.task_id}/children", credentials,
                    {"children": rest[i : i + BLOCKS_PER_REQUEST]},
                )  # fmt: skip
            except (Transient, RateLimited):
                break
        return created

    def _created(self, page: dict[str, Any], destination: Destination) -> CreatedTask:
        try:
            return CreatedTask(NOTION, str(page["id"]), str(page["url"]), destination.id)
        except KeyError:
            raise Transient(NOTION, "Notion's answer to the create had no page id") from None

    async def task_status(
        self, credentials: Credentials, task_id: str, *, spare_only: bool = False
    ) -> TaskStatus:
        """Read the page (`GET /v1/pages/{id}`) and map it (`providers.notion.status`); its
        status property's groups come from the data source's schema, read at most every
        SCHEMA_TTL per data source. Each request is sent once. A page Notion no longer shows
        us (404: deleted for good, or no longer shared) is `deleted`."""
        authorization = f"Bearer {credentials.access_token}"
        try:
            page = await self._http.send(
                "GET", f"/pages/{task_id}", authorization=authorization,
                connection_id=credentials.connection_id, spare_only=spare_only,
            )  # fmt: skip
        except Permanent as gone:
            if gone.code != "object_not_found":
                raise
            return TaskStatus(RemoteStatus.DELETED, None)
        groups: dict[str, str] = {}
        found = status_property(_object(page.get("properties")))
        source = _object(page.get("parent")).get("data_source_id")
        if found is not None and not trashed(page) and isinstance(source, str):
            groups = await self._status_groups(credentials, source, found[0], page)
        edited = edited_at(page)
        if edited is not None:
            # Whole minutes: the state read holds from the end of that minute at the latest
            # (or from now, if sooner); a later change would have moved last_edited_time.
            edited = min(
                edited + timedelta(minutes=1) - timedelta(milliseconds=1), self._clock.now()
            )
        return TaskStatus(page_status(page, groups), edited)

    async def _status_groups(
        self, credentials: Credentials, source_id: str, name: str, page: dict[str, Any]
    ) -> dict[str, str]:
        """The groups of the status property `name` of data source `source_id`, cached; read
        again when stale or when the page's option is not among them."""
        option = _object(_object(_object(page.get("properties")).get(name)).get("status"))
        cached = self._groups.get(source_id)
        now = self._clock.now()
        if cached is not None and now - cached[0] < SCHEMA_TTL:
            groups = cached[1].get(name, {})
            if str(option.get("id")) in groups or str(option.get("name")) in groups:
                return groups
        schema = await self._http.send(
            "GET", f"/data_sources/{source_id}", authorization=f"Bearer {credentials.access_token}",
            connection_id=credentials.connection_id,
        )  # fmt: skip
        properties = _object(schema.get("properties"))
        by_property = {
            str(prop): status_groups(schema, str(prop))
            for prop, spec in properties.items()
            if _object(spec).get("type") == "status"
        }
        self._groups[source_id] = (now, by_property)
        return by_property.get(name, {})

    async def find_tasks(
        self, credentials: Credentials, destination: Destination, lookups: Sequence[Lookup]
    ) -> dict[str, CreatedTask]:
        """Query the pages created in the lookups' windows (whole minutes: Notion rounds
        `created_time` down to the minute), take as candidates those titled like a lookup,
        and confirm each with one read of its first block, where we write our marker."""
        found: dict[str, CreatedTask] = {}
        # Windows a minute apart are contiguous at Notion's minute grain: no page lies between.
        for window in merged_windows(lookups, gap=timedelta(minutes=1), widen=_whole_minutes):
            await self._query_window(credentials, destination, window, found)
        return found

    async def _query_window(
        self,
        credentials: Credentials,
        destination: Destination,
        window: Window,
        found: dict[str, CreatedTask],
    ) -> None:
        missing = {lookup.marker: lookup for lookup in window.lookups if lookup.marker not in found}
        cursor: str | None = None
        while missing:
            query: dict[str, Any] = {
                "filter": {"and": [
                    {"timestamp": "created_time",
                     "created_time": {"on_or_after": _iso(window.start)}},
                    {"timestamp": "created_time",
                     "created_time": {"on_or_before": _iso(window.end)}},
                ]},
                "sorts": [{"timestamp": "created_time", "direction": "ascending"}],
                "page_size": 100,
            }  # fmt: skip
            if cursor:
                query["start_cursor"] = cursor
            answer = await self._read(
                "POST", f"/data_sources/{destination.id}/query", credentials, json=query
            )
            results = answer.get("results")
            if not isinstance(results, list):
                raise Transient(NOTION, "Notion sent a query answer of an unexpected shape")
            for page in results:
                title = _title_of(_object(page).get("properties"))
                if title is None or not any(same_title(title, x.title) for x in missing.values()):
                    continue  # not titled like any task we look for: not read
                first = await self._first_block_text(credentials, page)
                for marker in [m for m in missing if carries(first, m)]:
                    found[marker] = self._created(page, destination)
                    del missing[marker]
                if not missing:
                    return
            cursor = answer.get("next_cursor")
            if answer.get("has_more") is not True:
                return
            if not isinstance(cursor, str) or not cursor:
                raise Transient(NOTION, "Notion said there was more but sent no cursor")

    async def _first_block_text(self, credentials: Credentials, page: dict[str, Any]) -> str:
        """The text of a page's first child block: one read, however long the page is."""
        page_id = page.get("id")
        if not isinstance(page_id, str) or not page_id:
            raise Transient(NOTION, "Notion sent a page without an id")
        children = await self._read(
            "GET", f"/blocks/{page_id}/children", credentials, params={"page_size": 1}
        )
        blocks = children.get("results")
        if not isinstance(blocks, list):
            raise Transient(NOTION, "Notion sent a page's blocks in an unexpected shape")
        first = _object(blocks[0]) if blocks else {}
        content = _object(first.get(str(first.get("type"))))
        return _plain_text(content.get("rich_text"))


def _whole_minutes(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """A window as Notion can filter on it: `created_time` is rounded down to the minute, so
    the start is floored; the end is ceiled, a minute more in exchange for never depending on
    which way Notion rounds."""
    floor = start.replace(second=0, microsecond=0)
    ceiling = end.replace(second=0, microsecond=0)
    if ceiling < end:
        ceiling += timedelta(minutes=1)
    return floor, ceiling


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plain_text(items: Any) -> str:
    """The text of rich-text items (a block's content, a title), joined."""
    if not isinstance(items, list):
        return ""
    text = []
    for item in map(_object, items):
        plain = item.get("plain_text")
        if not isinstance(plain, str):
            plain = _object(item.get("text")).get("content")
        text.append(plain if isinstance(plain, str) else "")
    return "".join(text)


def _title_of(properties: Any) -> str | None:
    """The value of a page's title property, None when the answer holds none."""
    for value in _object(properties).values():
        value = _object(value)
        if value.get("type") == "title":
            return _plain_text(value.get("title"))
    return None


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (Notion omits parts freely)."""
    return value if isinstance(value, dict) else {}
