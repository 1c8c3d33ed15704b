"""The HTTP side wired by `scrumy serve`'s own code, against the ClickUp, Notion and Slack
emulators (ClickUp and Notion in process, over loopback for the tests where the socket is the
point; Slack always over loopback, since the Slack Web API is called through slack_sdk's
aiohttp client).

Only the Slack side is stood in for (a fixed workspace directory and a recording notifier):
settings, storage, the vault, the providers and the emulators are the real ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import AnyHttpUrl, SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot.app import BOT_SCOPES
from bot.notifier import SlackNotifier
from primitives.enums import ProviderName
from routing.catalogs import CatalogCache
from routing.utility import IntegrationUtility
from routing.wake import LocalWakeSignal
from routing.worker import DispatchWorker
from sandbox.clickup import ClickUpSandbox, create_clickup_emulator, seed_demo_clickup
from sandbox.notion import NotionSandbox, create_notion_emulator, seed_demo_notion
from sandbox.server import bind_socket, serve_apps, socket_url
from sandbox.slack import SlackSandbox, create_slack_emulator, seed_demo_slack
from scrumy.services import Services, build_providers
from scrumy.settings import Settings
from scrumy.startup import open_storage
from scrumy.web import bot_tokens, build_web_app, slack_web_api, tell_slack
from sidecar.app import SidecarDeps
from sidecar.links import LinkSigner
from sidecar.metrics import Metrics
from storage.api_keys import create_api_key
from storage.vault import TokenVault, new_key
from tests.emulators import CLICKUP_URL, NOTION_URL, in_process_client
from tests.fakes import FakeClock, RecordingNotifier, StaticDirectory

TEAM = "T0ACME"
OTHER_TEAM = "T0OTHER"
ANA, BO, CAROL, EVE = "U0ANA", "U0BO", "U0CAROL", "U0EVE"
CLICKUP_ID, CLICKUP_SECRET = "clickup-app", "clickup-app-secret-7f3a"
NOTION_ID, NOTION_SECRET = "notion-app", "notion-app-secret-91c2"
SLACK_ID, SLACK_SECRET = "slack-app.1", "slack-app-secret-5d0e"
SLACK_BOT = "xoxb-acme-bot"
SIGNING_SECRET = "slack-signing-secret-3c9e"
# What the operator set as NOTION_WEBHOOK_VERIFICATION_TOKEN (Notion's subscription's token).
NOTION_WEBHOOK_TOKEN = "secret_notion-webhook-verification-0b7e4a"


@dataclass
class Harness:
    app: Starlette
    deps: SidecarDeps
    base_url: str
    clock: FakeClock
    utility: IntegrationUtility
    worker: DispatchWorker
    links: LinkSigner
    metrics: Metrics
    vault: TokenVault
    clickup_world: ClickUpSandbox
    notion_world: NotionSandbox
    slack_world: SlackSandbox
    clickup_url: str
    notion_url: str
    slack_url: str
    http: httpx.AsyncClient  # what the providers speak through; it reaches the emulators
    notifier: RecordingNotifier
    sessions: async_sessionmaker[AsyncSession]
    database_url: str
    told: SlackNotifier | None = None  # the Slack notifier, when Slack is told (`slack=`)

    def link(self, user_id: str, provider: ProviderName, team_id: str = TEAM) -> str:
        return self.links.url_for(team_id=team_id, user_id=user_id, provider=provider)

    async def api_key(self, team_id: str = TEAM) -> str:
        async with self.sessions() as session, session.begin():
            issued = await create_api_key(
                session, team_id=team_id, name="ai-service", now=self.clock.now()
            )
        return issued.secret


def _settings(
    database_url: str,
    base_url: str,
    clickup_url: str,
    notion_url: str,
    slack_url: str,
    *,
    sign_in: bool,
    bot_token: bool = True,
) -> Settings:
    """What an operator would set to point the app at the emulators: one workspace's bot
    token (unless not `bot_token`: installed through Slack OAuth), and with `sign_in` a Slack
    OAuth app too (Sign in with Slack, and installs)."""
    slack_app = (
        {"slack_client_id": SLACK_ID, "slack_client_secret": SecretStr(SLACK_SECRET)}
        if sign_in
        else {}
    )
    return Settings(
        **slack_app,  # type: ignore[arg-type]
        slack_bot_token=SecretStr(SLACK_BOT) if bot_token else None,
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=AnyHttpUrl(f"{slack_url}/api/"),
        slack_auth_url=AnyHttpUrl(slack_url),
        database_url=database_url,
        app_base_url=AnyHttpUrl(base_url),
        scrumy_encryption_keys=(SecretStr(new_key()),),
        clickup_client_id=CLICKUP_ID,
        clickup_client_secret=SecretStr(CLICKUP_SECRET),
        clickup_api_url=AnyHttpUrl(f"{clickup_url}/api"),
        clickup_auth_url=AnyHttpUrl(f"{clickup_url}/api"),
        notion_client_id=NOTION_ID,
        notion_client_secret=SecretStr(NOTION_SECRET),
        notion_api_url=AnyHttpUrl(notion_url),
        notion_webhook_verification_token=SecretStr(NOTION_WEBHOOK_TOKEN),
    )


Worlds = tuple[ClickUpSandbox, NotionSandbox, SlackSandbox]
SlackSide = Literal["recorded", "told", "installs"]


def _worlds(base_url: str) -> Worlds:
    """The demo worlds, with OAuth apps that send the browser back to `base_url`; Slack has
    Ana, Bo and Carol in Acme, and Eve in another workspace."""
    clickup_world = ClickUpSandbox()
    seed_demo_clickup(
        clickup_world, client_id=CLICKUP_ID, client_secret=CLICKUP_SECRET,
        redirect_uri=f"{base_url}/auth/clickup/callback",
    )  # fmt: skip
    notion_world = NotionSandbox()
    seed_demo_notion(
        notion_world, client_id=NOTION_ID, client_secret=NOTION_SECRET,
        redirect_uri=f"{base_url}/auth/notion/callback",
    )  # fmt: skip
    slack_world = SlackSandbox()
    seed_demo_slack(slack_world, team_id=TEAM, bot_token=SLACK_BOT)
    slack_world.add_user(TEAM, CAROL, "Carol Diaz", "carol@acme.example")
    slack_world.add_workspace(OTHER_TEAM, "xoxb-other-bot", "Other Corp")
    slack_world.add_user(OTHER_TEAM, EVE, "Eve Stone", "eve@other.example")
    slack_world.openid.add_app(SLACK_ID, SLACK_SECRET, f"{base_url}/auth/slack/callback")
    return clickup_world, notion_world, slack_world


@contextlib.asynccontextmanager
async def _sidecar(
    database_url: str,
    clock: FakeClock,
    base_url: str,
    http: httpx.AsyncClient,
    worlds: Worlds,
    emulator_urls: tuple[str, str, str],
    sign_in: bool,
    slack: SlackSide = "recorded",
) -> AsyncIterator[Harness]:
    """The app built by `scrumy serve`'s own code, its providers speaking through `http`.

    `slack`: "recorded" (a recording notifier stands in for Slack), "told" (the Slack notifier
    of `scrumy serve`, one workspace's bot token) or "installs" (the same, with the app
    installed in workspaces through Slack OAuth instead of a bot token)."""
    clickup_world, notion_world, slack_world = worlds
    clickup_url, notion_url, slack_url = emulator_urls
    directory = StaticDirectory(
        {
            TEAM: {ANA: "ana@acme.example", BO: "bo@acme.example"},
            OTHER_TEAM: {EVE: "eve@other.example"},
        }
    )
    notifier = RecordingNotifier()
    settings = _settings(
        database_url, base_url, clickup_url, notion_url, slack_url,
        sign_in=sign_in or slack == "installs", bot_token=slack != "installs",
    )  # fmt: skip
    if slack == "installs":
        slack_world.installs.add_app(
            SLACK_ID, SLACK_SECRET, f"{base_url}/slack/oauth_redirect", scopes=set(BOT_SCOPES)
        )
    storage = await open_storage(settings)
    services = Services(
        settings=settings, storage=storage, clock=clock, http=http,
        providers=build_providers(settings, http, clock),
        catalogs=CatalogCache(storage.sessions, clock), notifier=notifier,
        signal=LocalWakeSignal(),
    )  # fmt: skip
    try:
        slack_api = slack_web_api(settings, services)
        tokens = await bot_tokens(settings, services, slack_api)
        told = tell_slack(settings, services, tokens) if slack != "recorded" else None
        web = build_web_app(
            settings, services, slack_api=slack_api, tokens=tokens, directory=directory
        )
        deps = web.deps
        yield Harness(
            app=web.app, deps=deps, base_url=base_url, clock=clock, utility=deps.utility,
            worker=services.worker(observer=deps.metrics), links=deps.links,
            metrics=deps.metrics, vault=storage.vault, clickup_world=clickup_world,
            notion_world=notion_world, slack_world=slack_world, clickup_url=clickup_url,
            notion_url=notion_url, slack_url=slack_url,
            http=http, notifier=notifier, sessions=storage.sessions, database_url=database_url,
            told=told,
        )  # fmt: skip
        await deps.utility.settle_flushes()
        if web.clickup_webhooks is not None:
            await web.clickup_webhooks.settle()
        if told is not None:
            await told.aclose()
    finally:
        await storage.close()


@contextlib.asynccontextmanager
async def running_sidecar(
    database_url: str,
    clock: FakeClock,
    base_url: str,
    *,
    sign_in: bool = False,
    slack: SlackSide = "recorded",
) -> AsyncIterator[Harness]:
    """Everything the HTTP side needs, built by `scrumy serve`'s own code, at `base_url`; the
    ClickUp and Notion emulators answer in process at CLICKUP_URL and NOTION_URL
    (`tests.emulators`), Slack's on a free port of 127.0.0.1 (`Harness.slack_url`), where
    `http` reaches it too. `sign_in`: a Slack OAuth app is configured (Sign in with Slack),
    else the confirmation page. `slack` as `_sidecar` takes it."""
    clickup_world, notion_world, slack_world = worlds = _worlds(base_url)
    slack_sock = bind_socket()
    urls = (CLICKUP_URL, NOTION_URL, socket_url(slack_sock))
    async with (
        in_process_client(
            {
                CLICKUP_URL: create_clickup_emulator(clickup_world, clock=clock),
                NOTION_URL: create_notion_emulator(notion_world, clock=clock),
            }
        ) as http,
        # Served first: start-up asks Slack which workspace the bot token serves.
        serve_apps((create_slack_emulator(slack_world, clock=clock), slack_sock)),
        _sidecar(database_url, clock, base_url, http, worlds, urls, sign_in, slack) as h,
    ):
        yield h


@contextlib.asynccontextmanager
async def served_sidecar(
    database_url: str, clock: FakeClock, *, sign_in: bool = False
) -> AsyncIterator[Harness]:
    """`running_sidecar` over real sockets: the app and the three emulators served by uvicorn
    on free ports of 127.0.0.1, so a browser can follow every redirect."""
    socks = app_sock, clickup_sock, notion_sock, slack_sock = tuple(bind_socket() for _ in "abcd")
    base_url, clickup_url, notion_url, slack_url = map(socket_url, socks)
    clickup_world, notion_world, slack_world = worlds = _worlds(base_url)
    urls = (clickup_url, notion_url, slack_url)
    async with (
        httpx.AsyncClient(timeout=10) as http,
        serve_apps(  # first: start-up asks Slack which workspace the bot token serves
            (create_clickup_emulator(clickup_world, clock=clock), clickup_sock),
            (create_notion_emulator(notion_world, clock=clock), notion_sock),
            (create_slack_emulator(slack_world, clock=clock), slack_sock),
        ),
        _sidecar(database_url, clock, base_url, http, worlds, urls, sign_in) as h,
        serve_apps((h.app, app_sock)),
    ):
        yield h


def browser_client(harness: Harness) -> httpx.AsyncClient:
    """A client that talks to the app in process, keeps cookies, and does not follow redirects."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app), base_url=harness.base_url
    )
