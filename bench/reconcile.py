"""Calls per reconciled task at 10,000 tasks in one ClickUp list and one Notion data source.

The emulators run in process (httpx.ASGITransport: no socket, no network); each world is
seeded straight away with TASKS tasks written as our clients write them (`task_body`,
`page_body`), created at a steady rate (ClickUp 10 a second, e.g. several people sharing a list;
Notion 3 a second, one connection's average). Then some of them are looked up with
`find_tasks`, through the real clients, and the requests reaching the emulator are counted.

What is looked up:
- burst: 100 consecutive tasks from the middle of the run (an outage in which every answer was
  lost, or a worker's claimed tasks rescued after it died);
- scattered: every 50th task from the 2,500th, 100 in all (2% of the answers lost, spread
  over the run).

How: one at a time (a `find_tasks` call per task) or in batches of 20 consecutive lookups (one
call per batch, as a worker's claimed batch would be looked up). A lookup's window is
[sent - margin, sent + DEADLINE + margin]: DEADLINE is when the send can no longer land, the
margin is for clock skew. (Routing's call site used to pass [first send - 10 min, now + 10 min],
one at a time: 20-30 calls a task, docs/benchmarks.md; it no longer does.)
Run: `.venv/bin/python bench/reconcile.py` (also part of `make bench`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from results import Figure, record, verdict

from primitives.clock import SystemClock
from primitives.enums import ProviderName
from providers.base import Credentials, Destination, DestinationField, Lookup, Provider, TaskDraft
from providers.clickup import ClickUpProvider
from providers.clickup.mapping import task_body
from providers.notion import NotionProvider
from providers.notion.mapping import page_body
from providers.ratelimit import ConnectionRateLimiter
from sandbox.clickup import ClickUpSandbox, create_clickup_emulator
from sandbox.notion import NotionSandbox, create_notion_emulator

TASKS = 10_000
TARGET = 2.0  # calls a task looked up (issue 11)
BATCH = 20
DEADLINE = timedelta(seconds=30)
START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
UNUSED = "unused"  # the OAuth app's id and secret: no sign-in happens here
CLICKUP_URL = "http://clickup.bench"
NOTION_URL = "http://notion.bench"
LIST = Destination(ProviderName.CLICKUP, "l1", "Backlog", "9001", path=("Engineering",))
SOURCE = Destination(
    ProviderName.NOTION, "ds-tasks", "Tasks", "ws-bench",
    fields=(DestinationField("Name", "title"), DestinationField("Due", "date")),
)  # fmt: skip


@dataclass(frozen=True)
class Sent:
    marker: str
    title: str
    at: datetime


def draft(n: int) -> TaskDraft:
    return TaskDraft(
        title=f"Follow up on item {n}", marker=f"mk_bench{n:05d}", meeting_title="Stand-up",
        description=f"What was said about item {n}.\n\nAnd what comes next.",
    )  # fmt: skip


def seed_clickup(world: ClickUpSandbox, per_second: float) -> list[Sent]:
    world.add_user(101, "Ana", "ana@bench.example")
    world.add_team("9001", "Bench", [101])
    world.add_space("s1", "9001", "Engineering")
    world.add_list("l1", "Backlog", space_id="s1")
    sent = []
    for n in range(TASKS):
        at = START + timedelta(seconds=n / per_second)
        body = task_body(draft(n), LIST, [])
        world.store_task(
            "l1", body["name"], markdown=body["markdown_content"], creator_id=101,
            created_ms=int(at.timestamp() * 1000),
        )  # fmt: skip
        sent.append(Sent(draft(n).marker, draft(n).title, at))
    return sent


def seed_notion(world: NotionSandbox, per_second: float) -> list[Sent]:
    world.add_user("u-ana", "Ana", "ana@bench.example")
    world.add_data_source("ds-tasks", "Tasks", {"Name": {"type": "title"}, "Due": {"type": "date"}})
    sent = []
    for n in range(TASKS):
        at = START + timedelta(seconds=n / per_second)
        body, blocks = page_body(draft(n), SOURCE, [])
        world.store_page("ds-tasks", body["properties"], blocks, created=at)
        sent.append(Sent(draft(n).marker, draft(n).title, at))
    return sent


async def measure(
    provider: Provider,
    credentials: Credentials,
    destination: Destination,
    requests: RequestCount,
    lookups: Sequence[Lookup],
    batch: int,
) -> float:
    """Requests per looked-up task; every lookup must be found."""
    before = requests.total()
    for i in range(0, len(lookups), batch):
        chunk = lookups[i : i + batch]
        found = await provider.find_tasks(credentials, destination, chunk)
        missing = {lookup.marker for lookup in chunk} - set(found)
        assert not missing, f"not found: {sorted(missing)[:3]}"
    return (requests.total() - before) / len(lookups)


class RequestCount:
    """The requests an emulator's world has answered."""

    def __init__(self, world: ClickUpSandbox | NotionSandbox) -> None:
        self._world = world

    def total(self) -> int:
        return sum(self._world.requests.values())


