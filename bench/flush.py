"""The connect flush: one person with 1,000 and 10,000 waiting tasks connects ClickUp.

Each case runs in a process of its own (so its peak RSS is its own) against a fresh database:
a SQLite file, or a PostgreSQL database made for it at `BENCH_POSTGRES_URL` (default
`postgresql+asyncpg://postgres@127.0.0.1:5432/test`) and dropped after. The ClickUp emulator
answers in process (loopback only); the domain is built as the tests build it
(`tests/wiring.py`). The tasks wait in `pending_auth` (stored by intake, meetings of 1,000
items): 20 project names, a third of them matching a list, every fourth urgent, every fifth
with a 600-character description.

Measured, from the callback's start:
- answer: how long `connect_completed` takes to return — what the OAuth callback waits for
  before its page answers;
- flush: until the person's tasks were queued and announced (`tasks_flushed`);
- callbacks during the flush: another person's connect every 0.2 s while the flush runs — the
  answer time another callback sees (how many ran, the longest);
  (`--alone`: nobody else connects);
- peak RSS of the process (`resource.getrusage`), the intake of the tasks included.

Run: `make bench`, or `.venv/bin/python bench/flush.py [--backend sqlite|postgresql]
[--sizes 1000,10000]`. Stops by itself (each case at most 300 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-ins in tests/

from results import MISSED, Figure, record, verdict
from throwaway_db import POSTGRES, migrated_database

from primitives.clock import SystemClock
from primitives.enums import ProviderName, TaskState
from providers.base import OAuthTokens, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider, clickup_limiter
from sandbox.clickup import create_clickup_emulator
from storage.engine import create_engine, session_factory
from storage.models import Task
from tests.emulators import (
    CLICKUP_CLIENT_ID,
    CLICKUP_CLIENT_SECRET,
    CLICKUP_URL,
    demo_clickup,
    in_process_client,
)
from tests.fakes import RecordingNotifier, StaticDirectory
from tests.meetings import item, meeting
from tests.wiring import wire

MEETING_SIZE = 1_000
TEAM = "T1"
PROJECTS = [
    "Website Redesign", "Backlog", "webiste redesign", "Engineering Backlog", "Launch",
    "Hiring", "Q3 planning", "Docs", "Ops", "Support", "Billing", "Mobile", "Search",
    "Onboarding", "Security", "Data", "Infra", "Design system", "Sales", "Legal",
]  # fmt: skip
TARGET_SECONDS = 2.0  # 10k on PostgreSQL
TARGET_RSS_MB = 200.0


class TimedNotifier(RecordingNotifier):
    """Records, and notes when the flushing person's tasks were announced as queued."""

    def __init__(self, person: str) -> None:
        super().__init__()
        self.person = person
        self.flushed = asyncio.Event()

    async def tasks_flushed(self, team_id: str, user_id: str, task_ids: Sequence[str]) -> None:
        await super().tasks_flushed(team_id, user_id, task_ids)
        if user_id == self.person:
            self.flushed.set()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def connect(utility: Any, user_id: str, account: ProviderAccount) -> None:
    """The OAuth callback's part; before the flush ran in the background, it ran the flush."""
    try:
        await utility.connect_completed(
            team_id=TEAM, user_id=user_id, account=account, background=True
        )
    except TypeError:  # the code before this bench: the callback runs the flush itself
        await utility.connect_completed(team_id=TEAM, user_id=user_id, account=account)


async def run_case(backend: str, size: int, alone: bool) -> dict[str, Any]:
    clock = SystemClock()
    world = demo_clickup()
    async with AsyncExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="scrumy-flush-"))
        url = await stack.enter_async_context(migrated_database(backend, folder, name="flush"))
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        sessions = session_factory(engine)
        http = await stack.enter_async_context(
            in_process_client({CLICKUP_URL: create_clickup_emulator(world, clock=clock)})
        )
        clickup = ClickUpProvider(
            http, api_url=f"{CLICKUP_URL}/api", auth_url=f"{CLICKUP_URL}/api",
            client_id=CLICKUP_CLIENT_ID, client_secret=CLICKUP_CLIENT_SECRET,
            limiter=clickup_limiter(clock), clock=clock,
        )  # fmt: skip
        notifier = TimedNotifier("U1")
        members = {TEAM: {f"U{n}": f"p{n}@acme.example" for n in range(1, 200)}}
        utility = wire(
            sessions, clock, {ProviderName.CLICKUP: clickup}, notifier=notifier,
            directory=StaticDirectory(members),
        ).utility  # fmt: skip
        for first in range(0, size, MEETING_SIZE):
            items = [
                item(n, assignee={"slack_user_id": "U1"}, project_name=PROJECTS[n % 20],
                     priority="urgent" if n % 4 == 0 else "medium",
                     description="x" * 600 if n % 5 == 0 else "")
                for n in range(first, min(size, first + MEETING_SIZE))
            ]  # fmt: skip
            await utility.process_meeting(meeting(*items, meeting_id=f"m{first}", team_id=TEAM))
        notifier.changes.clear()

        def account(user: int) -> ProviderAccount:
            token = world.issue_token(user, ["9001"])
            return ProviderAccount(
                ProviderName.CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),)
            )

        async def callback(user_id: str, user: int) -> float:
            began = time.perf_counter()
            await connect(utility, user_id, account(user))
            return time.perf_counter() - began

        started = time.perf_counter()
        flushing = asyncio.create_task(callback("U1", 101))
        others: list[float] = []
        person = 2
        while alone is False and not notifier.flushed.is_set():
            others.append(await callback(f"U{person}", 102))
            person = person % 198 + 2
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(notifier.flushed.wait(), 0.2)
        await notifier.flushed.wait()
        flush = time.perf_counter() - started
        answer = await flushing
        settle = getattr(utility, "settle_flushes", None)
        if settle is not None:
            await settle()
        async with sessions() as session:
            queued = await session.scalar(
                select(func.count()).where(Task.state == TaskState.QUEUED.value)
            )
    return {
        "backend": backend, "size": size, "answer": answer, "flush": flush,
        "queued": int(queued or 0), "others": len(others),
        "others_max": max(others, default=0.0), "rss_mb": rss_mb(),
    }  # fmt: skip


