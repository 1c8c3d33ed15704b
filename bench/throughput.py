"""Dispatch throughput: `scrumy worker` processes against a plain httpx POST loop.

One run, on loopback: the ClickUp emulator served on 127.0.0.1 with no rate limit, 20 people
each connected with an account of their own, and N tasks (1,000 by default: one meeting of
N / 20 items per person) stored through `IntegrationUtility` for each case:

- *loop*: a plain `httpx` loop POSTing create bodies built as the worker builds them to the
  same emulator, as many at once as the workers would keep in flight (8 a worker: `scrumy
  worker`'s default concurrency), in a process of its own as each worker is (the emulator is
  served by the bench's process in every case);
- *SQLite, 1 worker*; *PostgreSQL, 1 worker*; *PostgreSQL, 2 workers* (`scrumy worker`
  processes with their defaults, started once the tasks are stored).

Each case runs with no latency and with 50 ms on every create (the emulator's fault
injection). What is measured at the emulator: the creates answered, from the first request's
arrival to the last answer (so a worker process's start-up is not counted), and the requests
in flight, averaged over that time. tasks/s is N over that time; the ratio is to the loop at
the same concurrency and latency (target >= 0.8). "client CPU" is the CPU the workers (or the
loop's process) spent from the first create to the end, per task: steadier than tasks/s on a
shared machine, and what the ratio at 0 ms comes down to.

Run: `.venv/bin/python bench/throughput.py [--tasks N] [--latency-ms 0 50] [--cases ...]`;
PostgreSQL at `BENCH_POSTGRES_URL` (default postgresql+asyncpg://postgres@127.0.0.1:5432/test),
where it makes and drops a database of its own per case. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-ins in tests/

from results import Figure, record, verdict
from throwaway_db import migrated_database

from primitives.clock import SystemClock
from primitives.enums import TaskState
from primitives.ids import new_id
from providers.base import Destination, TaskDraft
from providers.clickup.mapping import task_body
from sandbox.clickup import create_clickup_emulator
from sandbox.faults import FaultBook, FaultKind
from sandbox.server import serve_app
from storage.engine import create_engine, session_factory
from storage.models import Task
from storage.vault import TokenVault, new_key
from tests.chaos_world import CLICKUP, ChaosWorld
from tests.fakes import StaticDirectory
from tests.meetings import item, meeting
from tests.wiring import wire

PEOPLE = 20
CONCURRENCY = 8  # `scrumy worker --concurrency`'s default
TARGET = 0.8  # tasks/s against the plain loop's
DEADLINE = 60.0  # seconds a case may take once its workers start


class InFlight:
    """ASGI middleware counting the creates in flight at the emulator over time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.reset()

    def reset(self) -> None:
        self.now = 0
        self.area = 0.0  # in-flight x seconds
        self.since = 0.0
        self.first: float | None = None
        self.last = 0.0
        self.answered = 0

    def _step(self, delta: int) -> None:
        t = time.perf_counter()
        if self.first is None:
            self.first = t
        else:
            self.area += self.now * (t - self.since)
        self.since = t
        self.now += delta

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["method"] == "POST"):
            return await self.app(scope, receive, send)
        if not scope["path"].endswith("/task"):
            return await self.app(scope, receive, send)
        self._step(+1)
        try:
            await self.app(scope, receive, send)
        finally:
            self._step(-1)
            self.last = time.perf_counter()
            self.answered += 1

    @property
    def seconds(self) -> float:
        return self.last - (self.first or self.last)

    @property
    def average(self) -> float:
        return self.area / self.seconds if self.seconds else 0.0


@dataclass
class Case:
    name: str
    database: str | None  # "sqlite", "postgresql", or None for the loop
    workers: int

    @property
    def concurrency(self) -> int:
        return CONCURRENCY * max(1, self.workers)


CASES = {
    c.name: c
    for c in (
        Case("loop-8", None, 1),
        Case("loop-16", None, 2),
        Case("sqlite-1", "sqlite", 1),
        Case("postgresql-1", "postgresql", 1),
        Case("postgresql-2", "postgresql", 2),
    )
}


