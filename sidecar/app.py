"""The HTTP side of Scrumy Tasks, built from objects made once at start-up.

`create_sidecar` assembles the routes — connect pages (`/auth/…`), the task API (`/api/…`),
health, metrics and the OpenAPI document — and the error handling of `sidecar/errors.py`: an
API caller always gets the JSON error shape, a person in a browser always gets a page, nobody
gets a stack trace. The HTTP side reaches storage only through the stores it is given.
The Slack request handler is mounted through `extra_routes` in HTTP mode.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import Provider
from routing.people import People, UnnamedPeople
from routing.utility import IntegrationUtility
from routing.webhooks import WebhookReceiver
from sidecar import pages
from sidecar.api import TaskApi
from sidecar.errors import EXCEPTION_HANDLERS, error_response
from sidecar.links import LinkSigner
from sidecar.metrics import CONTENT_TYPE, Metrics, TaskCountCache
from sidecar.oauth import ConnectFlow
from sidecar.openapi import build_openapi
from sidecar.slack_sign_in import SlackSignIn
from sidecar.webhooks import webhook_routes
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
    # Who a Slack user is, for the confirmation page; ids only unless Slack is reachable.
    people: People = field(default_factory=UnnamedPeople)
    # Sign in with Slack, when a Slack OAuth app is configured; else the confirmation page.
    sign_in: SlackSignIn | None = None
    # When set, `/metrics` answers only `Authorization: Bearer <metrics_token>`.
    metrics_token: str | None = field(default=None, repr=False)
    # The tools' signed webhook deliveries, `POST /webhooks/{tool}` (`sidecar.webhooks`).
    webhooks: Mapping[ProviderName, WebhookReceiver] = field(default_factory=dict)


class NoSniff:
    """`X-Content-Type-Options: nosniff` on every answer (JSON included), so no browser ever
    reads one of ours as another type."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"x-content-type-options"
                ]
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_header)


def create_sidecar(deps: SidecarDeps) -> Starlette:
    connect = ConnectFlow(
        providers=deps.providers, links=deps.links, states=deps.oauth_states,
        utility=deps.utility, clock=deps.clock, base_url=deps.base_url, people=deps.people,
        sign_in=deps.sign_in,
    )  # fmt: skip
    task_counts = TaskCountCache(deps.utility.task_counts, deps.clock)
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
            if state.known and not state.is_current:
                problems["migrations"] = (
                    f"at {state.current or 'nothing'}, code needs {state.head}: "
                    "run `scrumy db upgrade`"
                )
        body: dict[str, Any] = {"status": "not ready" if problems else "ready"}
        if not problems and not state.known:
            # A newer release migrated the database while this process runs (a rolling
            # upgrade): migrations only add, so it keeps serving until it is replaced.
            body["note"] = (
                f"the database is at {state.current}, newer than this code ({state.head}): "
                "replace this process with the new release"
            )
        if problems:
            body["problems"] = problems
        return JSONResponse(body, 503 if problems else 200, {"Cache-Control": "no-store"})

    async def metrics(request: Request) -> Response:
        if deps.metrics_token is not None:
            scheme, _, secret = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                secret.strip().encode(), deps.metrics_token.encode()
            ):
                return error_response(401, "unauthorized", "send Authorization: Bearer <token>")
        counts = await task_counts.get()
        return Response(
            deps.metrics.render(counts), media_type=CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )  # fmt: skip

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
        *webhook_routes(deps.webhooks),
        *deps.extra_routes,
    ]
    return Starlette(
        routes=routes, exception_handlers=EXCEPTION_HANDLERS, middleware=[Middleware(NoSniff)]
    )
