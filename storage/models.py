"""The tables of Scrumy Tasks (SPEC "Data"), as SQLAlchemy 2 typed models.

Duplicates are made impossible by the database itself, not only by the code that writes:
one token row per person and tool, one task per (team, meeting, item) and per (team,
idempotency key), one meeting per (team, meeting id), one installation per Slack workspace.

Columns whose name starts with `encrypted_` hold Fernet tokens from `storage.vault`, never
plain text; `storage.rotation` knows them all through `ENCRYPTED_COLUMNS`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from primitives.enums import Priority, ProviderName, RemoteStatus, RoutingMode, TaskState
from storage.types import StrEnumColumn, UTCDateTime

# Stable constraint names, so migrations can name what they alter on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The values each enum column may hold, for the CHECK constraints the migrations create.
PROVIDERS = tuple(p.value for p in ProviderName)
ROUTING_MODES = tuple(m.value for m in RoutingMode)
TASK_STATES = tuple(s.value for s in TaskState)
PRIORITIES = tuple(p.value for p in Priority)
REMOTE_STATUSES = tuple(s.value for s in RemoteStatus)
STATE_STEPS = ("sign_in", "confirm", "provider")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        # Enums are stored as their values; the lengths are those of the first migration.
        ProviderName: StrEnumColumn(ProviderName, 16),
        RoutingMode: StrEnumColumn(RoutingMode, 16),
        TaskState: StrEnumColumn(TaskState, 20),
        Priority: StrEnumColumn(Priority, 16),
        RemoteStatus: StrEnumColumn(RemoteStatus, 16),
        dict[str, Any]: JSON(),
    }


class Timestamps:
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UserAuthToken(Timestamps, Base):
    """One person's connection to one tool: encrypted tokens and what they reach."""

    __tablename__ = "user_auth_tokens"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "provider"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    provider: Mapped[ProviderName]
    encrypted_access_token: Mapped[str] = mapped_column(Text)
    encrypted_refresh_token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    scope: Mapped[str | None] = mapped_column(String(500))
    workspace_id: Mapped[str | None] = mapped_column(String(64))
    workspace_name: Mapped[str | None] = mapped_column(String(255))
    account_id: Mapped[str | None] = mapped_column(String(64))
    account_email: Mapped[str | None] = mapped_column(String(320))
    needs_reconnect: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set in the transaction that stores the connection, cleared once the person's waiting
    # tasks were routed (`routing.flush`): a flush the process did not live to run is found.
    flush_requested_at: Mapped[datetime | None]


