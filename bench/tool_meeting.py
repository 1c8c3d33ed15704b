"""One person's meeting sent to ClickUp or Notion by the real worker, counted at the emulator.

Shared by `bench/calls_per_task.py` and `bench/rate_limits.py`. Everything runs in one process:
a fresh SQLite file migrated to head, the routing domain wired as `scrumy` wires it
(`tests.wiring.wire`: the utility and a `DispatchWorker` with its default config), the product's
clients (`ClickUpProvider`, `NotionProvider`) with the product's limiters (`clickup_limiter`,
`notion_limiter`), and the emulator reached through `httpx.ASGITransport` (no socket).

Time is a `ScaledClock`: it runs `scale` times faster than the real one, for everything given a
clock — the emulator's rate-limit window or bucket, the client's limiter, the worker's waits,
leases and backoffs — so ClickUp's minute passes in 60 ÷ scale real seconds. Our own CPU time is
not scaled, so it weighs `scale` times more than it would: a figure on a scaled clock is an
upper bound of the real one.

The naive client (`naive_meeting`) is the original design's call pattern against the same
emulator, as a baseline: every item looks its destination up by name (ClickUp: the workspace's
spaces, then the space's lists; Notion: a search for the data source), then creates, one item
after the other; a 429 is waited out (`Retry-After`, or ClickUp's `X-RateLimit-Reset`) and sent
again.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-ins in tests/

from primitives.enums import ProviderName, TaskState
from providers.base import OAuthTokens, Provider, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider, clickup_limiter
from providers.notion import NotionProvider, notion_limiter
from sandbox.clickup import ClickUpSandbox, create_clickup_emulator, seed_demo_clickup
from sandbox.notion import NotionSandbox, create_notion_emulator, seed_demo_notion
from storage.engine import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Task
from tests.meetings import item, meeting
from tests.wiring import TEAM, wire

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
APP_ID, APP_SECRET = "bench-app", "bench-app-secret"
CLICKUP_URL = "http://clickup.bench"
NOTION_URL = "http://notion.bench"
OWNER = "U1"  # Ana in `tests.wiring.MEMBERS`; the emulators' demo worlds know her address
UNLIMITED = 10**9
START = datetime(2026, 1, 15, 9, 0, 0, 400_000, tzinfo=UTC)  # not on a whole second


class ScaledClock:
    """A `Clock` that runs `scale` times faster than real time, from `START`."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._origin = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._origin) * self.scale

    def now(self) -> datetime:
        return START + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)


@dataclass(frozen=True)
class Limits:
    """The emulator's limits: ClickUp's requests a minute per token, Notion's a second."""

    clickup_per_minute: int = 100
    notion_per_second: float = 3.0
    notion_burst: float = 10.0  # the emulator's default: Notion allows "some bursts"

    @classmethod
    def none(cls) -> Limits:
        return cls(UNLIMITED, float(UNLIMITED), float(UNLIMITED))


@dataclass(frozen=True)
class Run:
    """What one meeting cost at the emulator."""

    tool: ProviderName
    items: int
    created: int  # distinct tasks at the emulator
    connect_calls: int  # requests answered while connecting (the catalog read)
    meeting_calls: int  # requests answered from the meeting's intake to its last create
    refused: int  # 429s the emulator answered during the meeting
    seconds: float  # on the scaled clock, from intake to the last create
    real_seconds: float

    @property
    def calls_per_task(self) -> float:
        return self.meeting_calls / self.created if self.created else float("nan")

    @property
    def with_connect_per_task(self) -> float:
        total = self.connect_calls + self.meeting_calls
        return total / self.created if self.created else float("nan")


def worlds(limits: Limits) -> tuple[ClickUpSandbox, NotionSandbox]:
    clickup = ClickUpSandbox(rate_limit_per_minute=limits.clickup_per_minute)
    seed_demo_clickup(clickup, client_id=APP_ID, client_secret=APP_SECRET, redirect_uri="http://x")
    notion = NotionSandbox(requests_per_second=limits.notion_per_second, burst=limits.notion_burst)
    seed_demo_notion(notion, client_id=APP_ID, client_secret=APP_SECRET, redirect_uri="http://x")
    return clickup, notion


def answered(world: ClickUpSandbox | NotionSandbox) -> int:
    return sum(world.requests.values())


def refusals(world: ClickUpSandbox | NotionSandbox) -> int:
    if isinstance(world, ClickUpSandbox):
        return sum(world.throttled.values())
    return len(world.throttled)


def created(world: ClickUpSandbox | NotionSandbox) -> int:
    return len(world.tasks) if isinstance(world, ClickUpSandbox) else len(world.pages)


@asynccontextmanager
async def emulators(
    clickup: ClickUpSandbox, notion: NotionSandbox, clock: ScaledClock
) -> AsyncIterator[httpx.AsyncClient]:
    mounts = {
        CLICKUP_URL: httpx.ASGITransport(app=create_clickup_emulator(clickup, clock=clock)),
        NOTION_URL: httpx.ASGITransport(app=create_notion_emulator(notion, clock=clock)),
    }
    async with httpx.AsyncClient(mounts=mounts, timeout=30) as http:
        yield http