def run_child(backend: str, size: int, alone: bool) -> dict[str, Any] | str:
    done = subprocess.run(
        [sys.executable, __file__, "--case", backend, str(size), *(["--alone"] if alone else [])],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return (done.stderr.strip().splitlines() or ["no output"])[-1]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


async def postgres_reachable() -> bool:
    engine = create_async_engine(POSTGRES)
    try:
        async with engine.connect():
            return True
    except Exception:
        return False
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", nargs=2, metavar=("BACKEND", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--alone", action="store_true", help="no other person connects meanwhile")
    args = parser.parse_args()
    if args.case:
        backend, size = args.case
        print(json.dumps(asyncio.run(run_case(backend, int(size), args.alone))), flush=True)
        return
    backends = args.backend or ["sqlite", "postgresql"]
    if "postgresql" in backends and not asyncio.run(postgres_reachable()):
        print(f"connect flush: PostgreSQL at {POSTGRES} cannot be reached; skipped")
        backends.remove("postgresql")
    sizes = [int(s) for s in args.sizes.split(",")]
    print("connect flush, one person, ClickUp (in-process emulator):")
    table = [
        "| database | waiting tasks | callback answers (ms) | flush (s) | tasks/s | another "
        "person connecting meanwhile: n, max (ms) | peak RSS (MB) | queued |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    print("\n".join(table))
    figures: list[Figure] = []
    for backend in backends:
        flushes: dict[int, float] = {}
        for size in sizes:
            result = run_child(backend, size, args.alone)
            if isinstance(result, str):
                table.append(f"| {backend} | {size:,} | failed: {result} |")
                print(table[-1])
                figures.append(Figure(f"{backend}, {size:,} waiting tasks: the flush ran",
                                      f"failed: {result}", target="runs", verdict=MISSED,
                                      correctness=True))  # fmt: skip
                continue
            flushes[size] = result["flush"]
            table.append(
                f"| {backend} | {size:,} | {result['answer'] * 1000:.1f} "
                f"| {result['flush']:.2f} | {size / result['flush']:,.0f} "
                f"| {result['others']}, {result['others_max'] * 1000:.1f} "
                f"| {result['rss_mb']:.0f} | {result['queued']:,} |"
            )
            print(table[-1], flush=True)
            what = f"{backend}, {size:,} waiting tasks"
            seconds = result["flush"]
            if backend == "postgresql" and size == 10_000:
                figures.append(Figure(f"{what}: flush", f"{seconds:.2f} s",
                                      target=f"< {TARGET_SECONDS:g} s",
                                      verdict=verdict(seconds < TARGET_SECONDS)))  # fmt: skip
            else:
                figures.append(Figure(f"{what}: flush", f"{seconds:.2f} s"))
            others = ""
            if result["others"]:
                others = (f"; another person's callback meanwhile: {result['others']}, longest "
                          f"{result['others_max'] * 1000:.1f} ms")  # fmt: skip
            figures += [
                Figure(f"{what}: the callback's answer while the flush runs",
                       f"{result['answer'] * 1000:.1f} ms{others}"),
                Figure(f"{what}: peak RSS", f"{result['rss_mb']:.0f} MB",
                       target=f"< {TARGET_RSS_MB:g} MB",
                       verdict=verdict(result["rss_mb"] < TARGET_RSS_MB)),
                Figure(f"{what}: tasks queued", f"{result['queued']:,}", target=f"{size:,}",
                       verdict=verdict(result["queued"] == size), correctness=True),
            ]  # fmt: skip
        if len(flushes) == 2 and min(flushes) * 10 == max(flushes):
            small, large = sorted(flushes)
            ratio = flushes[large] / flushes[small]
            print(f"{backend}: 10k/1k flush time ratio {ratio:.1f} (10.0 is linear)")
            figures.append(Figure(f"{backend}: linearity, flush at 10,000 ÷ flush at 1,000",
                                  f"{ratio:.1f}", target="<= 10 (linear or better)",
                                  verdict=verdict(ratio <= 10)))  # fmt: skip
    alone = "nobody else connecting" if args.alone else "another person connecting every 0.2 s"
    record(
        "flush", title="The connect flush",
        measured="one person with 1,000 and 10,000 tasks waiting connects ClickUp (the emulator "
        f"in process), each case a process of its own on a fresh database, {alone}; timed from "
        "the start of the OAuth callback's `connect_completed`",
        figures=figures, table=table,
    )  # fmt: skip


if __name__ == "__main__":
    main()
