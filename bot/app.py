"""The Slack app: a Bolt `AsyncApp` built from the services made at start-up, and its routes.

    create_slack_app(SlackAppDeps(...)) -> AsyncApp
    slack_routes(app, on_ack=metrics.slack_acked) -> [/slack/events, /slack/install, …]

There is no global app: `scrumy serve` and `scrumy socket` each build one here and hand it the
utility, the Slack client and the workspace tokens (one workspace's `SLACK_BOT_TOKEN`, or the
installation store of an app installed through Slack OAuth). The listeners live in
`bot.listeners`, one module per entry point; each is registered here.

Bolt checks every request's signature (v0 HMAC of the raw body with the signing secret,
rejecting a timestamp more than 5 minutes away) before any listener runs: a request that fails
it is answered 401 and nothing else happens. Listeners acknowledge first and work after the
ack (Bolt runs the rest of a listener after answering Slack), so Slack never waits on a
provider. A listener's error is logged by `_log_error` and never reaches Slack as a trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.installations import SlackInstallationStore, SlackOAuthStateStore
from bot.listeners import ListenerDeps, register_listeners
from bot.listeners.install_events import register_install_events
from bot.scopes import REQUIRED_BOT_SCOPES
from primitives.clock import Clock
from primitives.enums import ProviderName
from routing.results import ConnectLinks
from routing.utility import IntegrationUtility

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# What the app asks for when installed (manifest.yml lists the same; docs/slack-setup.md says
# why each is needed).
BOT_SCOPES = tuple(REQUIRED_BOT_SCOPES)


@dataclass(frozen=True)
class SlackInstalls:
    """Installable in many workspaces through Slack OAuth v2 (`SLACK_CLIENT_ID`/`SECRET`)."""

    client_id: str
    client_secret: str
    installation_store: SlackInstallationStore
    state_store: SlackOAuthStateStore
    redirect_uri: str  # APP_BASE_URL + /slack/oauth_redirect
    authorization_url: str  # Slack's consent page: https://slack.com/oauth/v2/authorize
    scopes: Sequence[str] = BOT_SCOPES


@dataclass(frozen=True)
class SlackAppDeps:
    """What the Slack app is built from; `bot_token` (one workspace) or `installs`."""

    utility: IntegrationUtility
    client: AsyncWebClient
    clock: Clock
    signing_secret: str | None  # None only over Socket Mode, where Slack signs nothing
    tools: Sequence[ProviderName]
    links: ConnectLinks | None = None
    bot_token: str | None = None
    installs: SlackInstalls | None = None


def create_slack_app(deps: SlackAppDeps) -> AsyncApp:
    """A Bolt app with every listener of Scrumy Tasks registered."""
    if (deps.bot_token is None) == (deps.installs is None):
        raise ValueError("the Slack app needs one workspace's bot token or an OAuth install")
    oauth: AsyncOAuthSettings | None = None
    if deps.installs is not None:
        installs = deps.installs
        oauth = AsyncOAuthSettings(
            client_id=installs.client_id,
            client_secret=installs.client_secret,
            scopes=list(installs.scopes),
            installation_store=installs.installation_store,
            installation_store_bot_only=True,
            state_store=installs.state_store,
            redirect_uri=installs.redirect_uri,
            install_path=INSTALL_PATH,
            # Straight to Slack's consent page: Bolt's own page only shows a button to it.
            install_page_rendering_enabled=False,
            redirect_uri_path=REDIRECT_PATH,
            authorization_url=installs.authorization_url,
        )
    app = AsyncApp(
        name="scrumy-tasks",
        logger=_bolt_logger(),
        signing_secret=deps.signing_secret,
        request_verification_enabled=deps.signing_secret is not None,
        client=deps.client,
        # Bolt's type says AuthorizeResult; None is what its callable authorize takes for
        # "not authorized" (it answers Slack without running a listener).
        authorize=cast(Any, _one_workspace(deps.bot_token, deps.client))
        if deps.bot_token
        else None,
        oauth_settings=oauth,
        # Given to the app too, not only to the OAuth settings: else Bolt refreshes rotating
        # tokens with a client of its own, aimed at slack.com whatever SLACK_API_URL says.
        installation_store=deps.installs.installation_store if deps.installs else None,
        installation_store_bot_only=True if oauth is not None else None,
        process_before_response=False,
    )
    app.error(_log_error)
    if deps.installs is not None:
        register_install_events(app, deps.installs.installation_store)
    register_listeners(app, ListenerDeps(deps.utility, deps.tools, deps.links, deps.clock))
    return app


class _NoTokenFromEnvironment(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns that the client
    we give it wins; that is what we want (our `authorize` passes the token), so the warning
    would only mislead an operator."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("scrumy.slack")
    if not any(isinstance(f, _NoTokenFromEnvironment) for f in logger.filters):
        logger.addFilter(_NoTokenFromEnvironment())
    return logger


def _one_workspace(
    token: str, client: AsyncWebClient
) -> Callable[..., Awaitable[AuthorizeResult | None]]:
    """Bolt's authorization for one workspace's `SLACK_BOT_TOKEN`: who the bot is comes from
    one `auth.test`, asked on the first request and kept (Bolt ignores the bot's own events by
    it). A request from any other workspace is not authorized."""
    known: list[AuthorizeResult] = []

    async def authorize(*, team_id: str | None = None, **_: Any) -> AuthorizeResult | None:
        if not known:
            answer = await client.auth_test(token=token)
            known.append(
                AuthorizeResult.from_auth_test_response(
                    auth_test_response=answer, bot_token=token, user_token=None
                )
            )
        if team_id is not None and team_id != known[0].team_id:
            # The token serves its own workspace only: a request from another (the app was
            # distributed, or a shared channel) is not acted on with this workspace's token.
            log.warning("a Slack request from workspace %s, which this app does not serve", team_id)
            return None
        return known[0]

    return authorize


async def _log_error(error: Exception, body: dict[str, Any]) -> None:
    """A listener failed after its ack: log what it was (never tokens) and move on."""
    kind = body.get("type") or body.get("command") or "request"
    log.error("a Slack %s failed: %s", kind, type(error).__name__, exc_info=error)


def slack_routes(
    app: AsyncApp, *, on_ack: Callable[[float], None] | None = None, events: bool = True
) -> list[BaseRoute]:
    """`/slack/events` for every signed request, and the install pages when installable.

    Bolt's Starlette handler serves the install pages by comparing the request's full path
    with the configured ones, so they are plain routes at those exact paths. `on_ack` is told
    how long each answer to Slack took (`scrumy_slack_ack_seconds`). Over Socket Mode
    (`events` False) Slack's requests come through the socket, and only the install pages are
    served over HTTP.
    """
    handler = AsyncSlackRequestHandler(app)

    async def answer(request: Request) -> Response:
        started = time.perf_counter()
        response = await handler.handle(request)
        if on_ack is not None:
            on_ack(time.perf_counter() - started)
        return response

    async def oauth(request: Request) -> Response:
        return await handler.handle(request)

    routes: list[BaseRoute] = [Route(EVENTS_PATH, answer, methods=["POST"])] if events else []
    if app.oauth_flow is not None:
        routes += [
            Route(INSTALL_PATH, oauth, methods=["GET"]),
            Route(REDIRECT_PATH, oauth, methods=["GET"]),
        ]
    return routes
