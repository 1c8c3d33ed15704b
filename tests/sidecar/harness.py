"""The HTTP side wired by `scrumy serve`'s own code, against the ClickUp and Notion emulators
(in process; over loopback for the tests where the socket is the point).

Only the Slack side is stood in for (a fixed workspace directory and a recording notifier):
settings, storage, the vault, the providers and the emulators are the real ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from pydantic import AnyHttpUrl, SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from primitives.enums import ProviderName
from routing.catalogs import CatalogCache
from routing.utility import IntegrationUtility
from routing.wake import LocalWakeSignal
from routing.worker import DispatchWorker
from sandbox.clickup import ClickUpSandbox, create_clickup_emulator, seed_demo_clickup
from sandbox.notion import NotionSandbox, create_notion_emulator, seed_demo_notion
from sandbox.server import bind_socket, serve_apps, socket_url
from scrumy.services import Services, build_providers
from scrumy.settings import Settings
from scrumy.startup import open_storage
from scrumy.web import build_web_app
from sidecar.app import SidecarDeps
from sidecar.links import LinkSigner
from sidecar.metrics import Metrics
from storage.api_keys import create_api_key
from storage.vault import TokenVault, new_key
from tests.emulators import CLICKUP_URL, NOTION_URL, in_process_client
from tests.fakes import FakeClock, RecordingNotifier, StaticDirectory

TEAM = "T0ACME"
OTHER_TEAM = "T0OTHER"
ANA, BO, EVE = "U0ANA", "U0BO", "U0EVE"
CLICKUP_ID, CLICKUP_SECRET = "clickup-app", "clickup-app-secret-7f3a"
NOTION_ID, NOTION_SECRET = "notion-app", "notion-app-secret-91c2"


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
    clickup_url: str
    notion_url: str
    http: httpx.AsyncClient  # what the providers speak through; it reaches the emulators
    notifier: RecordingNotifier
    sessions: async_sessionmaker[AsyncSession]
    database_url: str

    def link(self, user_id: str, provider: ProviderName, team_id: str = TEAM) -> str:
        return self.links.url_for(team_id=team_id, user_id=user_id, provider=provider)

    async def api_key(self, team_id: str = TEAM) -> str:
        async with self.sessions() as session, session.begin():
            issued = await create_api_key(
                session, team_id=team_id, name="ai-service", now=self.clock.now()
            )
        return issued.secret


def _settings(database_url: str, base_url: str, clickup_url: str, notion_url: str) -> Settings:
    """What an operator would set to point the app at the emulators."""
    return Settings(
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
    )


def _worlds(base_url: str) -> tuple[ClickUpSandbox, NotionSandbox]:
    """The demo worlds, with OAuth apps that send the browser back to `base_url`."""
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
    return clickup_world, notion_world


@contextlib.asynccontextmanager
async def _sidecar(
    database_url: str,
    clock: FakeClock,
    base_url: str,
    http: httpx.AsyncClient,
    worlds: tuple[ClickUpSandbox, NotionSandbox],
    emulator_urls: tuple[str, str],
) -> AsyncIterator[Harness]:
    """The app built by `scrumy serve`'s own code, its providers speaking through `http`."""
    clickup_world, notion_world = worlds
    clickup_url, notion_url = emulator_urls
    directory = StaticDirectory(
        {
            TEAM: {ANA: "ana@acme.example", BO: "bo@acme.example"},
            OTHER_TEAM: {EVE: "eve@other.example"},
        }
    )
    notifier = RecordingNotifier()
    settings = _settings(database_url, base_url, clickup_url, notion_url)
    storage = await open_storage(settings)
    services = Services(
        settings=settings, storage=storage, clock=clock, http=http,
        providers=build_providers(settings, http, clock),
        catalogs=CatalogCache(storage.sessions, clock), notifier=notifier,
        signal=LocalWakeSignal(),
    )  # fmt: skip
    web = build_web_app(settings, services, directory=directory)
    deps = web.deps
    try:
        yield Harness(
            app=web.app, deps=deps, base_url=base_url, clock=clock, utility=deps.utility,
            worker=services.worker(observer=deps.metrics), links=deps.links,
            metrics=deps.metrics, vault=storage.vault, clickup_world=clickup_world,
            notion_world=notion_world, clickup_url=clickup_url, notion_url=notion_url,
            http=http, notifier=notifier, sessions=storage.sessions, database_url=database_url,
        )  # fmt: skip
    finally:
        await storage.close()


@contextlib.asynccontextmanager
async def running_sidecar(
    database_url: str, clock: FakeClock, base_url: str
) -> AsyncIterator[Harness]:
    """Everything the HTTP side needs, built by `scrumy serve`'s own code, at `base_url`; the
    emulators answer in process at CLICKUP_URL and NOTION_URL (`tests.emulators`)."""
    clickup_world, notion_world = worlds = _worlds(base_url)
    async with (
        in_process_client(
            {
                CLICKUP_URL: create_clickup_emulator(clickup_world, clock=clock),
                NOTION_URL: create_notion_emulator(notion_world, clock=clock),
            }
        ) as http,
        _sidecar(database_url, clock, base_url, http, worlds, (CLICKUP_URL, NOTION_URL)) as h,
    ):
        yield h


@contextlib.asynccontextmanager
async def served_sidecar(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    """`running_sidecar` over real sockets: the app and both emulators served by uvicorn on
    free ports of 127.0.0.1, so a browser can follow every redirect."""
    app_sock, clickup_sock, notion_sock = bind_socket(), bind_socket(), bind_socket()
    base_url, clickup_url, notion_url = map(socket_url, (app_sock, clickup_sock, notion_sock))
    clickup_world, notion_world = worlds = _worlds(base_url)
    async with (
        httpx.AsyncClient(timeout=10) as http,
        _sidecar(database_url, clock, base_url, http, worlds, (clickup_url, notion_url)) as h,
        serve_apps(
            (h.app, app_sock),
            (create_clickup_emulator(clickup_world, clock=clock), clickup_sock),
            (create_notion_emulator(notion_world, clock=clock), notion_sock),
        ),
    ):
        yield h


def browser_client(harness: Harness) -> httpx.AsyncClient:
    """A client that talks to the app in process, keeps cookies, and does not follow redirects."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app), base_url=harness.base_url
    )