@dataclass
class Result:
    case: Case
    latency_ms: int
    tasks: int
    seconds: float
    in_flight: float
    created: int
    # Seconds of CPU the workers spent from the first create to the end (the loop: its own)
    worker_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds if self.seconds else 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far (Linux `/proc`; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def created_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        n = await session.scalar(
            select(func.count()).select_from(Task).where(Task.state == TaskState.CREATED)
        )
        return int(n or 0)


def emulator(latency_ms: int) -> tuple[ChaosWorld, FaultBook]:
    faults = FaultBook(seed=1)
    if latency_ms:
        faults.add(FaultKind.LATENCY, method="POST", path="/task", seconds=latency_ms / 1000,
                   times=None)  # fmt: skip
    return ChaosWorld(CLICKUP, faults), faults


async def run_loop(case: Case, tasks: int, latency_ms: int) -> Result:
    """The baseline: a plain httpx loop in a process of its own (as each worker is), against
    the emulator served by this process, POSTing create bodies built as the worker builds
    them (`task_body`: the task's title, its marker, the meeting's title in the footer)."""
    clock = SystemClock()
    world, _ = emulator(latency_ms)
    counter = InFlight(create_clickup_emulator(world.clickup, clock=clock))
    tokens = [world.account(n).tokens.access_token for n in range(PEOPLE)]
    destination = Destination(CLICKUP, "l1", "Backlog", "9001")
    bodies = [
        task_body(
            TaskDraft(title=f"Action {n}", marker=new_id("mk"), meeting_title="Weekly sync"),
            destination, (),
        )
        for n in range(tasks)
    ]  # fmt: skip
    async with AsyncExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="scrumy-loop-"))
        url = await stack.enter_async_context(serve_app(counter))
        job = Path(folder) / "job.json"
        job.write_text(json.dumps({
            "url": f"{url}/api/v2/list/l1/task", "at_once": case.concurrency,
            "requests": [[bodies[n], tokens[n % PEOPLE]] for n in range(tasks)],
        }))  # fmt: skip
        loop = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--loop", str(job), stdout=asyncio.subprocess.PIPE
        )
        try:
            said, _ = await asyncio.wait_for(loop.communicate(), DEADLINE)
        except TimeoutError:
            loop.terminate()
            said, _ = await loop.communicate()
    cpu = float(said.decode().strip() or 0)  # the loop's own CPU, as for the workers
    return Result(case, latency_ms, tasks, counter.seconds, counter.average, counter.answered, cpu)


async def loop_client(job: dict[str, Any]) -> int:
    """The loop's process: POST every body, `at_once` at a time, each answer read."""
    queue = iter(job["requests"])
    async with httpx.AsyncClient(timeout=30) as http:

        async def one_lane() -> None:
            for body, token in queue:
                answer = await http.post(
                    job["url"], json=body, headers={"Authorization": f"Bearer {token}"}
                )
                answer.raise_for_status()

        cpu = time.process_time()
        await asyncio.gather(*(one_lane() for _ in range(job["at_once"])))
        print(time.process_time() - cpu, flush=True)
    return 0


