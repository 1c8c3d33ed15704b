"""Chaos: worker processes on PostgreSQL against faulty emulators; nothing lost, nothing twice.

Each scenario creates a meeting's tasks with `scrumy worker` subprocesses while something goes
wrong, and must end with every task `created` exactly once at the emulator — counted there by
marker and by title — or `failed` with a reason and absent from the emulator:

- kill: 600 ClickUp tasks, 5xx, 429s, lost responses, and one worker SIGKILLed mid-run;
- slow provider: leases shorter than the provider's answers, more claimed than run at once;
- partition: one worker's link to the database is cut for a few seconds (through a TCP proxy)
  while it sends, and restored; the other worker reaches the database directly;
- failing lookups: lost responses, with 5xx on the listings that look tasks up;
- Notion: ten owners, lost responses, 5xx on creates and queries, and a kill.

The big versions of these runs belong to the benchmarks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import SystemClock
from primitives.enums import ProviderName, TaskState
from sandbox.faults import FaultBook, FaultKind
from storage.models import Task
from storage.vault import TokenVault, new_key
from tests.chaos_world import CLICKUP, NOTION, ChaosWorld
from tests.fakes import StaticDirectory
from tests.meetings import item, meeting
from tests.tcp_proxy import TcpProxy
from tests.wiring import wire

DEADLINE = float(os.environ.get("CHAOS_DEADLINE", "150"))  # seconds; a run takes a fraction
FAST_WORKER = ("--concurrency", "8", "--lease-seconds", "3", "--poll-seconds", "0.2",
               "--base-backoff", "0.05", "--send-timeout", "2",
               "--landing-margin", "0.5")  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    name: str
    provider: ProviderName
    tasks: int
    faults: Callable[[FaultBook], None]
    owners: int = 1
    worker_args: tuple[str, ...] = FAST_WORKER
    kill: bool = False  # SIGKILL one worker a quarter of the way, start another
    partition: float = 0.0  # seconds the first worker's database link is cut, a third of the way
    env: dict[str, str] = field(default_factory=dict)


def kill_faults(faults: FaultBook) -> None:
    faults.add(FaultKind.LATENCY, seconds=0.01, probability=0.2, times=None)
    faults.add(FaultKind.SERVER_ERROR, method="POST", path="/task", probability=0.05, times=None)
    faults.add(FaultKind.RATE_LIMIT, method="POST", path="/task", probability=0.01, times=None,
               seconds=1)  # fmt: skip
    faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/task", probability=0.05, times=None)


def slow_provider(faults: FaultBook) -> None:
    # Answers slower than the 1 s lease: a worker keeps its claimed tasks by renewing.
    faults.add(FaultKind.LATENCY, method="POST", path="/task", seconds=1.5, probability=0.3,
               times=None)  # fmt: skip
    faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/task", probability=0.05, times=None)


def lost_and_failing_lookups(faults: FaultBook) -> None:
    faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/task", probability=0.15, times=None)
    faults.add(FaultKind.SERVER_ERROR, method="GET", path="/task", probability=0.3, times=None)


def partition_faults(faults: FaultBook) -> None:
    faults.add(FaultKind.LATENCY, method="POST", path="/task", seconds=0.05, times=None)
    faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/task", probability=0.05, times=None)


def notion_faults(faults: FaultBook) -> None:
    faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/v1/pages", probability=0.1,
               times=None)  # fmt: skip
    faults.add(FaultKind.SERVER_ERROR, method="POST", path="/v1/pages", probability=0.05,
               times=None)  # fmt: skip
    faults.add(FaultKind.SERVER_ERROR, method="POST", path="/query", probability=0.2, times=None)


SCENARIOS = [
    Scenario("kill", CLICKUP, 600, kill_faults, kill=True),
    Scenario(
        "slow-provider",
        CLICKUP,
        120,
        slow_provider,
        worker_args=(
            "--concurrency",
            "4",
            "--batch-size",
            "16",
            "--lease-seconds",
            "1",
            "--poll-seconds",
            "0.2",
            "--base-backoff",
            "0.05",
            "--send-timeout",
            "4",
        ),
    ),
    Scenario(
        "partition",
        CLICKUP,
        300,
        partition_faults,
        partition=4.0,
        env={"DATABASE_TIMEOUT_SECONDS": "1"},
    ),
    Scenario("failing-lookups", CLICKUP, 150, lost_and_failing_lookups),
    Scenario("notion", NOTION, 200, notion_faults, owners=10, kill=True),
]


async def states(sessions: async_sessionmaker[AsyncSession]) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(select(Task.state, func.count()).group_by(Task.state))
        return Counter({state: int(n) for state, n in rows.all()})


async def start_worker(
    env: dict[str, str], log: Path, args: tuple[str, ...]
) -> asyncio.subprocess.Process:
    with log.open("ab") as output:  # a file, not a pipe: a full pipe would stall the worker
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scrumy", "worker", *args,
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=output,
        )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_workers_under_chaos_lose_and_duplicate_nothing(
    scenario: Scenario,
    backend: str,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    if backend != "postgresql":
        pytest.skip("several worker processes need PostgreSQL")
    clock = SystemClock()
    world = ChaosWorld(scenario.provider, FaultBook(seed=42))
    key = new_key()
    worker_log = tmp_path / "workers.log"
    owners = {f"U{n}": f"owner{n}@x.io" for n in range(1, scenario.owners + 1)}
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(world.served(clock))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        utility = wire(
            sessions, clock, {scenario.provider: world.client(http, url, clock)},
            directory=StaticDirectory({"T1": owners}), vault=TokenVault([key]),
        ).utility  # fmt: skip
        for n, user in enumerate(owners):
            await utility.connect_completed(team_id="T1", user_id=user, account=world.account(n))
        items = [
            item(n, assignee={"slack_user_id": f"U{1 + n % len(owners)}"})
            for n in range(scenario.tasks)
        ]
        await utility.process_meeting(meeting(*items, meeting_id="chaos", title="Chaos"))
        assert (await states(sessions))["queued"] == scenario.tasks
        scenario.faults(world_faults := _faults(world))

        proxy = TcpProxy(*_host_port(database_url))
        await stack.enter_async_context(proxy.running())
        env = {
            **os.environ, "DATABASE_URL": database_url, "SCRUMY_ENCRYPTION_KEYS": key,
            "LOG_LEVEL": "WARNING", **world.settings(url), **scenario.env,
        }  # fmt: skip
        behind_proxy = {
            **env,
            "DATABASE_URL": make_url(database_url)
            .set(port=proxy.port)
            .render_as_string(hide_password=False),
        }
        first_env = behind_proxy if scenario.partition else env
        args = scenario.worker_args
        workers = [
            await start_worker(first_env, worker_log, args),
            await start_worker(env, worker_log, args),
        ]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        killed = cut = False
        try:
            while loop.time() < deadline:
                counts = await states(sessions)
                if scenario.kill and not killed and counts["created"] >= scenario.tasks // 4:
                    workers[0].send_signal(signal.SIGKILL)
                    await workers[0].wait()
                    workers.append(await start_worker(env, worker_log, args))
                    killed = True
                if scenario.partition and not cut and counts["created"] >= scenario.tasks // 3:
                    proxy.cut()
                    await asyncio.sleep(scenario.partition)
                    proxy.restore()
                    cut = True
                if counts["created"] + counts["failed"] == scenario.tasks:
                    break
                await asyncio.sleep(0.25)
        finally:
            proxy.restore()
            for process in workers:
                if process.returncode is None:
                    process.terminate()
            for process in workers:
                await process.wait()
        said = worker_log.read_text(errors="replace")[-3000:]
        assert killed or not scenario.kill, f"no progress: {await states(sessions)}; {said}"
        assert cut or not scenario.partition, f"no progress: {await states(sessions)}; {said}"
        world_faults.clear()
        async with sessions() as session:
            rows = (await session.scalars(select(Task))).all()

    by_marker, by_title = world.created()
    assert all(n == 1 for n in by_marker.values()), "a task was created twice (by marker)"
    assert all(n == 1 for n in by_title.values()), "a task was created twice (by title)"
    ended = Counter(row.state for row in rows)
    assert ended[TaskState.CREATED] + ended[TaskState.FAILED] == scenario.tasks, (
        f"tasks did not end: {ended}; {said}"
    )
    for row in rows:
        if row.state == TaskState.CREATED:
            assert by_marker[row.marker] == 1 and by_title[row.title] == 1
        else:
            assert row.last_error, "failed without a reason"
            assert by_marker[row.marker] == 0, f"failed but exists: {row.last_error}"
    assert len(by_marker) == ended[TaskState.CREATED]


def _faults(world: ChaosWorld) -> FaultBook:
    return world.clickup.faults if world.provider is CLICKUP else world.notion.faults


def _host_port(database_url: str) -> tuple[str, int]:
    url = make_url(database_url)
    return url.host or "127.0.0.1", url.port or 5432
