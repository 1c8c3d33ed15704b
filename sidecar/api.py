"""The task API the AI service calls: a thin layer over `IntegrationUtility`.

Every call carries `Authorization: Bearer <api key>`; a key belongs to one Slack team and reads
or writes nothing of another (another team's task is simply "not found"). Bad input of any kind
is a 4xx with `{"error": {"code", "message", "field"?}}` — never a 500; the refusals of the
domain (`routing.errors`) are answered by the app's one handler for them (`sidecar/errors.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from primitives.clock import Clock
from primitives.enums import ProviderName
from routing.inputs import MeetingIn, TaskRequest, validate_input
from routing.utility import IntegrationUtility
from sidecar.bodies import MAX_BODY_BYTES, read_body
from sidecar.errors import ApiError
from sidecar.schemas import (
    MeetingOut,
    PreferencesIn,
    PreferencesOut,
    StatusOut,
    TaskOut,
)
from storage.api_keys import ApiKeyStore

_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{1,30}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,30}$")
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _json(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status, {"Cache-Control": "no-store"})


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request's JSON body; 413 past `limit` bytes (checked while reading, not only by
    Content-Length), 415 when it is not JSON, 400 when it does not parse."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    body = await read_body(request, limit)
    if body is None:
        raise ApiError(413, "body_too_large", f"the body is larger than {limit} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON (UTF-8)") from None


def _check(pattern: re.Pattern[str], value: str, field: str, what: str) -> str:
    # The whole value: `$` would also match before a final newline (`U0ADA%0A`).
    if not pattern.fullmatch(value):
        raise ApiError(422, "invalid_input", f"not a {what}", field=field)
    return value


Handler = Callable[[Request, str], Awaitable[Response]]


class TaskApi:
    """The `/api/…` routes."""

    def __init__(
        self,
        *,
        utility: IntegrationUtility,
        keys: ApiKeyStore,
        clock: Clock,
    ) -> None:
        self._utility = utility
        self._keys = keys
        self._clock = clock

    def routes(self) -> list[Route]:
        return [
            Route("/api/meetings", self._guard(self.post_meeting), methods=["POST"]),
            Route("/api/tasks", self._guard(self.post_task), methods=["POST"]),
            Route("/api/tasks/{task_id}", self._guard(self.get_task), methods=["GET"]),
            Route(
                "/api/users/{team_id}/{user_id}/status",
                self._guard(self.get_status),
                methods=["GET"],
            ),
            Route(
                "/api/users/{team_id}/{user_id}/preferences",
                self._guard(self.preferences),
                methods=["GET", "PUT"],
            ),
        ]

    def _guard(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Authenticate, then run `handler` with the key's team. Failures of any kind are
        answered by the app's exception handlers (`sidecar/errors.py`)."""

        async def endpoint(request: Request) -> Response:
            return await handler(request, await self._authenticate(request))

        return endpoint

    async def _authenticate(self, request: Request) -> str:
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <api key>")
        team_id = await self._keys.team_of(secret.strip(), now=self._clock.now())
        if team_id is None:
            raise ApiError(401, "unauthorized", "this API key is unknown or revoked")
        # A key made for a workspace the app does not serve reads and writes nothing.
        await self._utility.check_team(team_id)
        return team_id

    @staticmethod
    def _same_team(team_id: str, wanted: str) -> None:
        if wanted != team_id:
            raise ApiError(
                403, "wrong_team", "this API key belongs to another Slack team", field="team_id"
            )

    # --- handlers -------------------------------------------------------------------------------

    async def post_meeting(self, request: Request, team_id: str) -> Response:
        meeting = validate_input(MeetingIn, await read_json(request))
        self._same_team(team_id, meeting.team_id)
        result = await self._utility.process_meeting(meeting)
        return _json(MeetingOut.of(result), 202)

    async def post_task(self, request: Request, team_id: str) -> Response:
        key = request.headers.get("idempotency-key")
        if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
            raise ApiError(
                422, "invalid_input", "1 to 255 printable ASCII characters", field="Idempotency-Key"
            )
        task = validate_input(TaskRequest, await read_json(request))
        self._same_team(team_id, task.team_id)
        result = await self._utility.create_task(
            task.user, task.task, task.routing, team_id=task.team_id, idempotency_key=key
        )
        return _json(TaskOut.of(result), 202)

    async def get_task(self, request: Request, team_id: str) -> Response:
        task_id = _check(_TASK_ID, request.path_params["task_id"], "task_id", "task id")
        result = await self._utility.get_task(task_id, team_id=team_id)
        if result is None:
            raise ApiError(404, "not_found", "no task with this id", field="task_id")
        return _json(TaskOut.of(result))

    def _person(self, request: Request, team_id: str) -> str:
        wanted = _check(_TEAM_ID, request.path_params["team_id"], "team_id", "Slack team id")
        self._same_team(team_id, wanted)
        return _check(_USER_ID, request.path_params["user_id"], "user_id", "Slack user id")

    async def get_status(self, request: Request, team_id: str) -> Response:
        user_id = self._person(request, team_id)
        status = await self._utility.get_auth_status(user_id, team_id=team_id)
        return _json(StatusOut.of(status))

    async def preferences(self, request: Request, team_id: str) -> Response:
        user_id = self._person(request, team_id)
        if request.method == "PUT":
            change = validate_input(PreferencesIn, await read_json(request))
            # Check both destinations before changing anything: a refused PUT changes nothing.
            clickup_list = notion_database = None
            if change.default_clickup_list_id is not None:
                clickup_list = await self._utility.own_destination(
                    user_id, team_id=team_id, provider=ProviderName.CLICKUP,
                    destination_id=change.default_clickup_list_id,
                )  # fmt: skip
            if change.default_notion_database_id is not None:
                notion_database = await self._utility.own_destination(
                    user_id, team_id=team_id, provider=ProviderName.NOTION,
                    destination_id=change.default_notion_database_id,
                )  # fmt: skip
            await self._utility.set_preferences(
                user_id, team_id=team_id, routing_mode=change.routing_mode,
                default_provider=change.default_provider, default_clickup_list=clickup_list,
                default_notion_database=notion_database, review_first=change.review_first,
            )  # fmt: skip
        details = await self._utility.preference_details(user_id, team_id=team_id)
        return _json(PreferencesOut.of(details))