def product_client(tool: ProviderName, http: httpx.AsyncClient, clock: ScaledClock) -> Provider:
    """The client `scrumy` builds, with its own limiter (`scrumy.services.build_providers`)."""
    if tool is CLICKUP:
        return ClickUpProvider(
            http, api_url=f"{CLICKUP_URL}/api", auth_url=f"{CLICKUP_URL}/api", client_id=APP_ID,
            client_secret=APP_SECRET, limiter=clickup_limiter(clock), clock=clock,
        )  # fmt: skip
    return NotionProvider(
        http, api_url=NOTION_URL, client_id=APP_ID, client_secret=APP_SECRET,
        limiter=notion_limiter(clock), clock=clock,
    )  # fmt: skip


async def product_meeting(
    tool: ProviderName, items: int, limits: Limits, *, scale: float, deadline: float = 300.0
) -> Run:
    """Connect Ana to `tool`, store a meeting of `items` items she owns, and run the worker
    until every task is created (or `deadline` real seconds pass: then it raises)."""
    clock = ScaledClock(scale)
    clickup_world, notion_world = worlds(limits)
    world: ClickUpSandbox | NotionSandbox = clickup_world if tool is CLICKUP else notion_world
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{folder}/bench.db")
        await upgrade(engine)
        try:
            async with emulators(clickup_world, notion_world, clock) as http:
                wiring = wire(
                    session_factory(engine), clock, {tool: product_client(tool, http, clock)}
                )
                if tool is CLICKUP:
                    token, refresh = clickup_world.issue_token(101, ["9001"]), None
                    workspace = Workspace("9001", "Acme")
                else:
                    token, refresh = notion_world.issue_tokens("u-ana")
                    workspace = Workspace("ws-acme", "Acme")
                account = ProviderAccount(tool, OAuthTokens(token, refresh), (workspace,))
                await wiring.utility.connect_completed(team_id=TEAM, user_id=OWNER, account=account)
                connect_calls = answered(world)
                refused_before = refusals(world)
                began, real_began = clock.monotonic(), time.monotonic()
                result = await wiring.utility.process_meeting(
                    meeting(*(item(n) for n in range(items)), owner={"slack_user_id": OWNER})
                )
                assert {i.status for i in result.items} == {TaskState.QUEUED}, result.items
                while created(world) < items:
                    if time.monotonic() - real_began > deadline:
                        raise TimeoutError(f"{created(world)} of {items} created in {deadline} s")
                    if await wiring.worker.run_once() == 0:
                        await clock.sleep(await wiring.worker.next_wait())
                seconds, real_seconds = clock.monotonic() - began, time.monotonic() - real_began
                async with wiring.sessions() as session:
                    states = dict(
                        (
                            await session.execute(
                                select(Task.state, func.count()).group_by(Task.state)
                            )
                        ).all()
                    )
                assert states == {TaskState.CREATED.value: items}, states
                return Run(
                    tool, items, created(world), connect_calls,
                    answered(world) - connect_calls, refusals(world) - refused_before,
                    seconds, real_seconds,
                )  # fmt: skip
        finally:
            await engine.dispose()


async def naive_meeting(tool: ProviderName, items: int, limits: Limits, *, scale: float) -> Run:
    """The original design's call pattern: look the destination up by name for every item,
    then create; one item at a time; a 429 waited out and sent again."""
    clock = ScaledClock(scale)
    clickup_world, notion_world = worlds(limits)
    world: ClickUpSandbox | NotionSandbox = clickup_world if tool is CLICKUP else notion_world
    async with emulators(clickup_world, notion_world, clock) as http:
        if tool is CLICKUP:
            token = clickup_world.issue_token(101, ["9001"])
            headers = {"Authorization": f"Bearer {token}"}
            base = f"{CLICKUP_URL}/api/v2"
        else:
            token, _ = notion_world.issue_tokens("u-ana")
            headers = {"Authorization": f"Bearer {token}", "Notion-Version": "2025-09-03"}
            base = f"{NOTION_URL}/v1"

        async def call(method: str, path: str, body: Any = None) -> Any:
            while True:
                response = await http.request(method, base + path, json=body, headers=headers)
                if response.status_code != 429:
                    response.raise_for_status()
                    return response.json()
                wait = float(response.headers.get("Retry-After") or 0)
                reset = response.headers.get("X-RateLimit-Reset")
                if reset is not None:
                    wait = max(wait, float(reset) - clock.now().timestamp())
                await clock.sleep(max(wait, 0.1))

        began, real_began = clock.monotonic(), time.monotonic()
        for n in range(items):
            if tool is CLICKUP:
                spaces = await call("GET", "/team/9001/space")
                space = next(s for s in spaces["spaces"] if s["name"] == "Engineering")
                lists = await call("GET", f"/space/{space['id']}/list")
                backlog = next(x for x in lists["lists"] if x["name"] == "Backlog")
                task = {"name": f"Action {n}", "markdown_content": f"From the weekly sync {n}"}
                await call("POST", f"/list/{backlog['id']}/task", task)
            else:
                search = {"query": "Meeting Notes",
                          "filter": {"property": "object", "value": "data_source"}}  # fmt: skip
                found = await call("POST", "/search", search)
                source = next(s for s in found["results"]
                              if s["title"][0]["plain_text"] == "Meeting Notes")  # fmt: skip
                await call("POST", "/pages", {
                    "parent": {"type": "data_source_id", "data_source_id": source["id"]},
                    "properties": {"Task": {"title": [{"text": {"content": f"Action {n}"}}]}},
                })  # fmt: skip
        seconds, real_seconds = clock.monotonic() - began, time.monotonic() - real_began
    return Run(tool, items, created(world), 0, answered(world), refusals(world), seconds,
               real_seconds)  # fmt: skip
