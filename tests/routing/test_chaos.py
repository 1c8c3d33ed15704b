"""Chaos: two worker processes on PostgreSQL, 1,000 tasks, a faulty ClickUp, one SIGKILL.

Every task must end `created` exactly once at the emulator (counted by marker) or `failed`
with a reason and absent from the emulator; none lost, none duplicated. The big version of
this run belongs to the benchmarks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import SystemClock
from primitives.enums import ProviderName, TaskState
from providers.base import OAuthTokens, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider
from providers.ratelimit import ConnectionRateLimiter
from sandbox.clickup import ClickUpSandbox, create_clickup_emulator, seed_demo_clickup
from sandbox.faults import FaultBook, FaultKind
from sandbox.server import serve_app
from storage.models import Task
from storage.vault import TokenVault, new_key
from tests.fakes import StaticDirectory
from tests.meetings import item, meeting
from tests.wiring import wire

TASKS = 1_000
DEADLINE = float(
    os.environ.get("CHAOS_DEADLINE", "150")
)  # seconds; the run normally takes a fraction of it


async def states(sessions: async_sessionmaker[AsyncSession]) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(select(Task.state, func.count()).group_by(Task.state))
        return Counter({state: int(n) for state, n in rows.all()})


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as output:  # a file, not a pipe: a full pipe would stall the worker
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scrumy", "worker", "--concurrency", "8", "--lease-seconds",
            "3", "--poll-seconds", "0.2", "--base-backoff", "0.05",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=output,
        )  # fmt: skip


@pytest.mark.slow
async def test_two_workers_a_kill_and_faults_lose_and_duplicate_nothing(
    backend: str, database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("several worker processes need PostgreSQL")
    clock = SystemClock()
    world = ClickUpSandbox(rate_limit_per_minute=1_000_000, faults=FaultBook(seed=42))
    seed_demo_clickup(world, client_id="cid", client_secret="csecret", redirect_uri="http://x/cb")
    key = new_key()
    worker_log = tmp_path / "workers.log"
    async with (
        serve_app(create_clickup_emulator(world, clock=clock)) as url,
        httpx.AsyncClient(timeout=10) as http,
    ):
        clickup = ClickUpProvider(
            http, api_url=f"{url}/api", auth_url=f"{url}/api", client_id="cid",
            client_secret="csecret", limiter=ConnectionRateLimiter(clock, rate=1000, burst=1000),
            clock=clock,
        )  # fmt: skip
        utility = wire(
            sessions, clock, {ProviderName.CLICKUP: clickup},
            directory=StaticDirectory({"T1": {"U1": "a@x.io"}}), vault=TokenVault([key]),
        ).utility  # fmt: skip
        account = ProviderAccount(
            ProviderName.CLICKUP, OAuthTokens(world.issue_token(101, ["9001"])),
            (Workspace("9001", "Acme"),),
        )  # fmt: skip
        await utility.connect_completed(team_id="T1", user_id="U1", account=account)
        await utility.process_meeting(
            meeting(*(item(n) for n in range(TASKS)), meeting_id="chaos", title="Chaos")
        )
        assert (await states(sessions))["queued"] == TASKS

        world.faults.add(FaultKind.LATENCY, seconds=0.01, probability=0.2, times=None)
        world.faults.add(
            FaultKind.SERVER_ERROR, method="POST", path="/task", probability=0.05, times=None
        )
        world.faults.add(FaultKind.RATE_LIMIT, method="POST", path="/task", probability=0.01,
                         times=None, seconds=1)  # fmt: skip
        world.faults.add(
            FaultKind.LOST_RESPONSE, method="POST", path="/task", probability=0.05, times=None
        )

        env = {
            **os.environ, "DATABASE_URL": database_url, "SCRUMY_ENCRYPTION_KEYS": key,
            "CLICKUP_CLIENT_ID": "cid", "CLICKUP_CLIENT_SECRET": "csecret",
            "CLICKUP_API_URL": f"{url}/api", "CLICKUP_AUTH_URL": f"{url}/api",
            "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        workers = [await start_worker(env, worker_log), await start_worker(env, worker_log)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        killed = False
        try:
            while loop.time() < deadline:
                counts = await states(sessions)
                if not killed and counts["created"] >= TASKS // 4:
                    workers[0].send_signal(signal.SIGKILL)
                    await workers[0].wait()
                    workers.append(await start_worker(env, worker_log))
                    killed = True
                if counts["created"] + counts["failed"] == TASKS:
                    break
                await asyncio.sleep(0.25)
        finally:
            for process in workers:
                if process.returncode is None:
                    process.terminate()
            for process in workers:
                await process.wait()
        said = worker_log.read_text(errors="replace")[-3000:]
        assert killed, f"no progress: {await states(sessions)}; workers said: {said}"
        async with sessions() as session:
            rows = (await session.scalars(select(Task))).all()

    by_marker = Counter(
        marker
        for task in world.tasks.values()
        for marker in [task["markdown_description"].rsplit("`", 2)[-2]]
    )
    assert all(n == 1 for n in by_marker.values()), "a task was created twice"
    ended = Counter(row.state for row in rows)
    said = worker_log.read_text(errors="replace")[-3000:]
    assert ended[TaskState.CREATED] + ended[TaskState.FAILED] == TASKS, (
        f"tasks did not end: {ended}; {said}"
    )
    for row in rows:
        if row.state == "created":
            assert by_marker[row.marker] == 1
        else:
            assert row.last_error, "failed without a reason"
            assert by_marker[row.marker] == 0, "failed but exists at the provider"
    assert len(by_marker) == ended[TaskState.CREATED]
