"""`scrumy serve`: the HTTP side and (unless told otherwise) the dispatch worker, in one process.

Everything is built once here from the running services and passed down: the Slack Web API,
the Slack directory, the connect-link signer, the metrics, the utility, the Starlette app, the
worker. uvicorn serves the app in this event loop; SIGINT/SIGTERM stop the server and then the
worker, which finishes the tasks it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from dataclasses import dataclass

import uvicorn
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette

from bot.app import REDIRECT_PATH, SlackAppDeps, SlackInstalls, create_slack_app, slack_routes
from bot.directory import SingleWorkspace, SlackDirectory, TokenSource, team_of_token
from bot.installations import SlackInstallationStore, SlackOAuthStateStore, TokenRefresh
from bot.notifier import SlackNotifier, slack_notifier
from bot.people import SlackPeople
from bot.slack_api import SlackWebApi
from bot.slack_client import slack_web_client
from bot.socket_mode import SocketModeError, run_socket_mode
from primitives.enums import ProviderName
from providers.clickup import ClickUpProvider
from routing.clickup_webhooks import ClickUpWebhooks
from routing.errors import DirectoryUnavailable
from routing.owners import Directory
from routing.remote_status import RemoteStatuses
from routing.utility import IntegrationUtility
from routing.webhooks import WebhookReceiver
from routing.worker import WorkerConfig
from scrumy.services import Services
from scrumy.settings import Settings
from scrumy.startup import StartupError
from sidecar.app import SidecarDeps, create_sidecar
from sidecar.links import SIGNING_PURPOSE, LinkSigner
from sidecar.metrics import Metrics
from sidecar.slack_sign_in import SlackSignIn
from storage.api_keys import ApiKeyStore
from storage.oauth_states import OAuthStateStore
from storage.webhook_inbox import WebhookInbox

log = logging.getLogger(__name__)


@dataclass
class WebApp:
    app: Starlette
    deps: SidecarDeps  # what the app was built from: the utility, links, metrics, …
    slack: AsyncApp | None = None  # the Bolt app, where Slack is configured
    # ClickUp's webhooks (status flowing back), where ClickUp is configured: its upkeep runs
    # beside the worker (`keep_running`).
    clickup_webhooks: ClickUpWebhooks | None = None


def clickup_webhooks(settings: Settings, services: Services) -> ClickUpWebhooks | None:
    """ClickUp's webhooks at APP_BASE_URL/webhooks/clickup, telling `services.notifier` of
    the tasks finished in ClickUp; None where ClickUp is not configured."""
    client = services.providers.get(ProviderName.CLICKUP)
    if not isinstance(client, ClickUpProvider):
        return None
    storage = services.storage
    statuses = RemoteStatuses(
        sessions=storage.sessions, notifier=services.notifier, clock=services.clock
    )
    return ClickUpWebhooks(
        sessions=storage.sessions, vault=storage.vault, clock=services.clock, client=client,
        statuses=statuses, inbox=WebhookInbox(storage.sessions, services.clock),
        base_url=settings.base_url,
    )  # fmt: skip


def slack_web_api(settings: Settings, services: Services) -> SlackWebApi:
    """The Slack Web API that start-up (`bot_tokens`), the directory and the connect pages'
    names read through: one `AsyncWebClient` at SLACK_API_URL, paced by tier per workspace.
    Made once and shared, so all their calls count against one budget per workspace.

    Its client has no rate-limit retry handler, unlike the Bolt app's (`slack_app`):
    `SlackWebApi` waits out a 429 itself, on the services' clock and never past its
    `max_wait`, so an HTTP API request is answered 503 rather than held. Without a `session`
    the client opens and closes an aiohttp session per call: nothing is left to close at
    shutdown.
    """
    client = slack_web_client(str(settings.slack_api_url), rate_limit_retries=0)
    return SlackWebApi(client, clock=services.clock)


async def bot_tokens(settings: Settings, services: Services, slack_api: SlackWebApi) -> TokenSource:
    """A workspace's bot token: SLACK_BOT_TOKEN's, else the stored installation's.

    With SLACK_BOT_TOKEN, Slack is asked once here which workspace the token belongs to
    (`auth.test`): that workspace is the only one served, and a token Slack refuses stops
    start-up.
    """
    if settings.slack_bot_token is None and settings.slack_client_id is None:
        raise StartupError(
            "SLACK_BOT_TOKEN: not set (nor SLACK_CLIENT_ID/SLACK_CLIENT_SECRET); the app needs "
            "Slack to know who owns a task — try `scrumy demo` to see it without an account"
        )
    if settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
        try:
            team_id = await team_of_token(slack_api, token=token)
        except DirectoryUnavailable as error:
            raise StartupError(
                f"SLACK_BOT_TOKEN: cannot tell which Slack workspace it belongs to ({error})"
            ) from None
        log.info("Slack: the bot token serves the workspace %s, and only it", team_id)
        return SingleWorkspace(token, team_id)

    return installation_store(settings, services).bot_token


def installation_store(settings: Settings, services: Services) -> SlackInstallationStore:
    """The workspaces that installed the app through Slack OAuth, their tokens encrypted; a
    rotating token is refreshed here when our own calls need it before Bolt's next event."""
    storage = services.storage
    refresh = None
    if settings.slack_client_id is not None and settings.slack_client_secret is not None:
        refresh = TokenRefresh(
            slack_web_client(str(settings.slack_api_url)), settings.slack_client_id,
            settings.slack_client_secret.get_secret_value(),
        )  # fmt: skip
    return SlackInstallationStore(storage.sessions, storage.vault, services.clock, refresh=refresh)