class IntegrationPreference(Timestamps, Base):
    """How one person wants their tasks routed."""

    __tablename__ = "integration_preferences"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id"),
        CheckConstraint(_in("routing_mode", ROUTING_MODES), name="routing_mode"),
        CheckConstraint(
            f"default_provider IS NULL OR {_in('default_provider', PROVIDERS)}",
            name="default_provider",
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    routing_mode: Mapped[RoutingMode] = mapped_column(
        default=RoutingMode.SMART, server_default=RoutingMode.SMART.value
    )
    default_provider: Mapped[ProviderName | None]
    default_clickup_list_id: Mapped[str | None] = mapped_column(String(64))
    default_clickup_list_name: Mapped[str | None] = mapped_column(String(255))
    default_notion_database_id: Mapped[str | None] = mapped_column(String(64))
    default_notion_database_name: Mapped[str | None] = mapped_column(String(255))
    # "Let me review them first": a meeting's items for this person wait in `review` until
    # they create or dismiss each (`routing.review`); off, they are routed at once.
    review_first: Mapped[bool] = mapped_column(default=False, server_default=false())


MESSAGE_CLAIM = "pending:"


class Meeting(Timestamps, Base):
    """A meeting whose results the AI service posted; its items are tasks."""

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("team_id", "external_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    owner_user_id: Mapped[str | None] = mapped_column(String(32))
    owner_email: Mapped[str | None] = mapped_column(String(320))
    participants: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The Slack message that shows the meeting's results and is updated in place. While one
    # process posts it, `message_ts` holds `MESSAGE_CLAIM` and when it was claimed
    # ("pending:<unix seconds>"), so no other process posts it too (bot.meeting_store).
    message_channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    # The thread replies that continue a long meeting's message, in order (bot.views.meeting).
    message_reply_ts: Mapped[list[str] | None] = mapped_column(JSON)
    # Why the message could not be posted (Slack's error code, e.g. `not_in_channel`).
    message_error: Mapped[str | None] = mapped_column(String(255))

    @property
    def message_posted(self) -> bool:
        return self.message_ts is not None and not self.message_ts.startswith(MESSAGE_CLAIM)


class Task(Timestamps, Base):
    """An action item and its journey to a tool (SPEC "Task lifecycle").

    This is also the outbox the worker drains: a task is stored before anything is sent.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("team_id", "meeting_id", "item_id"),
        UniqueConstraint("team_id", "idempotency_key"),
        UniqueConstraint("marker"),
        CheckConstraint(_in("state", TASK_STATES), name="state"),
        CheckConstraint(f"priority IS NULL OR {_in('priority', PRIORITIES)}", name="priority"),
        CheckConstraint(f"provider IS NULL OR {_in('provider', PROVIDERS)}", name="provider"),
        CheckConstraint(_in("routing_mode", ROUTING_MODES), name="routing_mode"),
        # The worker's "due tasks" query: state in (queued, retrying) and next_attempt_at <= now.
        Index("ix_tasks_due", "state", "next_attempt_at"),
        # Rescuing expired leases: state = in_flight and lease_expires_at < now.
        Index("ix_tasks_lease", "state", "lease_expires_at"),
        # A person's pending tasks (flush after connecting, /tasks pending, the Home tab).
        Index("ix_tasks_owner_state", "team_id", "owner_user_id", "state"),
        # A tool's news about one of its tasks (webhooks, polling): `routing.remote_status`.
        Index("ix_tasks_provider_task", "provider", "provider_task_id"),
        CheckConstraint(
            f"remote_status IS NULL OR {_in('remote_status', REMOTE_STATUSES)}",
            name="remote_status",
        ),
        # The status poll: a tool's created tasks, the least recently checked first.
        Index("ix_tasks_status_poll", "state", "provider", "status_checked_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    meeting_id: Mapped[str | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[str | None] = mapped_column(String(255))
    # The item's place in its meeting (1, 2, …): the order the meeting message shows.
    position: Mapped[int | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # A hash of the request that made this task, to tell a repeat from a conflicting reuse.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    marker: Mapped[str] = mapped_column(String(64))

    owner_user_id: Mapped[str] = mapped_column(String(32))
    # The owner's IANA time zone (Slack's `tz`) when known at intake: a date-only due is sent
    # to ClickUp as an instant, which must fall on the intended day where the owner works.
    owner_time_zone: Mapped[str | None] = mapped_column(String(64))
    assignee_name: Mapped[str | None] = mapped_column(String(255))
    assignee_email: Mapped[str | None] = mapped_column(String(320))

    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    priority: Mapped[Priority | None]
    due_date: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime | None]
    project_name: Mapped[str | None] = mapped_column(String(255))

    routing_mode: Mapped[RoutingMode] = mapped_column(
        default=RoutingMode.SMART, server_default=RoutingMode.SMART.value
    )
    provider: Mapped[ProviderName | None]
    destination_id: Mapped[str | None] = mapped_column(String(64))
    destination_name: Mapped[str | None] = mapped_column(String(255))
    route_reason: Mapped[str | None] = mapped_column(Text)

    state: Mapped[TaskState]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    # Set before each request that may create the task (the earlier ones were looked up and
    # found to have created nothing): from then on a retry must first look the task up by
    # marker at the provider, over [first_sent_at, send_deadline].
    first_sent_at: Mapped[datetime | None]
    # The latest instant the last request that may create the task can still land at the
    # provider (its send time plus the HTTP client's total timeout). A task whose worker
    # vanished is looked up only after this has passed, never while a request may be in flight.
    send_deadline: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    provider_task_id: Mapped[str | None] = mapped_column(String(128))
    provider_task_url: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None]
    # Where the created task is in its tool (done, closed, deleted there), and when the tool
    # observed it: an older observation never overwrites a newer one (`routing.remote_status`).
    remote_status: Mapped[RemoteStatus | None]
    remote_status_at: Mapped[datetime | None]
    # When the status poll last read the task from its tool (`routing.status_poll`).
    status_checked_at: Mapped[datetime | None]


class ReviewMessage(Timestamps, Base):
    """One owner's review of one meeting's items: the direct message listing them (updated in
    place as they act) and its one reminder (`routing.review`, `bot.review_message`).

    While one process posts the message, `message_ts` holds `MESSAGE_CLAIM` and when it was
    claimed, as a meeting's message does.
    """

    __tablename__ = "review_messages"
    __table_args__ = (
        UniqueConstraint("meeting_id", "owner_user_id"),
        # The reminder sweep: reviews due a reminder and not yet reminded.
        Index("ix_review_messages_remind", "reminded_at", "remind_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    owner_user_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    remind_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]

    @property
    def message_posted(self) -> bool:
        return self.message_ts is not None and not self.message_ts.startswith(MESSAGE_CLAIM)


class SlackInstallation(Timestamps, Base):
    """The app installed in one Slack workspace (or org): its encrypted bot token."""

    __tablename__ = "slack_installations"
    # "" rather than NULL for absent ids, so the unique constraint also holds for them.
    __table_args__ = (UniqueConstraint("enterprise_id", "team_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    team_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    enterprise_name: Mapped[str | None] = mapped_column(String(255))
    team_name: Mapped[str | None] = mapped_column(String(255))
    app_id: Mapped[str | None] = mapped_column(String(32))
    is_enterprise_install: Mapped[bool] = mapped_column(default=False, server_default=false())
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    encrypted_bot_token: Mapped[str] = mapped_column(Text)
    encrypted_bot_refresh_token: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None]
    bot_scopes: Mapped[str | None] = mapped_column(Text)
    installer_user_id: Mapped[str | None] = mapped_column(String(32))
    encrypted_user_token: Mapped[str | None] = mapped_column(Text)
    user_scopes: Mapped[str | None] = mapped_column(Text)


class SlackInstallState(Base):
    """A pending "Add to Slack": the SHA-256 of the OAuth `state` Bolt sent to Slack's consent
    page. Taken once, within its ten minutes (`bot.installations.SlackOAuthStateStore`)."""

    __tablename__ = "slack_install_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class OAuthState(Base):
    """One step of a pending connect flow. Only the hash of the state, of the browser cookie
    and of the connect link is kept.

    `step` is what the state may be spent on: `sign_in` (Sign in with Slack came back),
    `confirm` (the person pressed the button of a confirmation page) or `provider` (the tool's
    consent came back). A flow's first step also counts towards the person's start limit.
    """

    __tablename__ = "oauth_states"
    __table_args__ = (
        UniqueConstraint("state_hash"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
        CheckConstraint(_in("step", STATE_STEPS), name="step"),
        Index("ix_oauth_states_person", "team_id", "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64))
    browser_hash: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    provider: Mapped[ProviderName]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    consumed_at: Mapped[datetime | None]
    step: Mapped[str] = mapped_column(String(16), default="provider", server_default="provider")
    link_hash: Mapped[str | None] = mapped_column(String(64))
    first_step: Mapped[bool] = mapped_column(default=False, server_default=false())


class SpentLink(Base):
    """A connect link that made a connection: it cannot be used again (kept past its expiry)."""

    __tablename__ = "spent_links"

    link_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    spent_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ApiKey(Base):
    """A key the AI service uses on the HTTP API, scoped to one team. Only its hash is kept."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("key_hash"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ProviderCatalog(Base):
    """The cached lists (ClickUp) or data sources (Notion) and members of one connection."""

    __tablename__ = "provider_catalog"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "provider"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    provider: Mapped[ProviderName]
    data: Mapped[dict[str, Any]]
    fetched_at: Mapped[datetime]


class WebhookDelivery(Base):
    """A verified delivery from a tool's webhook, stored before it is answered
    (`storage.webhook_inbox`). `delivery_key` names the event, not the delivery, so the same
    event delivered twice (a retry, or two webhooks of one workspace) is one row.

    `payload` is kept until the delivery was processed, then cleared; the row stays (until
    purged) so a replay of the same event is still recognised.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("provider", "delivery_key"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
        # Deliveries left unprocessed (the process stopped after answering): oldest first.
        Index("ix_webhook_deliveries_pending", "processed_at", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider: Mapped[ProviderName]
    delivery_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any] | None]
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


class ToolWebhook(Timestamps, Base):
    """The webhook registered at a tool for one person's connection: its id there, its
    encrypted signing secret, and its health as the tool last reported it.

    A row without `remote_id` is a registration still to be made (`next_attempt_at`).
    """

    __tablename__ = "tool_webhooks"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "provider"),
        UniqueConstraint("provider", "remote_id"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    provider: Mapped[ProviderName]
    workspace_id: Mapped[str | None] = mapped_column(String(64))
    remote_id: Mapped[str | None] = mapped_column(String(128))
    endpoint: Mapped[str] = mapped_column(Text)
    encrypted_secret: Mapped[str | None] = mapped_column(Text)
    health: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookVerification(Base):
    """A verification token a tool sent to our webhook endpoint for the operator to confirm
    (Notion, once per subscription), encrypted; `scrumy notion-webhook-token` shows the
    newest. Kept apart from NOTION_WEBHOOK_VERIFICATION_TOKEN, which alone is trusted: the
    request that carries a token is unsigned, so anyone could send one."""

    __tablename__ = "webhook_verifications"
    __table_args__ = (CheckConstraint(_in("provider", PROVIDERS), name="provider"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider: Mapped[ProviderName]
    encrypted_token: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(index=True)


# Every encrypted column, by model: what key rotation must re-encrypt.
ENCRYPTED_COLUMNS: dict[Table, tuple[str, ...]] = {
    Base.metadata.tables[UserAuthToken.__tablename__]: (
        "encrypted_access_token",
        "encrypted_refresh_token",
    ),
    Base.metadata.tables[SlackInstallation.__tablename__]: (
        "encrypted_bot_token",
        "encrypted_bot_refresh_token",
        "encrypted_user_token",
    ),
    Base.metadata.tables[ToolWebhook.__tablename__]: ("encrypted_secret",),
    Base.metadata.tables[WebhookVerification.__tablename__]: ("encrypted_token",),
}
