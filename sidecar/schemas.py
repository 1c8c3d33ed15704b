"""The JSON the HTTP API answers with, as pydantic models (they also make the OpenAPI document).

Request bodies are the domain's own input models (`routing.inputs`): one definition validates
the AI service's JSON and documents it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from primitives.enums import ProviderName, RemoteStatus, RoutingMode, TaskState
from routing.connections import AuthStatus, ConnectionStatus
from routing.preferences import DefaultDestination, PreferenceDetails
from routing.results import MeetingResult, TaskResult


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_Out):
    code: str = Field(description="A stable, machine-readable code, e.g. `invalid_input`.")
    message: str = Field(description="What is wrong, for a person.")
    field: str | None = Field(default=None, description="The input field at fault, if any.")


class ErrorBody(_Out):
    error: ErrorDetail


class ConnectUrls(_Out):
    clickup: str | None = None
    notion: str | None = None


class TaskOut(_Out):
    item_id: str | None = Field(description="The action item's id (meetings only).")
    task_id: str
    status: TaskState
    provider: ProviderName | None
    url: str | None = Field(description="The task in ClickUp or Notion, once created.")
    reason: str | None = Field(description="Why it went where it went, or why it waits.")
    owner_user_id: str = Field(description="The Slack user whose task it is.")
    title: str
    connect_urls: ConnectUrls | None = Field(
        default=None,
        description="Personal connect links (15 minutes) for the owner, when `pending_auth`.",
    )
    remote_status: RemoteStatus | None = Field(
        default=None,
        description=(
            "Where a `created` task is in its tool, as the tool last said (webhooks): `open`, "
            "`done`, `closed`, or `deleted` there; null until the tool said anything."
        ),
    )

    @classmethod
    def of(cls, result: TaskResult) -> TaskOut:
        links = None
        if result.connect_urls:
            links = ConnectUrls(**{p.value: url for p, url in result.connect_urls.items()})
        return cls(
            item_id=result.item_id,
            task_id=result.task_id,
            status=result.status,
            provider=result.provider,
            url=result.url,
            reason=result.reason,
            owner_user_id=result.owner_user_id,
            title=result.title,
            connect_urls=links,
            remote_status=result.remote_status,
        )


class SlackMessageOut(_Out):
    posted: bool = Field(
        description="True once the meeting's message is in its channel. False with no `error`: "
        "still on its way (the answer waits at most 2 s for Slack, which takes about one "
        "message a second per channel); the tasks are stored either way."
    )
    error: str | None = Field(
        default=None,
        description="Slack's reason the message could not be posted (e.g. `not_in_channel`: "
        "invite the app to the channel); the tasks are created all the same.",
    )


class MeetingOut(_Out):
    meeting_id: str
    duplicate: bool = Field(description="True when this meeting had been posted before.")
    items: list[TaskOut]
    slack: SlackMessageOut = Field(description="The meeting's message in Slack.")

    @classmethod
    def of(cls, result: MeetingResult) -> MeetingOut:
        return cls(
            meeting_id=result.meeting_id,
            duplicate=not result.created,
            items=[TaskOut.of(item) for item in result.items],
            slack=SlackMessageOut(posted=result.message_posted, error=result.message_error),
        )


class ConnectionOut(_Out):
    connected: bool
    needs_reconnect: bool
    workspace: str | None

    @classmethod
    def of(cls, status: ConnectionStatus) -> ConnectionOut:
        return cls(
            connected=status.connected,
            needs_reconnect=status.needs_reconnect,
            workspace=status.workspace,
        )


class StatusOut(_Out):
    clickup: ConnectionOut
    notion: ConnectionOut
    pending_tasks_count: int
    can_create_tasks: bool

    @classmethod
    def of(cls, status: AuthStatus) -> StatusOut:
        return cls(
            clickup=ConnectionOut.of(status.clickup),
            notion=ConnectionOut.of(status.notion),
            pending_tasks_count=status.pending_tasks_count,
            can_create_tasks=status.can_create_tasks,
        )


class DestinationOut(_Out):
    id: str
    name: str

    @classmethod
    def of(cls, destination: DefaultDestination | None) -> DestinationOut | None:
        return None if destination is None else cls(id=destination.id, name=destination.name)


class PreferencesOut(_Out):
    routing_mode: RoutingMode
    default_provider: ProviderName | None
    default_clickup_list: DestinationOut | None
    default_notion_database: DestinationOut | None
    review_first: bool = Field(
        description="A meeting's action items wait in `review` for the person to create them."
    )

    @classmethod
    def of(cls, details: PreferenceDetails) -> PreferencesOut:
        return cls(
            routing_mode=details.routing_mode,
            default_provider=details.default_provider,
            default_clickup_list=DestinationOut.of(details.default_clickup_list),
            default_notion_database=DestinationOut.of(details.default_notion_database),
            review_first=details.review_first,
        )


DestinationId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]


class PreferencesIn(BaseModel):
    """`PUT …/preferences`: only the fields given change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routing_mode: RoutingMode | None = None
    default_provider: ProviderName | None = None
    default_clickup_list_id: DestinationId | None = Field(
        default=None, description="One of the person's ClickUp lists (by id)."
    )
    default_notion_database_id: DestinationId | None = Field(
        default=None, description="One of the person's Notion databases (data source id)."
    )
    review_first: StrictBool | None = Field(
        default=None,
        description="true: hold a meeting's action items in `review` for the person to "
        "create, edit or dismiss first; false: create them at once.",
    )