def slack_directory(
    services: Services, slack_api: SlackWebApi, tokens: TokenSource
) -> SlackDirectory:
    """The directory over the Slack Web API, with the workspaces' bot tokens."""
    return SlackDirectory(slack_api, tokens=tokens, clock=services.clock)


def slack_sign_in(settings: Settings, services: Services) -> SlackSignIn | None:
    """Sign in with Slack when a Slack OAuth app is configured (else connect pages confirm)."""
    if settings.slack_client_id is None or settings.slack_client_secret is None:
        return None
    return SlackSignIn(
        slack_web_client(str(settings.slack_api_url)), client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        auth_url=str(settings.slack_auth_url), clock=services.clock,
    )  # fmt: skip


def slack_app(
    settings: Settings,
    services: Services,
    *,
    utility: IntegrationUtility,
    links: LinkSigner,
    socket_mode: bool = False,
) -> AsyncApp | None:
    """The Bolt app over the utility, or None where Slack is not configured.

    Over HTTP every request must carry Slack's signature, so the signing secret is required;
    over Socket Mode (`scrumy socket`) the app-level token is, and Slack signs nothing.
    """
    if settings.slack_bot_token is None and settings.slack_client_id is None:
        return None
    if socket_mode and settings.slack_app_token is None:
        raise StartupError(
            "SLACK_APP_TOKEN: not set; Socket Mode needs the app-level token (xapp-…, with "
            "connections:write) from Basic Information > App-Level Tokens"
        )
    if not socket_mode and settings.slack_signing_secret is None:
        raise StartupError(
            "SLACK_SIGNING_SECRET: not set; Slack's requests to /slack/events cannot be "
            "verified (Basic Information > App Credentials in the Slack app's settings)"
        )
    secret = None if socket_mode else settings.slack_signing_secret
    client = slack_web_client(str(settings.slack_api_url))
    installs = None
    if settings.slack_bot_token is None:
        assert settings.slack_client_id is not None and settings.slack_client_secret is not None
        installs = SlackInstalls(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            installation_store=installation_store(settings, services),
            state_store=SlackOAuthStateStore(services.storage.sessions, services.clock),
            redirect_uri=f"{settings.base_url}{REDIRECT_PATH}",
            authorization_url=f"{str(settings.slack_auth_url).rstrip('/')}/oauth/v2/authorize",
        )
    return create_slack_app(
        SlackAppDeps(
            utility=utility,
            client=client,
            clock=services.clock,
            signing_secret=secret.get_secret_value() if secret else None,
            tools=tuple(services.providers),
            links=links,
            bot_token=(
                settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
            ),
            installs=installs,
        )
    )


def build_web_app(
    settings: Settings,
    services: Services,
    *,
    slack_api: SlackWebApi,
    tokens: TokenSource,
    directory: Directory,
    socket_mode: bool = False,
) -> WebApp:
    """The HTTP app over the running services, the Slack Web API (`slack_web_api`), the
    workspaces' bot tokens (`bot_tokens`) and the Slack directory (`slack_directory`); with
    `socket_mode` Slack's requests come over Socket Mode and `/slack/events` is not served."""
    storage = services.storage
    links = LinkSigner(
        storage.vault.derived_keys(SIGNING_PURPOSE), base_url=settings.base_url,
        clock=services.clock,
    )  # fmt: skip
    metrics = Metrics()
    clickup_hooks = clickup_webhooks(settings, services)
    receivers: dict[ProviderName, WebhookReceiver] = {}
    if clickup_hooks is not None:
        receivers[ProviderName.CLICKUP] = clickup_hooks
    if ProviderName.NOTION in services.providers:
        receivers[ProviderName.NOTION] = services.notion_updates()
    utility = IntegrationUtility(
        sessions=storage.sessions, vault=storage.vault, clock=services.clock,
        providers=services.providers, catalogs=services.catalogs,
        directory=directory, notifier=services.notifier,
        wake=services.signal.notify, connect_links=links,
        connection_hooks=[clickup_hooks] if clickup_hooks else (),
        review_remind_after=settings.scrumy_review_remind_after,
    )  # fmt: skip
    slack = slack_app(settings, services, utility=utility, links=links, socket_mode=socket_mode)
    routes = (
        slack_routes(slack, on_ack=metrics.slack_acked, events=not socket_mode) if slack else ()
    )
    deps = SidecarDeps(
        extra_routes=routes,
        utility=utility, engine=storage.engine, oauth_states=OAuthStateStore(storage.sessions),
        api_keys=ApiKeyStore(storage.sessions),
        providers=services.providers, links=links, clock=services.clock, metrics=metrics,
        base_url=settings.base_url,
        people=SlackPeople(slack_api, tokens=tokens),
        sign_in=slack_sign_in(settings, services),
        metrics_token=(
            settings.metrics_token.get_secret_value() if settings.metrics_token else None
        ),
        webhooks=receivers,
    )  # fmt: skip
    return WebApp(create_sidecar(deps), deps, slack, clickup_hooks)


