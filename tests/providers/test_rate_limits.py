"""One person's big meeting against each tool's limit, as the emulators count it, on virtual time.

Fifty creates for one token, eight at a time as the worker sends them, each sent again when it
is refused with a 429 (a 429 creates nothing), over a network that takes 25 to 200 ms each way,
so requests overlap and arrive out of step. The emulators enforce the documented limits on
the same virtual clock as the clients (`tests.virtual_time`): ClickUp a fixed window a minute
per token whose reset is announced in whole seconds, Notion an average of three a second with
a burst. Target: at most one 429 per window, and the whole meeting in at most 1.10 x N / limit.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from primitives.enums import ProviderName
from providers.base import (
    Credentials,
    Destination,
    DestinationField,
    Provider,
    RateLimited,
    TaskDraft,
)
from providers.clickup import ClickUpProvider, clickup_limiter
from providers.notion import NotionProvider, notion_limiter
from sandbox.clickup import create_clickup_emulator
from sandbox.faults import Network
from sandbox.notion import create_notion_emulator
from tests.emulators import (
    CLICKUP_CLIENT_ID,
    CLICKUP_CLIENT_SECRET,
    CLICKUP_URL,
    NOTION_CLIENT_ID,
    NOTION_CLIENT_SECRET,
    NOTION_URL,
    demo_clickup,
    demo_notion,
    in_process_client,
)
from tests.virtual_time import LoopClock, run_in_virtual_time

ITEMS = 50  # the issue's meeting; ClickUp's 100 a minute gets 250, to cross windows too
CONCURRENCY = 8  # the worker's default
# Not on a whole second, so a reset announced in whole seconds is early, as it is in life.
START = datetime(2026, 1, 15, 9, 0, 0, 400_000, tzinfo=UTC)


@dataclass(frozen=True)
class Meeting:
    created: int
    refused: int  # 429s the client saw
    seconds: float  # on the virtual clock


async def send_meeting(
    provider: Provider, credentials: Credentials, destination: Destination, items: int = ITEMS
) -> Meeting:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONCURRENCY)
    refused = 0

    async def one(n: int) -> None:
        nonlocal refused
        async with gate:
            while True:
                try:
                    await provider.create_task(
                        credentials, destination, TaskDraft(f"Item {n}", f"scrumy:mk_{n:04d}")
                    )
                    return
                except RateLimited:
                    refused += 1  # nothing was created; the limiter holds the next try

    began = loop.time()
    await asyncio.gather(*(one(n) for n in range(items)))
    return Meeting(items, refused, loop.time() - began)


@pytest.mark.parametrize(("per_minute", "items"), [(20, ITEMS), (100, 5 * ITEMS)])
def test_clickup_a_big_meeting_keeps_to_the_window(per_minute: int, items: int) -> None:
    world = demo_clickup()
    world.rate_limit_per_minute = per_minute
    world.network = Network(0.025, 0.2, seed=per_minute)
    token = world.issue_token(101, ["9001"])

    async def main() -> Meeting:
        clock = LoopClock(START)
        async with in_process_client(
            {CLICKUP_URL: create_clickup_emulator(world, clock=clock)}
        ) as http:
            clickup = ClickUpProvider(
                http, api_url=f"{CLICKUP_URL}/api", auth_url=f"{CLICKUP_URL}/api",
                client_id=CLICKUP_CLIENT_ID, client_secret=CLICKUP_CLIENT_SECRET,
                limiter=clickup_limiter(clock), clock=clock,
            )  # fmt: skip
            destination = Destination(ProviderName.CLICKUP, "l1", "Backlog", "9001")
            credentials = Credentials("con_1", token, "9001")
            return await send_meeting(clickup, credentials, destination, items)

    meeting = run_in_virtual_time(main)
    assert len(world.tasks) == items  # each created once
    per_window = Counter({window: n for (_, window), n in world.throttled.items()})
    assert all(n <= 1 for n in per_window.values()), per_window
    ideal = items / (per_minute / 60)
    assert meeting.seconds <= 1.10 * ideal, (meeting, ideal)


@pytest.mark.parametrize("notion_burst", [3.0, 10.0])
def test_notion_a_big_meeting_keeps_under_three_a_second(notion_burst: float) -> None:
    world = demo_notion()
    world.burst = notion_burst  # Notion allows "some bursts"; how many, it does not say
    world.network = Network(0.025, 0.2, seed=int(notion_burst))
    access, _ = world.issue_tokens("u-ana")

    async def main() -> Meeting:
        clock = LoopClock(START)
        async with in_process_client(
            {NOTION_URL: create_notion_emulator(world, clock=clock)}
        ) as http:
            notion = NotionProvider(
                http, api_url=NOTION_URL, client_id=NOTION_CLIENT_ID,
                client_secret=NOTION_CLIENT_SECRET, limiter=notion_limiter(clock), clock=clock,
            )  # fmt: skip
            notes = Destination(
                ProviderName.NOTION, "ds-notes", "Meeting Notes", "ws-acme",
                fields=(DestinationField("Task", "title"),),
            )  # fmt: skip
            return await send_meeting(notion, Credentials("con_n", access, "ws-acme"), notes)

    meeting = run_in_virtual_time(main)
    assert len(world.pages) == ITEMS
    assert len(world.throttled) <= 1, world.throttled
    ideal = ITEMS / world.requests_per_second
    assert meeting.seconds <= 1.10 * ideal, (meeting, ideal)


def test_virtual_time_runs_sleepers_side_by_side() -> None:
    async def main() -> float:
        clock = LoopClock()
        began = clock.monotonic()
        await asyncio.gather(*(clock.sleep(30) for _ in range(10)))
        return clock.monotonic() - began

    assert run_in_virtual_time(main) == pytest.approx(30)
