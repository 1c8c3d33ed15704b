"""The emulated Slack, ClickUp and Notion, and the real app, each on a free port of 127.0.0.1.

The app is built by `scrumy.web`'s own pieces in the order `scrumy serve` builds it (the
running services, the Slack Web API, the installed workspaces' bot tokens, the Slack notifier,
the directory, the web app, the worker), with settings an operator would write to point it at
the emulators (`SLACK_API_URL`, `CLICKUP_API_URL`, …) and a throwaway SQLite file. The only
difference from `scrumy serve` is the worker's timing (`DEMO_WORKER`): it polls and backs off
in fractions of a second, and abandons a create request after 1.5 s instead of 20.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import AnyHttpUrl, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from demo import world
from demo.world import Worlds, seed_worlds
from primitives.clock import SystemClock
from routing.dispatch import SendTiming
from routing.worker import WorkerConfig
from sandbox.clickup import create_clickup_emulator
from sandbox.notion import create_notion_emulator
from sandbox.notion_webhooks import NotionWebhookSender
from sandbox.server import bind_socket, serve_apps, socket_url
from sandbox.slack import create_slack_emulator
from scrumy.services import Services, running_services
from scrumy.settings import Settings
from scrumy.web import (
    WebApp,
    bot_tokens,
    build_web_app,
    slack_directory,
    slack_web_api,
    tell_slack,
)
from storage.vault import new_key

# Exactly-once does not depend on these numbers: a create that may have landed is looked up
# by its marker once its request can no longer land (`send.timeout` + `send.margin` after it
# was sent), whatever they are. The emulators answer in milliseconds and list a task as soon
# as it exists, so a second and a half and half a second leave a wide margin; the lease stays
# at `scrumy serve`'s 60 s.
DEMO_WORKER = WorkerConfig(
    poll_seconds=0.1,
    base_backoff=0.1,
    max_backoff=2.0,
    lease=timedelta(seconds=60),
    send=SendTiming(timeout=1.5, margin=0.5),
)


@dataclass(frozen=True)
class Urls:
    app: str
    slack: str
    clickup: str
    notion: str


@dataclass
class Stack:
    """Everything that runs: where it answers, the emulators' state, the app's services."""

    urls: Urls
    worlds: Worlds
    settings: Settings
    services: Services
    web: WebApp


class DemoSettings(Settings):
    """Settings made by the demo alone: the environment and `.env` are not read, so a
    person's real `SLACK_BOT_TOKEN` or `DATABASE_URL` never reaches the demo."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def demo_settings(urls: Urls, database: Path) -> Settings:
    """What an operator would set to run the app against the emulators, installable through
    Slack OAuth (so Sign in with Slack is on too)."""
    return DemoSettings(
        database_url=f"sqlite+aiosqlite:///{database}",
        app_base_url=AnyHttpUrl(urls.app),
        scrumy_encryption_keys=(SecretStr(new_key()),),
        slack_client_id=world.SLACK_CLIENT_ID,
        slack_client_secret=SecretStr(world.SLACK_CLIENT_SECRET),
        slack_signing_secret=SecretStr(world.SLACK_SIGNING_SECRET),
        slack_api_url=AnyHttpUrl(f"{urls.slack}/api/"),
        slack_auth_url=AnyHttpUrl(urls.slack),
        clickup_client_id=world.CLICKUP_CLIENT_ID,
        clickup_client_secret=SecretStr(world.CLICKUP_CLIENT_SECRET),
        clickup_api_url=AnyHttpUrl(f"{urls.clickup}/api"),
        clickup_auth_url=AnyHttpUrl(f"{urls.clickup}/api"),
        notion_client_id=world.NOTION_CLIENT_ID,
        notion_client_secret=SecretStr(world.NOTION_CLIENT_SECRET),
        notion_api_url=AnyHttpUrl(urls.notion),
        notion_webhook_verification_token=SecretStr(world.NOTION_WEBHOOK_TOKEN),
    )


async def subscribe_notion(worlds: Worlds, urls: Urls, sender: NotionWebhookSender) -> None:
    """The operator's one-time set-up of Notion's webhook: the subscription to our URL, the
    verification request Notion sends there (the app keeps the token for `scrumy
    notion-webhook-token`), and the token pasted back in Notion's Verify dialog."""
    book = worlds.notion.webhooks
    book.subscribe(f"{urls.app}/webhooks/notion", token=world.NOTION_WEBHOOK_TOKEN)
    [handshake] = await sender.deliver_due()
    if handshake.status != 200 or not book.verify(world.NOTION_WEBHOOK_TOKEN):
        raise RuntimeError(f"Notion's webhook verification was answered {handshake.status}")


@contextlib.asynccontextmanager
async def running_stack(
    directory: Path, *, worker: WorkerConfig = DEMO_WORKER, host: str = "127.0.0.1"
) -> AsyncIterator[Stack]:
    """The emulators and the app (HTTP mode, worker on), until the block exits; the database
    is `demo.db` in `directory`."""
    app_sock, slack_sock, clickup_sock, notion_sock = socks = tuple(
        bind_socket(host) for _ in range(4)
    )
    urls = Urls(*(socket_url(sock) for sock in socks))
    worlds = seed_worlds(urls.app)
    settings = demo_settings(urls, directory / "demo.db")
    async with (
        # ClickUp's and Notion's webhook deliveries, sent by the emulators as things change.
        httpx.AsyncClient(timeout=10) as deliveries,
        serve_apps(
            (create_slack_emulator(worlds.slack), slack_sock),
            (create_clickup_emulator(worlds.clickup), clickup_sock),
            (create_notion_emulator(worlds.notion), notion_sock),
        ),
        running_services(settings) as services,
    ):
        worlds.clickup.webhook_book.client = deliveries
        worlds.clickup.webhook_book.auto_deliver = True
        slack_api = slack_web_api(settings, services)
        tokens = await bot_tokens(settings, services, slack_api)
        notifier = tell_slack(settings, services, tokens)
        web = build_web_app(
            settings, services, slack_api=slack_api, tokens=tokens,
            directory=slack_directory(services, slack_api, tokens),
        )  # fmt: skip
        stop = asyncio.Event()
        dispatch = services.worker(worker, observer=web.deps.metrics)
        worker_task = asyncio.create_task(dispatch.run(services.signal, stop))
        notion_hooks = NotionWebhookSender(worlds.notion.webhooks, deliveries, SystemClock())
        sending = asyncio.Event()
        try:
            async with serve_apps((web.app, app_sock)):
                await subscribe_notion(worlds, urls, notion_hooks)
                notion_task = asyncio.create_task(notion_hooks.run(sending))
                try:
                    yield Stack(urls, worlds, settings, services, web)
                finally:
                    sending.set()
                    await notion_task
        finally:
            stop.set()
            services.signal.notify()
            worlds.clickup.webhook_book.auto_deliver = False
            await worlds.clickup.webhook_book.idle()
            if web.clickup_webhooks is not None:
                await web.clickup_webhooks.settle()
            with contextlib.suppress(asyncio.CancelledError):
                await worker_task
            await notifier.aclose()