def tell_slack(settings: Settings, services: Services, tokens: TokenSource) -> SlackNotifier:
    """From now on, what happens to tasks is told in Slack (the meeting messages, direct
    messages) with each workspace's token, by this process's utility and worker alike."""
    notifier = slack_notifier(
        api_url=str(settings.slack_api_url), tokens=tokens, sessions=services.storage.sessions,
        clock=services.clock, tools=tuple(services.providers),
    )  # fmt: skip
    services.notifier = notifier
    return notifier


async def worker_notifier(settings: Settings, services: Services) -> SlackNotifier | None:
    """`scrumy worker`'s Slack notifier where Slack is configured (else changes are logged)."""
    if settings.slack_bot_token is None and settings.slack_client_id is None:
        return None
    tokens = await bot_tokens(settings, services, slack_web_api(settings, services))
    return tell_slack(settings, services, tokens)


def _exit_quietly_on_signals(server: uvicorn.Server) -> None:
    """Make SIGINT/SIGTERM a clean stop (exit 0) rather than death by the signal.

    uvicorn captures the signals while serving and raises them again afterwards against the
    handlers it found; these handlers only ask the server to exit.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: setattr(server, "should_exit", True))


async def serve(
    settings: Settings,
    services: Services,
    *,
    host: str,
    port: int,
    worker_config: WorkerConfig | None,
    socket_mode: bool = False,
) -> None:
    """Serve until stopped; `worker_config` None runs no worker (`--no-worker`); with
    `socket_mode` (`scrumy socket`) Slack is reached over Socket Mode beside the HTTP side."""
    slack_api = slack_web_api(settings, services)
    tokens = await bot_tokens(settings, services, slack_api)
    notifier = tell_slack(settings, services, tokens)
    directory = slack_directory(services, slack_api, tokens)
    web = build_web_app(
        settings, services, slack_api=slack_api, tokens=tokens, directory=directory,
        socket_mode=socket_mode,
    )  # fmt: skip
    config = uvicorn.Config(
        web.app, host=host, port=port, lifespan="off", log_config=None, access_log=False,
        server_header=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    stop = asyncio.Event()
    worker_task: asyncio.Task[None] | None = None
    socket_task: asyncio.Task[None] | None = None
    sweep_task: asyncio.Task[None] | None = None
    status_task: asyncio.Task[None] | None = None
    hooks_task: asyncio.Task[None] | None = None
    remind_task: asyncio.Task[None] | None = None
    if worker_config is not None:
        worker = services.worker(worker_config, observer=web.deps.metrics)
        worker_task = asyncio.create_task(worker.run(services.signal, stop))
        # Where a worker runs, connect flushes a process did not live to finish are run too.
        sweep_task = asyncio.create_task(web.deps.utility.keep_sweeping_flushes(stop))
        # And tasks' statuses at the tools: the poll, and Notion events left unprocessed.
        status_task = asyncio.create_task(services.follow_statuses(stop))
        # And ClickUp's webhooks are kept: registrations retried, deliveries left behind
        # processed, unhealthy webhooks registered again.
        if web.clickup_webhooks is not None:
            hooks_task = asyncio.create_task(web.clickup_webhooks.keep_running(stop))
        # And reviews left alone too long are reminded of, once (routing.review).
        remind_task = asyncio.create_task(web.deps.utility.keep_reminding_reviews(stop))
    if socket_mode and web.slack is not None and settings.slack_app_token is not None:
        connection = run_socket_mode(
            web.slack,
            app_token=settings.slack_app_token.get_secret_value(),
            api_url=str(settings.slack_api_url),
            stop=stop,
            on_ack=web.deps.metrics.slack_acked,
        )
        socket_task = asyncio.create_task(connection)
        # Slack refusing the app-level token ends the whole process, not only the socket.
        socket_task.add_done_callback(lambda _: setattr(server, "should_exit", True))
    log.info(
        "serving on http://%s:%d (public address %s)%s%s", host, port, settings.base_url,
        " with Slack over Socket Mode" if socket_task else "",
        "" if worker_task else " without a worker",
    )  # fmt: skip
    _exit_quietly_on_signals(server)
    try:
        await server.serve()
    finally:
        stop.set()
        services.signal.notify()
        # The server stopped answering: the flushes its callbacks started finish first.
        await web.deps.utility.settle_flushes()
        if web.clickup_webhooks is not None:
            await web.clickup_webhooks.settle()
        for sweeping in (hooks_task, sweep_task, status_task, remind_task):
            if sweeping is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeping
        if worker_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await worker_task
        await notifier.aclose()
    if socket_task is not None:
        try:
            await socket_task
        except SocketModeError as error:
            raise StartupError(f"SLACK_APP_TOKEN: {error}") from None
