"""The HTTP side of Scrumy Tasks, built from objects made once at start-up.

`create_sidecar` assembles the routes — connect pages (`/auth/…`), the task API (`/api/…`),
health, metrics and the OpenAPI document — and the error handling: an API caller always gets
the JSON error shape, a person in a browser always gets a page, nobody gets a stack trace.
The Slack request handler is mounted through `extra_routes` in HTTP mode.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import Provider
from routing.utility import IntegrationUtility
from sidecar import pages
from sidecar.api import TaskApi, error_response
from sidecar.links import LinkSigner
from sidecar.metrics import CONTENT_TYPE, Metrics
from sidecar.oauth import ConnectFlow
from sidecar.openapi import build_openapi
from storage.engine import DatabaseUnavailable, check_connection
from storage.migrate import migration_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SidecarDeps:
    """Everything the HTTP side uses, built by the composition root."""

    utility: IntegrationUtility
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    providers: Mapping[ProviderName, Provider]
    links: LinkSigner
    clock: Clock
    metrics: Metrics
    base_url: str
    extra_routes: Sequence[BaseRoute] = field(default_factory=tuple)


def create_sidecar(deps: SidecarDeps) -> Starlette:
    connect = ConnectFlow(
        providers=deps.providers, links=deps.links, sessions=deps.sessions,
        utility=deps.utility, clock=deps.clock, base_url=deps.base_url,
    )  # fmt: skip
    api = TaskApi(utility=deps.utility, sessions=deps.sessions, clock=deps.clock)
    openapi = build_openapi(server_url=deps.base_url)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def readyz(request: Request) -> Response:
        problems: dict[str, str] = {}
        try:
            await check_connection(deps.engine)
        except DatabaseUnavailable:
            problems["database"] = "unreachable"
        else:
            state = await migration_state(deps.engine)
            if not state.is_current:
                problems["migrations"] = (
                    f"at {state.current or 'nothing'}, code needs {state.head}: "
                    "run `scrumy db upgrade`"
                )
        body: dict[str, Any] = {"status": "not ready" if problems else "ready"}
        if problems:
            body["problems"] = problems
        return JSONResponse(body, 503 if problems else 200, {"Cache-Control": "no-store"})

    async def metrics(request: Request) -> Response:
        return Response(await deps.metrics.render(deps.sessions), media_type=CONTENT_TYPE)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi)

    async def stylesheet(request: Request) -> Response:
        return pages.stylesheet_response()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route(pages.STYLESHEET_PATH, stylesheet, methods=["GET"]),
        *connect.routes(),
        *api.routes(),
        *deps.extra_routes,
    ]
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/auth/") or path == "/")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_json(request):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        response = error_response(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    return pages.page_response(pages.not_found(), exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Logged with its traceback for us; the caller sees a short, fixed message.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _wants_json(request):
        return error_response(500, "internal_error", "something went wrong on our side")
    return pages.page_response(pages.server_error(), 500)