async def run_workers(
    case: Case, tasks: int, latency_ms: int, profile: str | None = None
) -> Result:
    assert case.database is not None
    clock = SystemClock()
    world, _ = emulator(latency_ms)
    counter = InFlight(create_clickup_emulator(world.clickup, clock=clock))
    key = new_key()
    people = {f"U{n}": f"p{n}@x.io" for n in range(PEOPLE)}
    async with AsyncExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="scrumy-bench-"))
        database_url = await stack.enter_async_context(migrated_database(case.database, folder))
        engine = create_engine(database_url)
        stack.push_async_callback(engine.dispose)
        sessions = session_factory(engine)
        url = await stack.enter_async_context(serve_app(counter))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        utility = wire(
            sessions, clock, {CLICKUP: world.client(http, url, clock)},
            directory=StaticDirectory({"T1": people}), vault=TokenVault([key]),
        ).utility  # fmt: skip
        for n in range(PEOPLE):
            await utility.connect_completed(team_id="T1", user_id=f"U{n}", account=world.account(n))
        items = [item(n, assignee={"slack_user_id": f"U{n % PEOPLE}"}) for n in range(tasks)]
        for first in range(0, tasks, 1000):
            await utility.process_meeting(
                meeting(*items[first : first + 1000], meeting_id=f"bench-{first}")
            )
        counter.reset()
        env = {
            **os.environ, "DATABASE_URL": database_url, "SCRUMY_ENCRYPTION_KEYS": key,
            "LOG_LEVEL": "WARNING", **world.settings(url),
        }  # fmt: skip
        log = Path(folder) / "workers.log"
        workers = []
        with log.open("ab") as output:
            for _ in range(case.workers):
                workers.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "scrumy",
                        "worker",
                        env=env,
                        cwd=folder,
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=output,
                    )
                )
        samplers = []
        if profile:  # py-spy (`pip install py-spy`) sampling each worker until it is stopped
            for n, process in enumerate(workers):
                samplers.append(
                    await asyncio.create_subprocess_exec(
                        str(Path(sys.executable).parent / "py-spy"), "record",
                        "--pid", str(process.pid), "--rate", "200", "--format", "raw",
                        "-o", f"{profile}-{case.name}-{latency_ms}ms-{n}.txt",
                        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                    )
                )  # fmt: skip
        started = time.perf_counter()
        cpu_from: float | None = None
        try:
            while time.perf_counter() < started + DEADLINE:
                if cpu_from is None and counter.first is not None:
                    cpu_from = sum(cpu_seconds(p.pid) for p in workers)
                if counter.answered >= tasks and await created_count(sessions) >= tasks:
                    break
                await asyncio.sleep(0.1)
            cpu = sum(cpu_seconds(p.pid) for p in workers) - (cpu_from or 0.0)
        finally:
            for sampler in samplers:
                sampler.send_signal(signal.SIGINT)
                await sampler.wait()
            for process in workers:
                process.terminate()
            for process in workers:
                await process.wait()
        created = await created_count(sessions)
        said = log.read_text(errors="replace").strip()
        if said:
            print(f"  worker log: {said[-2000:]}", file=sys.stderr)
    return Result(case, latency_ms, tasks, counter.seconds, counter.average, created, cpu)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--profile", help="py-spy each worker into PREFIX-<case>-<ms>-<n>.txt")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    options = parser.parse_args()
    results: list[Result] = []
    for latency in options.latency_ms:
        for name in options.cases:
            case = CASES[name]
            if case.database is None:
                result = await run_loop(case, options.tasks, latency)
            else:
                result = await run_workers(case, options.tasks, latency, options.profile)
            results.append(result)
            print(
                f"  {name}, {latency} ms: {result.rate:.0f} tasks/s, "
                f"in flight {result.in_flight:.1f}, created {result.created}, "
                f"client CPU {1000 * result.worker_cpu / options.tasks:.2f} ms a task, "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    loops = {(r.case.concurrency, r.latency_ms): r.rate for r in results if r.case.database is None}
    print(
        f"\n{options.tasks:,} tasks, {PEOPLE} people, ClickUp emulator on 127.0.0.1, no rate limit"
    )
    table = [
        "| case | latency | at once | tasks/s | loop tasks/s | ratio | in flight "
        "| client CPU ms a task | created |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    figures: list[Figure] = []
    for r in results:
        loop = loops.get((r.case.concurrency, r.latency_ms))
        ratio = f"{r.rate / loop:.2f}" if loop and r.case.database else "-"
        table.append(f"| {r.case.name} | {r.latency_ms} ms | {r.case.concurrency} | {r.rate:.0f} | "
                     f"{f'{loop:.0f}' if loop else '-'} | {ratio} | {r.in_flight:.1f} | "
                     f"{1000 * r.worker_cpu / r.tasks:.2f} | {r.created:,} |")  # fmt: skip
        if r.case.database and loop:
            complete = r.created >= r.tasks
            figures.append(Figure(
                f"{r.case.name}, {r.latency_ms} ms: tasks/s ÷ the plain loop's "
                f"({r.case.concurrency} at once)",
                f"{r.rate / loop:.2f} ({r.rate:.0f} against {loop:.0f} tasks/s"
                + ("" if complete else f"; only {r.created:,} of {r.tasks:,} created") + ")",
                target=">= 0.8", verdict=verdict(complete and r.rate / loop >= TARGET),
            ))  # fmt: skip
    print("\n".join(table))
    record(
        "throughput", title="Dispatch throughput against a plain httpx loop",
        measured=f"{options.tasks:,} stored tasks for {PEOPLE} people sent by `scrumy worker` "
        "processes (their defaults) to the ClickUp emulator on 127.0.0.1 (no rate limit), "
        "against a plain httpx loop POSTing the same bodies at the same concurrency; counted "
        "at the emulator from the first create's arrival to the last answer",
        figures=figures, table=table,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--loop"]:
        sys.exit(asyncio.run(loop_client(json.loads(Path(sys.argv[2]).read_text()))))
    sys.exit(asyncio.run(main()))