def windowed(sent: Sequence[Sent], margin: timedelta) -> list[Lookup]:
    return [Lookup(s.marker, s.title, s.at - margin, s.at + DEADLINE + margin) for s in sent]


async def run_tool(
    name: str,
    provider: Provider,
    credentials: Credentials,
    destination: Destination,
    requests: RequestCount,
    sent: list[Sent],
    table: list[str],
    figures: list[Figure],
) -> None:
    burst = sent[5000:5100]
    scattered = sent[2500::50][:100]
    rows: list[tuple[str, int, list[Lookup]]] = []
    for margin in (timedelta(seconds=5), timedelta(seconds=60)):
        for batch in (1, BATCH):
            how = "one at a time" if batch == 1 else f"batches of {batch}"
            # One at a time costs more and tells no more on a larger sample: 40 tasks.
            size = 40 if batch == 1 else len(burst)
            for kind, tasks in (("burst", burst), ("scattered", scattered)):
                label = f"margin {margin.seconds} s, {how}: {kind}"
                rows.append((label, batch, windowed(tasks[:size], margin)))
    for label, batch, lookups in rows:
        started = time.perf_counter()
        per_task = await measure(provider, credentials, destination, requests, lookups, batch)
        elapsed = time.perf_counter() - started
        line = f"| {name} | {label} | {len(lookups)} | {per_task:.2f} | {elapsed:.1f} |"
        print(line, flush=True)
        table.append(line)
        if batch > 1:  # as the worker looks tasks up: together, the window of their sends
            figures.append(Figure(
                f"{name}: calls a task looked up, {label}", f"{per_task:.2f}",
                target="<= 2", verdict=verdict(per_task <= TARGET),
            ))  # fmt: skip


async def main() -> None:
    clock = SystemClock()
    unlimited = ConnectionRateLimiter(clock, rate=1e9, burst=1e9)
    clickup_world = ClickUpSandbox(rate_limit_per_minute=10**9)
    notion_world = NotionSandbox(requests_per_second=1e9, burst=1e9)
    clickup_sent = seed_clickup(clickup_world, per_second=10)
    notion_sent = seed_notion(notion_world, per_second=3)
    mounts = {
        CLICKUP_URL: httpx.ASGITransport(app=create_clickup_emulator(clickup_world, clock=clock)),
        NOTION_URL: httpx.ASGITransport(app=create_notion_emulator(notion_world, clock=clock)),
    }
    async with httpx.AsyncClient(mounts=mounts, timeout=30) as http:
        clickup = ClickUpProvider(
            http, api_url=f"{CLICKUP_URL}/api", auth_url=f"{CLICKUP_URL}/api", client_id=UNUSED,
            client_secret=UNUSED, limiter=unlimited, clock=clock,
        )  # fmt: skip
        notion = NotionProvider(
            http, api_url=NOTION_URL, client_id=UNUSED, client_secret=UNUSED,
            limiter=unlimited, clock=clock,
        )  # fmt: skip
        print(f"{TASKS:,} tasks in one list / data source (ClickUp 10 created a second, Notion 3);")
        print(f"window = [sent - margin, sent + {DEADLINE.seconds} s + margin]\n")
        table = [
            "| tool | lookups | tasks | calls a task | s |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        print("\n".join(table))
        figures: list[Figure] = []
        await run_tool(
            "ClickUp", clickup, Credentials("con_c", clickup_world.issue_token(101, ["9001"])),
            LIST, RequestCount(clickup_world), clickup_sent, table, figures,
        )  # fmt: skip
        await run_tool(
            "Notion", notion, Credentials("con_n", notion_world.issue_tokens("u-ana")[0]),
            SOURCE, RequestCount(notion_world), notion_sent, table, figures,
        )  # fmt: skip
    record(
        "reconcile", title="Finding tasks by marker at 10,000 tasks",
        measured=f"`find_tasks` through the real clients against the emulators in process, "
        f"{TASKS:,} tasks in one ClickUp list (10 created a second) and one Notion data source "
        "(3 a second); requests counted at the emulator, every lookup found",
        figures=figures, table=table,
    )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
