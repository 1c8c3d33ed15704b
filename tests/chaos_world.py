"""One emulator for a run with `scrumy worker` processes: served on a socket, its owners'
accounts and the workers' settings, and what it holds at the end, counted by marker and by
title. Shared by the chaos test (`tests/routing/test_chaos.py`) and `bench/exactly_once.py`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from primitives.clock import SystemClock
from primitives.enums import ProviderName
from providers.base import OAuthTokens, Provider, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider
from providers.notion import NotionProvider
from providers.ratelimit import ConnectionRateLimiter
from sandbox.clickup import ClickUpSandbox, create_clickup_emulator, seed_demo_clickup
from sandbox.faults import FaultBook
from sandbox.notion import NotionSandbox, create_notion_emulator, seed_demo_notion
from sandbox.server import serve_app

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
APP_ID, APP_SECRET = "cid", "cs"  # the OAuth app at the emulator
MARKER = re.compile(r"mk_[A-Za-z0-9_-]{20}")  # `new_id("mk")`
UNLIMITED = 1_000_000_000.0


class ChaosWorld:
    """`notion_rate` and `notion_burst` are the Notion emulator's limits (None: Notion's own
    burst); `client_pace` is (rate, burst) of the Notion client this process connects with."""

    def __init__(
        self,
        provider: ProviderName,
        faults: FaultBook,
        *,
        notion_rate: float = UNLIMITED,
        notion_burst: float | None = UNLIMITED,
        client_pace: tuple[float, float] = (1000.0, 1000.0),
    ) -> None:
        self.provider = provider
        self._client_pace = client_pace
        redirect = "http://x/cb"
        if provider is CLICKUP:
            self.clickup = ClickUpSandbox(rate_limit_per_minute=int(UNLIMITED), faults=faults)
            seed_demo_clickup(self.clickup, client_id=APP_ID, client_secret=APP_SECRET,
                              redirect_uri=redirect)  # fmt: skip
        else:
            limits: dict[str, Any] = {"requests_per_second": notion_rate}
            if notion_burst is not None:
                limits["burst"] = notion_burst
            self.notion = NotionSandbox(faults=faults, **limits)
            seed_demo_notion(self.notion, client_id=APP_ID, client_secret=APP_SECRET,
                             redirect_uri=redirect)  # fmt: skip

    @asynccontextmanager
    async def served(self, clock: SystemClock) -> AsyncIterator[str]:
        if self.provider is CLICKUP:
            app = create_clickup_emulator(self.clickup, clock=clock)
        else:
            app = create_notion_emulator(self.notion, clock=clock)
        async with serve_app(app) as url:
            yield url

    def client(self, http: httpx.AsyncClient, url: str, clock: SystemClock) -> Provider:
        """A client for this process (connecting reads the catalog)."""
        if self.provider is CLICKUP:
            limiter = ConnectionRateLimiter(clock, rate=1000, burst=1000)
            return ClickUpProvider(http, api_url=f"{url}/api", auth_url=f"{url}/api",
                                   client_id=APP_ID, client_secret=APP_SECRET, limiter=limiter,
                                   clock=clock)  # fmt: skip
        rate, burst = self._client_pace
        limiter = ConnectionRateLimiter(clock, rate=rate, burst=burst)
        return NotionProvider(http, api_url=url, client_id=APP_ID, client_secret=APP_SECRET,
                              limiter=limiter, clock=clock)  # fmt: skip

    def account(self, n: int = 0) -> ProviderAccount:
        """The account of owner `n`."""
        if self.provider is CLICKUP:
            token = self.clickup.issue_token(101 + n, ["9001"])
            return ProviderAccount(CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),))
        access, refresh = self.notion.issue_tokens(f"u-owner-{n}")
        return ProviderAccount(
            NOTION, OAuthTokens(access, refresh), (Workspace("ws-acme", "Acme"),)
        )

    def settings(self, url: str) -> dict[str, str]:
        """The environment a `scrumy worker` process needs to reach this emulator."""
        if self.provider is CLICKUP:
            return {"CLICKUP_CLIENT_ID": APP_ID, "CLICKUP_CLIENT_SECRET": APP_SECRET,
                    "CLICKUP_API_URL": f"{url}/api", "CLICKUP_AUTH_URL": f"{url}/api"}  # fmt: skip
        return {"NOTION_CLIENT_ID": APP_ID, "NOTION_CLIENT_SECRET": APP_SECRET,
                "NOTION_API_URL": url}  # fmt: skip

    @property
    def requests(self) -> Counter[str]:
        return self.clickup.requests if self.provider is CLICKUP else self.notion.requests

    def created(self) -> tuple[Counter[str], Counter[str]]:
        """How many times each marker and each title exists at the emulator."""
        markers: Counter[str] = Counter()
        titles: Counter[str] = Counter()
        if self.provider is CLICKUP:
            for task in self.clickup.tasks.values():
                found = MARKER.search(task.get("markdown_description") or "")
                markers[found.group(0) if found else f"(none in {task['id']})"] += 1
                titles[task["name"]] += 1
        else:
            for page in self.notion.pages.values():
                markers[_notion_marker(page)] += 1
                titles[_notion_title(page)] += 1
        return markers, titles


def _notion_title(page: dict[str, Any]) -> str:
    for value in page["properties"].values():
        if isinstance(value, dict) and "title" in value:
            return "".join(part["text"]["content"] for part in value["title"])
    return ""


def _notion_marker(page: dict[str, Any]) -> str:
    text = "".join(
        part.get("text", {}).get("content", "")
        for block in page["children"]
        for part in block.get(block.get("type", ""), {}).get("rich_text", [])
    )
    found = MARKER.search(text)
    return found.group(0) if found else f"(no marker in page {page['id']})"
