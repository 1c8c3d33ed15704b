"""Socket Mode: the Slack app takes its events, commands and interactions over a WebSocket it
opens itself, instead of Slack posting them to `/slack/events`.

    await run_socket_mode(app, app_token="xapp-…", api_url="https://slack.com/api/", stop=stop,
                          on_ack=metrics.slack_acked)

Slack's side (docs.slack.dev "Using Socket Mode"): the app calls `apps.connections.open` with
its app-level token (`xapp-…`, scope `connections:write`) and connects to the `wss://` URL it
answers; Slack sends `hello`, then envelopes that the app acks by `envelope_id` within 3
seconds (a command's ack may carry the response), and now and then `disconnect`
(`refresh_requested`, `warning`), after which the app opens a new connection.

Bolt's `AsyncSocketModeHandler` (on slack_sdk's aiohttp `SocketModeClient`) does all that: it
hands each envelope to `app.async_dispatch` and sends the ack Bolt makes, and it reconnects on
`disconnect`, on a closed socket and when pings go unanswered. Its Web API client is made by
`bot.slack_client.slack_web_client(api_url)`, so `apps.connections.open` goes to
`SLACK_API_URL` (the emulator in tests and the demo). Requests over the socket are not signed:
the socket is authenticated by the token that opened it, and Bolt skips the signature check.

The first `apps.connections.open` is called here rather than by the SDK, which would log a
refusal and try again forever: a wrong token fails at start-up with `SocketModeRefused`
naming Slack's error code, never the token. A refusal later on (the token revoked while
running) is logged by the SDK, which keeps trying.

    SocketModeError      Socket Mode could not start
      SocketModeRefused  apps.connections.open answered ok: false (`error`: invalid_auth, …)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_client import slack_web_client

log = logging.getLogger(__name__)

# What to do about each refusal, in the words of the person starting the app.
_ADVICE = {
    "invalid_auth": "SLACK_APP_TOKEN is not a valid app-level token for this app",
    "not_allowed_token_type": "SLACK_APP_TOKEN must be an app-level token (xapp-…), "
    "not a bot or user token",
    "missing_scope": "the app-level token needs the connections:write scope",
    "not_authed": "no app-level token was sent",
}


class SocketModeError(Exception):
    """Socket Mode could not start."""


class SocketModeRefused(SocketModeError):
    """Slack refused to open a Socket Mode connection (`apps.connections.open`)."""

    def __init__(self, error: str) -> None:
        self.error = error
        advice = _ADVICE.get(error, "see docs.slack.dev apps.connections.open")
        super().__init__(f"Slack refused to open a Socket Mode connection ({error}): {advice}")


class _TimedHandler(AsyncSocketModeHandler):
    """Bolt's handler, telling `on_ack` how long each envelope took to be acked."""

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        web_client: AsyncWebClient,
        on_ack: Callable[[float], None] | None,
    ) -> None:
        super().__init__(app, app_token, web_client=web_client)
        self._on_ack = on_ack

    # Bolt's own handler narrows the base class's client type the same way.
    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        await super().handle(client, req)  # Bolt answers at the ack, the listener runs on
        if self._on_ack is not None:
            self._on_ack(time.perf_counter() - started)


async def run_socket_mode(
    app: AsyncApp,
    *,
    app_token: str,
    api_url: str,
    stop: asyncio.Event,
    on_ack: Callable[[float], None] | None = None,
) -> None:
    """Serve `app` over Socket Mode until `stop` is set, then close the connection; `on_ack`
    is told the seconds each envelope took to be acked (`scrumy_slack_ack_seconds`).

    Raises `SocketModeRefused` when Slack refuses the app-level token, `SocketModeError` when
    `api_url` cannot be reached at start-up.
    """
    web_client = slack_web_client(api_url)
    handler = _TimedHandler(app, app_token, web_client, on_ack)
    try:
        handler.client.wss_uri = await _first_url(web_client, app_token, api_url)
        # slack_bolt leaves these two unannotated.
        connecting = asyncio.ensure_future(handler.connect_async())  # type: ignore[no-untyped-call]
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if connecting.done():
                connecting.result()
                log.info("Socket Mode: connected to Slack")
            await stopping
        finally:
            for task in (connecting, stopping):
                task.cancel()
            await asyncio.gather(connecting, stopping, return_exceptions=True)
    finally:
        await _close(handler)
    log.info("Socket Mode: disconnected")


async def _first_url(web_client: AsyncWebClient, app_token: str, api_url: str) -> str:
    try:
        response = await web_client.apps_connections_open(app_token=app_token)
    except SlackApiError as error:
        raise SocketModeRefused(str(error.response.get("error", "unknown_error"))) from None
    except (aiohttp.ClientError, TimeoutError) as error:
        raise SocketModeError(
            f"Slack could not be reached at {api_url} to open a Socket Mode connection "
            f"({type(error).__name__})"
        ) from None
    return str(response["url"])


async def _close(handler: AsyncSocketModeHandler) -> None:
    """Close the socket and the SDK's session, and wait for its tasks to end, so nothing is
    left running when the event loop stops."""
    socket = handler.client
    with contextlib.suppress(aiohttp.ClientError, OSError):
        await handler.close_async()  # type: ignore[no-untyped-call]
    tasks = [socket.message_processor, socket.current_session_monitor, socket.message_receiver]
    await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
