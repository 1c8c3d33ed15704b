"""The sandbox emulators in process: one `httpx.AsyncClient` reaches each of them by host name.

`httpx.ASGITransport` hands a request straight to the emulator's Starlette app, so there is no
socket to open and no uvicorn server to stop. A URL on any other host still goes over the
network, so a refused connection stays a real one. Where the socket is the point (the browser
and schemathesis through `served_sidecar`, the chaos run's worker processes) the emulators are
served by uvicorn with `sandbox.server` instead; so is Slack wherever the Slack Web API is
called, since slack_sdk's `AsyncWebClient` speaks aiohttp (the `slack_served` fixture, and
`slack_api` to call it as `scrumy serve` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import httpx
from starlette.applications import Starlette

from bot.slack_api import DEFAULT_MAX_WAIT, SlackWebApi
from bot.slack_client import slack_web_client
from primitives.clock import Clock
from sandbox.clickup import ClickUpSandbox, seed_demo_clickup
from sandbox.notion import NotionSandbox, seed_demo_notion
from sandbox.slack import SlackSandbox, seed_demo_slack

# Where each emulator answers in process; the clients are pointed here by their base URLs.
CLICKUP_URL = "http://clickup.test"
NOTION_URL = "http://notion.test"
SLACK_URL = "http://slack.test"

CLICKUP_CLIENT_ID = "clickup-client"
CLICKUP_CLIENT_SECRET = "clickup-secret-value"
CLICKUP_REDIRECT = "http://127.0.0.1:8000/auth/clickup/callback"

NOTION_CLIENT_ID = "notion-id"
NOTION_CLIENT_SECRET = "notion-secret"
NOTION_REDIRECT = "http://127.0.0.1:8000/auth/notion/callback"

SLACK_TEAM = "T0ACME"
SLACK_BOT_TOKEN = "xoxb-acme-bot"


def in_process_client(apps: Mapping[str, Starlette]) -> httpx.AsyncClient:
    """A client that sends requests for each base URL in `apps` to that app, in process."""
    mounts = {url: httpx.ASGITransport(app=app) for url, app in apps.items()}
    return httpx.AsyncClient(mounts=mounts, timeout=10)


def slack_api(
    slack_url: str, clock: Clock, *, max_wait: timedelta = DEFAULT_MAX_WAIT
) -> SlackWebApi:
    """The Slack Web API of the emulator served at `slack_url`, made as `scrumy serve` makes it
    (`scrumy.web.slack_web_api`), waiting on `clock`."""
    client = slack_web_client(f"{slack_url}/api", timeout=10, rate_limit_retries=0)
    return SlackWebApi(client, clock=clock, max_wait=max_wait)


def demo_clickup() -> ClickUpSandbox:
    """The demo ClickUp workspace (Acme: three lists, Ana, Bo and Cy) with our OAuth app."""
    world = ClickUpSandbox()
    seed_demo_clickup(
        world,
        client_id=CLICKUP_CLIENT_ID,
        client_secret=CLICKUP_CLIENT_SECRET,
        redirect_uri=CLICKUP_REDIRECT,
    )
    return world


def demo_notion() -> NotionSandbox:
    """The demo Notion workspace (two data sources, Ana, Bo and Cy) with our integration."""
    world = NotionSandbox()
    seed_demo_notion(
        world,
        client_id=NOTION_CLIENT_ID,
        client_secret=NOTION_CLIENT_SECRET,
        redirect_uri=NOTION_REDIRECT,
    )
    return world


def demo_slack() -> SlackSandbox:
    """The Acme Slack workspace with its bot token."""
    world = SlackSandbox()
    seed_demo_slack(world, team_id=SLACK_TEAM, bot_token=SLACK_BOT_TOKEN)
    return world
