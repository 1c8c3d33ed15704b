"""The HTTP side of Scrumy Tasks, built from objects made once at start-up.

`create_sidecar` assembles the routes — connect pages (`/auth/…`), the task API (`/api/…`),
health, metrics and the OpenAPI document — and the error handling of `sidecar/errors.py`: an
API caller always gets the JSON error shape, a person in a browser always gets a page, nobody
gets a stack trace. The HTTP side reaches storage only through the stores it is given.
The Slack request handler is mounted through `extra_routes` in HTTP mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import Provider
from routing.utility import IntegrationUtility
from sidecar import pages
from sidecar.api import TaskApi
from sidecar.errors import EXCEPTION_HANDLERS
from sidecar.links import LinkSigner
from sidecar.metrics import CONTENT_TYPE, Metrics
from sidecar.oauth import ConnectFlow
from sidecar.openapi import build_openapi
from storage.api_keys import ApiKeyStore
from storage.engine import DatabaseUnavailable, check_connection
from storage.migrate import migration_state
from storage.oauth_states import OAuthStateStore


@dataclass(frozen=True)
class SidecarDeps:
    """Everything the HTTP side uses, built by the composition root."""

    utility: IntegrationUtility
    engine: AsyncEngine
    oauth_states: OAuthStateStore
    api_keys: ApiKeyStore
    providers: Mapping[ProviderName, Provider]
    links: LinkSigner
    clock: Clock
    metrics: Metrics
    base_url: str
    extra_routes: Sequence[BaseRoute] = field(default_factory=tuple)


def create_sidecar(deps: SidecarDeps) -> Starlette:
    connect = ConnectFlow(
        providers=deps.providers, links=deps.links, states=deps.oauth_states,
        utility=deps.utility, clock=deps.clock, base_url=deps.base_url,
    )  # fmt: skip
    api = TaskApi(utility=deps.utility, keys=deps.api_keys, clock=deps.clock)
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
        counts = await deps.utility.task_counts()
        return Response(deps.metrics.render(counts), media_type=CONTENT_TYPE)

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
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)
