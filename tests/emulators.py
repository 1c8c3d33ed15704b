"""The sandbox emulators in process: one `httpx.AsyncClient` reaches each of them by host name.

`httpx.ASGITransport` hands a request straight to the emulator's Starlette app, so there is no
socket to open and no uvicorn server to stop. A URL on any other host still goes over the
network, so a refused connection stays a real one. Where the socket is the point (the browser
and schemathesis through `served_sidecar`, the chaos run's worker processes) the emulators are
served by uvicorn with `sandbox.server` instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from starlette.applications import Starlette

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
