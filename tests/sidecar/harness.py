"""The HTTP side wired as `scrumy serve` wires it, against the ClickUp and Notion emulators.

Only the Slack side is stood in for (a fixed workspace directory and a recording notifier):
the database, the vault, the providers and the emulators are the real ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from providers.base import Provider, ProviderName
from providers.catalog import CatalogCache
from providers.clickup import ClickUpProvider
from providers.notion import NotionProvider
from providers.ratelimit import ConnectionRateLimiter
from routing.utility import IntegrationUtility
from routing.worker import DispatchWorker
from sandbox.clickup import ClickUpSandbox, create_clickup_emulator, seed_demo_clickup
from sandbox.notion import NotionSandbox, create_notion_emulator, seed_demo_notion
from sandbox.server import serve_app
from scrumy.clock import FakeClock
from sidecar.app import SidecarDeps, create_sidecar
from sidecar.links import SIGNING_PURPOSE, LinkSigner
from sidecar.metrics import Metrics
from storage.api_keys import create_api_key
from storage.engine import create_engine, session_factory
from storage.vault import TokenVault, new_key
from tests.routing.fakes import RecordingNotifier, StaticDirectory

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


@contextlib.asynccontextmanager
async def running_sidecar(
    database_url: str, clock: FakeClock, base_url: str
) -> AsyncIterator[Harness]:
    """Everything the HTTP side needs, with `base_url` as its public address."""
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
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    vault = TokenVault([new_key()])
    directory = StaticDirectory(
        {
            TEAM: {ANA: "ana@acme.example", BO: "bo@acme.example"},
            OTHER_TEAM: {EVE: "eve@other.example"},
        }
    )
    notifier = RecordingNotifier()
    metrics = Metrics()
    async with (
        httpx.AsyncClient(timeout=10) as http,
        serve_app(create_clickup_emulator(clickup_world, clock=clock)) as clickup_url,
        serve_app(create_notion_emulator(notion_world, clock=clock)) as notion_url,
    ):
        providers: dict[ProviderName, Provider] = {
            ProviderName.CLICKUP: ClickUpProvider(
                http, api_url=f"{clickup_url}/api", auth_url=f"{clickup_url}/api",
                client_id=CLICKUP_ID, client_secret=CLICKUP_SECRET,
                limiter=ConnectionRateLimiter(clock, rate=100, burst=100), clock=clock,
            ),
            ProviderName.NOTION: NotionProvider(
                http, api_url=notion_url, client_id=NOTION_ID, client_secret=NOTION_SECRET,
                limiter=ConnectionRateLimiter(clock, rate=100, burst=100), clock=clock,
            ),
        }  # fmt: skip
        catalogs = CatalogCache(sessions, clock)
        links = LinkSigner(vault.derived_keys(SIGNING_PURPOSE), base_url=base_url, clock=clock)
        utility = IntegrationUtility(
            sessions=sessions, vault=vault, clock=clock, providers=providers,
            catalogs=catalogs, directory=directory, notifier=notifier, connect_links=links,
        )  # fmt: skip
        worker = DispatchWorker(
            sessions=sessions, vault=vault, clock=clock, providers=providers, catalogs=catalogs,
            notifier=notifier, observer=metrics,
        )  # fmt: skip
        deps = SidecarDeps(
            utility=utility, engine=engine, sessions=sessions, providers=providers,
            links=links, clock=clock, metrics=metrics, base_url=base_url,
        )  # fmt: skip
        app = create_sidecar(deps)
        try:
            yield Harness(
                app=app, deps=deps, base_url=base_url, clock=clock, utility=utility, worker=worker,
                links=links, metrics=metrics, vault=vault, clickup_world=clickup_world,
                notion_world=notion_world, clickup_url=clickup_url, notion_url=notion_url,
                notifier=notifier, sessions=sessions, database_url=database_url,
            )  # fmt: skip
        finally:
            await engine.dispose()


def browser_client(harness: Harness) -> httpx.AsyncClient:
    """A client that talks to the app in process, keeps cookies, and does not follow redirects."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app), base_url=harness.base_url
    )
