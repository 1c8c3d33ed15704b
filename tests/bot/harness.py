"""The Slack app as `scrumy serve` builds it, with the Slack emulator on a real socket.

`slack_sdk`'s `AsyncWebClient` speaks aiohttp, which cannot reach an in-process ASGI app, so
Slack is served by uvicorn on 127.0.0.1; ClickUp and Notion answer in process. Requests from
Slack are really signed (`sandbox.slack_requests`) and sent to the app in process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import ASGIApp

from sandbox.clickup import create_clickup_emulator
from sandbox.notion import create_notion_emulator
from sandbox.server import bind_socket, serve_apps, socket_url
from sandbox.slack import create_slack_emulator
from sandbox.slack_requests import SlackBody, signed
from tests.emulators import CLICKUP_URL, NOTION_URL, in_process_client
from tests.fakes import FakeClock
from tests.sidecar.harness import SIGNING_SECRET, Harness, SlackSide, _sidecar, _worlds

BASE_URL = "http://127.0.0.1:8000"
EVENTS = "/slack/events"


@dataclass
class SlackHarness:
    """The app, its worlds, and a way to send it what Slack sends."""

    h: Harness
    client: httpx.AsyncClient  # reaches the app in process

    async def send(
        self,
        payload: SlackBody,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        headers: dict[str, str] | None = None,
        tamper: bool = False,
    ) -> httpx.Response:
        """POST `payload` to /slack/events signed as Slack signs it (now, unless `timestamp`)."""
        stamp = int(time.time()) if timestamp is None else timestamp
        signature = signed(secret, payload, stamp)
        body = payload.body + b" " if tamper else payload.body
        return await self.client.post(
            EVENTS, content=body, headers={**signature, **(headers or {})}
        )

    def calls(self, method: str) -> list[dict[str, Any]]:
        """The Web API calls the app made to the emulated Slack, in order."""
        return [c for c in self.h.slack_world.calls if c.get("method") == method]


@contextlib.asynccontextmanager
async def slack_harness(
    database_url: str,
    clock: FakeClock,
    *,
    slack: SlackSide = "recorded",
    served: bool = False,
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
) -> AsyncIterator[SlackHarness]:
    """The app at BASE_URL with Slack on a socket and ClickUp and Notion in process; `slack`
    says whether the app's Slack notifier is on, and how the app is installed
    (`tests.sidecar.harness._sidecar`). With `served` the app too is on a socket of
    127.0.0.1 and the client reaches it there, over real HTTP as Slack would; `wrap` puts a
    middleware around the served app (a bench timing it)."""
    slack_sock = bind_socket()
    slack_url = socket_url(slack_sock)
    app_sock = bind_socket() if served else None
    base_url = socket_url(app_sock) if app_sock is not None else BASE_URL
    clickup_world, notion_world, slack_world = worlds = _worlds(base_url)
    urls = (CLICKUP_URL, NOTION_URL, slack_url)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(
            serve_apps((create_slack_emulator(slack_world, clock=clock), slack_sock))
        )
        http = await stack.enter_async_context(
            in_process_client(
                {
                    CLICKUP_URL: create_clickup_emulator(clickup_world, clock=clock),
                    NOTION_URL: create_notion_emulator(notion_world, clock=clock),
                }
            )
        )
        h = await stack.enter_async_context(
            _sidecar(database_url, clock, base_url, http, worlds, urls, False, slack)
        )
        if app_sock is not None:
            served_app = wrap(h.app) if wrap is not None else h.app
            await stack.enter_async_context(serve_apps((served_app, app_sock)))
            client = httpx.AsyncClient(base_url=base_url, timeout=30)
        else:
            transport = httpx.ASGITransport(app=h.app)
            client = httpx.AsyncClient(transport=transport, base_url=base_url)
        yield SlackHarness(h, await stack.enter_async_context(client))
