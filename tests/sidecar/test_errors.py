"""The HTTP side answers the domain's whole error tree through one handler (sidecar/errors.py)."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from routing.errors import (
    DirectoryUnavailable,
    ErrorCode,
    IdempotencyConflict,
    InvalidInput,
    NotAllowed,
    RoutingError,
    TaskNotFound,
    TeamNotServed,
    UnknownOwner,
)
from sidecar.errors import EXCEPTION_HANDLERS, STATUS

EVERY_ERROR: list[tuple[RoutingError, int]] = [
    (InvalidInput("action_items.0.title", "must not be empty"), 422),
    (UnknownOwner("owner", "U0NOPE is not a member of this Slack workspace"), 422),
    (TaskNotFound("tsk_x"), 404),
    (NotAllowed("tsk_x"), 403),
    (IdempotencyConflict("key-1"), 422),
    (DirectoryUnavailable("Slack is rate limiting us", retry_after=7), 503),
    (TeamNotServed("T0OTHER"), 403),
]


def test_every_code_has_a_status_and_every_branch_is_listed() -> None:
    assert set(STATUS) == set(ErrorCode)
    assert {type(error) for error, _ in EVERY_ERROR} == set(RoutingError.__subclasses__())


def app_raising(error: Exception) -> Starlette:
    async def fail(request: Request) -> Response:
        raise error

    return Starlette(
        routes=[Route("/api/thing", fail), Route("/auth/clickup/initiate", fail)],
        exception_handlers=EXCEPTION_HANDLERS,
    )


@pytest.mark.parametrize(("error", "status"), EVERY_ERROR, ids=lambda e: type(e).__name__)
async def test_an_api_caller_gets_the_code_message_and_field(
    error: RoutingError, status: int
) -> None:
    transport = httpx.ASGITransport(app=app_raising(error))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/api/thing")
    assert answer.status_code == status
    body = {"code": error.code.value, "message": error.message}
    if error.field is not None:
        body["field"] = error.field
    assert answer.json() == {"error": body}
    assert answer.headers["cache-control"] == "no-store"
    if isinstance(error, DirectoryUnavailable):
        assert answer.headers["retry-after"] == "7"


async def test_a_person_in_a_browser_gets_a_page_not_json() -> None:
    transport = httpx.ASGITransport(app=app_raising(TaskNotFound("tsk_x")))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/auth/clickup/initiate")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Traceback" not in page.text
