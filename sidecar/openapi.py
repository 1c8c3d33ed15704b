"""`GET /openapi.json`: the API described (OpenAPI 3.1) from the same models that validate it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from routing.inputs import MeetingIn, TaskRequest
from sidecar.schemas import ErrorBody, MeetingOut, PreferencesIn, PreferencesOut, StatusOut, TaskOut

_REF = "#/components/schemas/{model}"

_ERRORS = {
    "400": "The body is not valid JSON.",
    "401": "No API key, or an unknown or revoked one.",
    "403": "The API key belongs to another Slack team (`wrong_team`), or to a Slack workspace "
    "this installation does not serve (`team_not_served`).",
    "404": "No such task (for this key's team).",
    "413": "The body is larger than 1 MiB.",
    "415": "The body is not application/json.",
    "422": "The input is not valid; `error.field` names what is wrong.",
    "503": "Slack could not tell who is in the workspace; try again after `Retry-After`.",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json_content(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _responses(ok: str, model: type[BaseModel], description: str, *errors: str) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": description, "content": _json_content(model)}}
    for status in ("401", *errors):
        responses[status] = {"description": _ERRORS[status], "content": _json_content(ErrorBody)}
    return responses


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": _json_content(model)}


def _path_param(name: str, pattern: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


_TEAM = _path_param("team_id", r"^[TE][A-Z0-9]{1,30}$", "The Slack team (workspace) id.")
_USER = _path_param("user_id", r"^[UW][A-Z0-9]{1,30}$", "The Slack user id.")
_WRITE_ERRORS = ("400", "403", "413", "415", "422")
_INTAKE_ERRORS = (*_WRITE_ERRORS, "503")


def build_openapi(*, server_url: str) -> dict[str, Any]:
    """The whole document; `server_url` is the public base URL."""
    _, top = models_json_schema(
        [
            (MeetingIn, "validation"),
            (TaskRequest, "validation"),
            (PreferencesIn, "validation"),
            (MeetingOut, "serialization"),
            (TaskOut, "serialization"),
            (StatusOut, "serialization"),
            (PreferencesOut, "serialization"),
            (ErrorBody, "serialization"),
        ],
        ref_template=_REF,
    )
    person = {"parameters": [_TEAM, _USER]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Scrumy Tasks API",
            "version": "1",
            "description": (
                "Turns a meeting's action items into ClickUp and Notion tasks for their owners. "
                "Every call needs `Authorization: Bearer <api key>` (`scrumy api-key create "
                "--team T`); a key reads and writes only its own Slack team."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "A Scrumy API key."}
            },
        },
        "paths": {
            "/api/meetings": {
                "post": {
                    "operationId": "postMeeting",
                    "summary": "Store a meeting's action items; one task per item, once.",
                    "requestBody": _body(MeetingIn),
                    "responses": _responses(
                        "202",
                        MeetingOut,
                        "Stored; tasks are created in the background.",
                        *_INTAKE_ERRORS,
                    ),
                }
            },
            "/api/tasks": {
                "post": {
                    "operationId": "postTask",
                    "summary": "One task for one person.",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Same key and body: the same task. Same key, another "
                            "body: 422 `idempotency_key_reused`.",
                            "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
                        }
                    ],
                    "requestBody": _body(TaskRequest),
                    "responses": _responses(
                        "202", TaskOut, "Stored; created in the background.", *_INTAKE_ERRORS
                    ),
                }
            },
            "/api/tasks/{task_id}": {
                "get": {
                    "operationId": "getTask",
                    "summary": "A task and its state.",
                    "parameters": [
                        _path_param("task_id", r"^[A-Za-z0-9_-]{1,64}$", "The task id.")
                    ],
                    "responses": _responses("200", TaskOut, "The task.", "403", "404", "422"),
                }
            },
            "/api/users/{team_id}/{user_id}/status": {
                **person,
                "get": {
                    "operationId": "getUserStatus",
                    "summary": "A person's connections and waiting tasks.",
                    "responses": _responses("200", StatusOut, "The status.", "403", "422"),
                },
            },
            "/api/users/{team_id}/{user_id}/preferences": {
                **person,
                "get": {
                    "operationId": "getPreferences",
                    "summary": "A person's routing preferences.",
                    "responses": _responses(
                        "200", PreferencesOut, "The preferences.", "403", "422"
                    ),
                },
                "put": {
                    "operationId": "putPreferences",
                    "summary": "Change a person's routing preferences (only the fields given).",
                    "requestBody": _body(PreferencesIn),
                    "responses": _responses(
                        "200", PreferencesOut, "The preferences now.", *_WRITE_ERRORS
                    ),
                },
            },
        },
    }
