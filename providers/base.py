"""What every task tool looks like to the rest of Scrumy Tasks.

A provider (ClickUp, Notion) is reached only through the `Provider` protocol below, with frozen
value types in and out, and it raises only the errors of one tree:

    ProviderError                 a provider-side problem; `.message` is readable in Slack
    ├── AuthRevoked               the token is gone or refused: the person must reconnect
    ├── RateLimited               429 (or the client's own budget); `.retry_after` in seconds
    ├── Transient                 timeouts, network errors, 5xx, garbage from a proxy: retry later
    └── Permanent                 the request itself is wrong (validation, deleted destination)

Anything else escaping a provider client is a bug in the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from primitives.enums import Priority, ProviderName, RemoteStatus

# --- errors ---------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every provider-side failure.

    `message` is safe to show a person (it never contains a token); `code` is the provider's own
    error code when it sent one (e.g. ClickUp `OAUTH_019`, Notion `validation_error`).
    """

    def __init__(self, provider: ProviderName, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.message = message
        self.code = code


class AuthRevoked(ProviderError):
    """The connection no longer works (revoked, expired, refresh refused): reconnect."""


class RateLimited(ProviderError):
    """Too many requests; try again after `retry_after` seconds."""

    def __init__(
        self,
        provider: ProviderName,
        message: str,
        *,
        retry_after: float,
        code: str | None = None,
    ) -> None:
        super().__init__(provider, message, code=code)
        self.retry_after = retry_after


class Transient(ProviderError):
    """A failure that may go away: timeout, network error, 5xx, an unreadable response.

    `request_sent` is False only when the request certainly never reached the provider (e.g.
    the connection was refused); when True, a create may have happened and must be reconciled
    by marker before it is retried.
    """

    def __init__(
        self,
        provider: ProviderName,
        message: str,
        *,
        request_sent: bool = True,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(provider, message, code=code)
        self.request_sent = request_sent
        self.retry_after = retry_after


class Permanent(ProviderError):
    """The provider refused the request for a reason retrying will not fix."""


# --- values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthTokens:
    """What a code exchange or a refresh returns. Tokens are kept out of `repr`."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scope: str | None = None


@dataclass(frozen=True)
class Workspace:
    """A ClickUp workspace ("team" in API v2) or a Notion workspace."""

    id: str
    name: str


@dataclass(frozen=True)
class ProviderAccount:
    """A freshly authorized connection: its tokens and what it gives access to."""

    provider: ProviderName
    tokens: OAuthTokens
    workspaces: tuple[Workspace, ...]
    account_id: str | None = None
    account_email: str | None = None
    account_name: str | None = None

    @property
    def workspace(self) -> Workspace | None:
        return self.workspaces[0] if self.workspaces else None


@dataclass(frozen=True)
class Credentials:
    """What a client needs to act for one person's connection.

    `connection_id` keys the per-connection rate limits; it is our id, never the token.
    """

    connection_id: str
    access_token: str = field(repr=False)
    workspace_id: str | None = None


@dataclass(frozen=True)
class DestinationField:
    """One property of a Notion data source (name, type and, for select/status, its options)."""

    name: str
    type: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Destination:
    """Where a task can go: a ClickUp list or a Notion data source.

    `path` is the human path to it (ClickUp: space, folder; Notion: the database title) so a
    person can tell two lists called "Backlog" apart. `fields` is the Notion schema.
    """

    provider: ProviderName
    id: str
    name: str
    workspace_id: str
    path: tuple[str, ...] = ()
    parent_id: str | None = None
    fields: tuple[DestinationField, ...] = ()

    @property
    def display_name(self) -> str:
        return " / ".join((*self.path, self.name))


@dataclass(frozen=True)
class Member:
    """A person in the tool's workspace, for assigning a task by e-mail."""

    id: str
    name: str
    email: str | None
    workspace_id: str


@dataclass(frozen=True)
class Catalog:
    """Everything a connection can create tasks in, read once and cached.

    `members_note` says, in words for the task's reason, why assignees cannot be matched by
    e-mail although the catalog loaded (e.g. the Notion integration may not read its people);
    None when the members were read.
    """

    provider: ProviderName
    destinations: tuple[Destination, ...]
    members: tuple[Member, ...]
    fetched_at: datetime
    members_note: str | None = None

    def destination(self, destination_id: str) -> Destination | None:
        return next((d for d in self.destinations if d.id == destination_id), None)

    def member_by_email(self, email: str | None) -> Member | None:
        if not email:
            return None
        wanted = email.strip().casefold()
        return next((m for m in self.members if (m.email or "").casefold() == wanted), None)


@dataclass(frozen=True)
class TaskDraft:
    """A task as we want it created, independent of the tool.

    `due` is a `date` (no time given) or a timezone-aware `datetime`. `time_zone` is the
    owner's IANA time zone when known (from Slack), which a tool that keeps a date-only due as
    an instant needs to put it on the right day. `marker` is our unique tag for this task; the
    client writes it into the task so `find_tasks` can find a task whose creation
    response was lost.
    """

    title: str
    marker: str
    description: str = ""
    priority: Priority | None = None
    due: date | datetime | None = None
    assignee_email: str | None = None
    assignee_name: str | None = None
    meeting_title: str | None = None
    backlink_url: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True)
class Lookup:
    """One task we may have created: its marker and title, and the window its creation can have
    happened in, by our clock (already widened by routing for clock skew).

    `sent_after` is before the first request that may have created it; `landed_before` is after
    the last such request's deadline. A provider searches only that window (rounded outwards to
    what the tool can filter on), so the cost of a lookup follows the tasks created in the
    window, not the size of the list.
    """

    marker: str
    title: str
    sent_after: datetime
    landed_before: datetime


@dataclass(frozen=True)
class CreatedTask:
    """A task that exists in the tool."""

    provider: ProviderName
    task_id: str
    url: str
    destination_id: str


@dataclass(frozen=True)
class TaskStatus:
    """Where a created task is in its tool, as read from the tool (`Provider.task_status`).

    `status` is None when the tool holds nothing we can map (a Notion database without a
    status property or a "Done" checkbox). `edited_at` is when, by the tool's clock, what was
    read is known to hold from: no earlier than the task's last change and no later than the
    read (ClickUp `date_updated`; Notion keeps `last_edited_time` in whole minutes, so the end
    of that minute, or the read if sooner). None when the tool gave none (a task gone).
    """

    status: RemoteStatus | None
    edited_at: datetime | None


# A fence the caller passes to `create_task`: awaited right before the request that may create
# the task goes out (after any wait for the rate limit), it either raises (the caller may no
# longer send) or returns the seconds the request may take; the client abandons the request at
# that deadline, so it can land no later than the caller has recorded.
SendGuard = Callable[[], Awaitable[float]]


# --- the protocol -----------------------------------------------------------------------------


class Provider(Protocol):
    """One task tool, as the routing layer and the OAuth pages use it."""

    @property
    def name(self) -> ProviderName: ...

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        """The provider's consent page for this state and our fixed redirect URI."""
        ...

    async def exchange_code(self, *, code: str, redirect_uri: str) -> ProviderAccount:
        """Trade an authorization code for tokens and say which workspaces they reach."""
        ...

    async def refresh(self, refresh_token: str) -> OAuthTokens:
        """Get a new token pair; `AuthRevoked` when the refresh token is refused."""
        ...

    async def revoke(self, access_token: str) -> bool:
        """Revoke the token at the provider; False where the tool has no revoke endpoint."""
        ...

    async def fetch_catalog(self, credentials: Credentials) -> Catalog:
        """Read every destination and member the connection can see."""
        ...

    async def create_task(
        self,
        credentials: Credentials,
        destination: Destination,
        draft: TaskDraft,
        members: Sequence[Member] = (),
        *,
        guard: SendGuard | None = None,
    ) -> CreatedTask:
        """Create the task with one API call (Notion: more only for a very long description).

        `guard` fences the one request that may create the task (see `SendGuard`).
        """
        ...

    async def task_status(
        self, credentials: Credentials, task_id: str, *, spare_only: bool = False
    ) -> TaskStatus:
        """Read where the created task `task_id` is (one request, never repeated here; a task
        the tool no longer has is `deleted`). With `spare_only` the request goes out only if
        the connection's budget is idle (`ConnectionRateLimiter.idle`), else `RateLimited` is
        raised without sending: how a background poll stays out of task creation's way."""
        ...

    async def find_tasks(
        self, credentials: Credentials, destination: Destination, lookups: Sequence[Lookup]
    ) -> dict[str, CreatedTask]:
        """Which of `lookups` exist in `destination`, by marker. One listing covers them all.

        The windows of the lookups are merged where they overlap or nearly touch; windows far
        apart get a listing each. Paging stops as soon as every marker is found. A marker
        missing from the answer was not there: any failure of the listing (network, 5xx, an
        answer of an unexpected shape) raises instead, never a partial "not found".
        """
        ...
