"""Exactly once under chaos: `scrumy worker` processes on PostgreSQL against faulty emulators.

Each scenario stores a run of tasks for one owner (meetings of at most 1,000 items, as intake
takes them), serves the ClickUp or Notion emulator on 127.0.0.1 with faults switched on, and
runs `scrumy worker` subprocesses until every task is `created` or `failed` (or the scenario's
deadline passes). Then it counts at the emulator, by marker and by title:

- created twice: a marker or a title held more than once;
- lost: a task not ended at the deadline, or `created` in the database but absent;
- failed but exists: a task `failed` whose marker the emulator holds.

Any of these makes the exit status non-zero.

Scenarios (sizes: the default first, `--full` second; `--tasks N` sets any size):

- `kill-10k` (1,000 / 10,000): ClickUp, one list, no rate limit; 5% 5xx, 5% lost responses and
  1% 429 on creates, 10% 5xx on the task listings that look tasks up, 10 ms on 20% of requests;
  two workers, one of them SIGKILLed every 2-5 s (seeded) and replaced.
- `notion-kill-10k` (1,000 / 10,000): the same faults and kills at Notion (5xx on the data
  source queries), the emulator without a rate limit; 50 people share the tasks (the product
  paces each Notion connection at 3 a second), each person's going to a data source of their
  own. `notion-shared-10k`: the same, all in one data source.
- `notion-real-rate` (100 / 100): Notion at its real 3 requests a second per token (the
  emulator's default burst), 5% lost responses on page creates, one worker with the product's
  Notion limiter.
- `clickup-partition` (300 / 2,000): ClickUp, 5% lost responses and 50 ms on creates; the first
  worker reaches PostgreSQL through a TCP proxy that is cut for 30 s (8 s by default) a third of
  the way and restored; DATABASE_TIMEOUT_SECONDS=2.

Workers run with `--lease-seconds 3 --poll-seconds 0.2 --base-backoff 0.05 --send-timeout 2
--landing-margin 0.5` (the Notion one too: a lost answer is looked up 2.5 s after its send).

What a reconciled task is: a trigger on the bench's own database records every change of a
task's state; a claim (`queued`/`retrying` -> `in_flight`) of a task whose `first_sent_at` is
set is a claim that looks the task up first. "Looked up" counts the distinct tasks claimed so;
calls per reconciled task are the listing requests the emulator answered (ClickUp: GET
/list/{id}/task; Notion: the data source queries and the block reads) divided by them.

`--listing-5xx P` sets the kill scenarios' share of failing listings (0 switches them off).

Run: `.venv/bin/python bench/exactly_once.py [--scenario NAME] [--tasks N] [--full]`; the
database (`BENCH_POSTGRES_URL`, default postgresql+asyncpg://postgres@127.0.0.1:5432/test) gets
a database of its own per scenario, dropped at the end. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import ClientDisconnect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-ins in tests/

from results import Figure, record, verdict
from throwaway_db import migrated_database

from primitives.clock import SystemClock
from primitives.enums import ProviderName, TaskState
from sandbox.faults import Fault, FaultBook, FaultKind
from storage.engine import create_engine, session_factory
from storage.models import Task
from storage.vault import TokenVault, new_key
from tests.chaos_world import CLICKUP, NOTION, ChaosWorld
from tests.fakes import StaticDirectory
from tests.meetings import item, meeting
from tests.tcp_proxy import TcpProxy
from tests.wiring import wire

MEETING_SIZE = 1_000  # the most items intake takes in one meeting
WORKER_ARGS = ("--lease-seconds", "3", "--poll-seconds", "0.2", "--base-backoff", "0.05",
               "--send-timeout", "2", "--landing-margin", "0.5")  # fmt: skip
RESCUED = "the worker handling it stopped"  # the reason `rescue_expired` writes
ADOPTED = "found after a lost response"  # in the reason of a task found by its marker
LISTING_5XX = [0.1]  # kill-10k: the share of task listings answered 5xx (`--listing-5xx`)


class KilledMidRequest(logging.Filter):
    """Counts, and keeps out of the output, the emulator's traceback for a request whose
    worker was killed while sending it (the body never arrived: nothing was done)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ClientDisconnect):
            self.count += 1
            return False
        return True


KILLED_MID_REQUEST = KilledMidRequest()


class CountingFaultBook(FaultBook):
    """A fault book that also counts the faults it fires, by kind, method and what was hit."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.fired: Counter[tuple[str, str, str]] = Counter()

    def draw(self, method: str, path: str) -> list[Fault]:
        fired = super().draw(method, path)
        for fault in fired:
            self.fired[(fault.kind.value, method, _what(method, path))] += 1
        return fired

    def total(self, kind: FaultKind, what: str) -> int:
        return sum(n for (k, _, w), n in self.fired.items() if k == kind.value and w == what)


def _what(method: str, path: str) -> str:
    if (method == "POST" and path.endswith("/task")) or path.endswith("/v1/pages"):
        return "create"
    if (method == "GET" and path.endswith("/task")) or path.endswith("/query"):
        return "listing"
    if "/blocks/" in path and method == "GET":
        return "block read"
    return "other"


def kill_faults(faults: FaultBook) -> None:
    faults.add(FaultKind.LATENCY, seconds=0.01, probability=0.2, times=None)
    faults.add(FaultKind.SERVER_ERROR, method="POST", path="/task", probability=0.05, times=None)
    faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/task", probability=0.05, times=None)
    faults.add(FaultKind.RATE_LIMIT, method="POST", path="/task", probability=0.01, times=None,
               seconds=1)  # fmt: skip
    if LISTING_5XX[0]:
        faults.add(FaultKind.SERVER_ERROR, method="GET", path="/task", probability=LISTING_5XX[0],
                   times=None)  # fmt: skip


def notion_faults(faults: FaultBook) -> None:
    faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/v1/pages", probability=0.05,
               times=None)  # fmt: skip


def notion_kill_faults(faults: FaultBook) -> None:
    faults.add(FaultKind.LATENCY, seconds=0.01, probability=0.2, times=None)
    for kind in (FaultKind.SERVER_ERROR, FaultKind.LOST_RESPONSE):
        faults.add(kind, method="POST", path="/v1/pages", probability=0.05, times=None)
    faults.add(FaultKind.RATE_LIMIT, method="POST", path="/v1/pages", probability=0.01,
               times=None, seconds=1)  # fmt: skip
    if LISTING_5XX[0]:
        faults.add(FaultKind.SERVER_ERROR, method="POST", path="/query",
                   probability=LISTING_5XX[0], times=None)  # fmt: skip


def partition_faults(faults: FaultBook) -> None:
    faults.add(FaultKind.LATENCY, method="POST", path="/task", seconds=0.05, times=None)
    faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/task", probability=0.05, times=None)


@dataclass(frozen=True)
class Scenario:
    name: str
    provider: ProviderName
    tasks: int
    full_tasks: int
    faults: Callable[[FaultBook], None]
    workers: int = 2
    owners: int = 1  # the tasks are shared out among this many connected people
    own_database: bool = False  # Notion: each person's tasks go to a data source of their own
    kill_every: tuple[float, float] | None = None  # SIGKILL a worker every [a, b] seconds
    partition: float = 0.0  # seconds the first worker's database link is cut
    full_partition: float = 0.0
    real_rate: bool = False  # the emulator at the tool's real rate limit
    env: dict[str, str] = field(default_factory=dict)

    def deadline(self, tasks: int, full: bool) -> float:
        """Seconds the scenario may run once the workers start."""
        if self.real_rate:
            return 120 + tasks  # ideal: tasks / 3
        cut = self.full_partition if full else self.partition
        return max(180.0, tasks * 0.09 + 2 * cut)  # 10,000 tasks: 15 minutes


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("kill-10k", CLICKUP, 1_000, 10_000, kill_faults, kill_every=(2.0, 5.0)),
        # Notion paces each connection at 3 requests a second (the product's limiter, in each
        # worker process): 10,000 tasks for one person would take an hour, so 50 people share
        # them, as a team would; the emulator itself does not limit. In notion-kill-10k each
        # person's tasks go to a data source of their own; in notion-shared-10k all go to one.
        Scenario(
            "notion-kill-10k",
            NOTION,
            1_000,
            10_000,
            notion_kill_faults,
            owners=50,
            own_database=True,
            kill_every=(2.0, 5.0),
        ),
        Scenario(
            "notion-shared-10k",
            NOTION,
            1_000,
            10_000,
            notion_kill_faults,
            owners=50,
            kill_every=(2.0, 5.0),
        ),
        Scenario("notion-real-rate", NOTION, 100, 100, notion_faults, workers=1, real_rate=True),
        Scenario(
            "clickup-partition",
            CLICKUP,
            300,
            2_000,
            partition_faults,
            partition=8.0,
            full_partition=30.0,
            env={"DATABASE_TIMEOUT_SECONDS": "2"},
        ),
    )
}


class World(ChaosWorld):
    """One scenario's emulator, with a counting fault book."""

    def __init__(self, provider: ProviderName, *, real_rate: bool, seed: int) -> None:
        self.faults = CountingFaultBook(seed=seed)
        if real_rate:  # Notion at its own 3 a second and burst; our client paced under it
            super().__init__(provider, self.faults, notion_rate=3, notion_burst=None,
                             client_pace=(2.5, 3))  # fmt: skip
        else:
            super().__init__(provider, self.faults)  # the connects and intake unpaced

    def count(self, what: str) -> int:
        """Requests answered, by what they were (`_what`)."""
        return sum(n for key, n in self.requests.items() if _what(*key.split(" ", 1)) == what)

    def throttled(self) -> int:
        """429s for the tool's own rate limit (injected ones are in the fault book)."""
        if self.provider is CLICKUP:
            return sum(self.clickup.throttled.values())
        return len(self.notion.throttled)


# --- the database -----------------------------------------------------------------------------

EVENTS = [
    """CREATE TABLE bench_events (
        id bigserial PRIMARY KEY, task_id text NOT NULL, old_state text, new_state text,
        sent boolean NOT NULL, reason text, at timestamptz NOT NULL DEFAULT clock_timestamp())""",
    """CREATE FUNCTION bench_log() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO bench_events (task_id, old_state, new_state, sent, reason)
        VALUES (NEW.id, OLD.state::text, NEW.state::text, NEW.first_sent_at IS NOT NULL,
                NEW.last_error);
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER bench_log AFTER UPDATE ON tasks FOR EACH ROW
       WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION bench_log()""",
]


async def states(sessions: async_sessionmaker[AsyncSession]) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(select(Task.state, func.count()).group_by(Task.state))
        return Counter({str(state): int(n) for state, n in rows.all()})


@dataclass
class Events:
    lookup_claims: int  # claims of a task whose first_sent_at was set
    looked_up: int  # distinct tasks claimed so
    rescued: int  # in_flight -> retrying by `rescue_expired`
    rescued_sent: int  # of which first_sent_at was set


async def events(sessions: async_sessionmaker[AsyncSession]) -> Events:
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    """SELECT
                    count(*) FILTER (WHERE new_state = 'in_flight' AND sent),
                    count(DISTINCT task_id) FILTER (WHERE new_state = 'in_flight' AND sent),
                    count(*) FILTER (WHERE old_state = 'in_flight' AND new_state = 'retrying'
                                     AND reason LIKE :rescued),
                    count(*) FILTER (WHERE old_state = 'in_flight' AND new_state = 'retrying'
                                     AND reason LIKE :rescued AND sent)
                    FROM bench_events"""
                ),
                {"rescued": f"{RESCUED}%"},
            )
        ).one()
    return Events(*(int(n) for n in row))


# --- the workers ------------------------------------------------------------------------------


async def start_worker(
    env: dict[str, str], log: Path, cwd: str, args: tuple[str, ...]
) -> asyncio.subprocess.Process:
    with log.open("ab") as output:  # a file, not a pipe: a full pipe would stall the worker
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scrumy", "worker", *args, env=env, cwd=cwd,
            stdout=asyncio.subprocess.DEVNULL, stderr=output,
        )  # fmt: skip


@dataclass
class Result:
    scenario: str
    tasks: int
    seconds: float
    ended: Counter[str]
    twice_by_marker: int
    twice_by_title: int
    unfinished: int
    unfinished_but_exist: int
    created_but_absent: int
    failed_but_exists: int
    failed_without_reason: int
    adopted: int
    events: Events
    kills: int
    listings: int
    block_reads: int
    creates: int
    faults: Counter[tuple[str, str, str]]
    throttled: int
    failed_reasons: Counter[str]
    unfinished_reasons: Counter[str]

    @property
    def lost(self) -> int:
        return self.unfinished + self.created_but_absent

    @property
    def bad(self) -> bool:
        return bool(
            self.twice_by_marker or self.twice_by_title or self.lost or self.failed_but_exists
            or self.failed_without_reason
        )  # fmt: skip


async def run(scenario: Scenario, tasks: int, full: bool, seed: int, deadline: float) -> Result:
    clock = SystemClock()
    world = World(scenario.provider, real_rate=scenario.real_rate, seed=seed)
    rng = random.Random(seed)
    key = new_key()
    partition = scenario.full_partition if full else scenario.partition
    async with AsyncExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="scrumy-bench-"))
        log = Path(folder) / "workers.log"
        database_url = await stack.enter_async_context(
            migrated_database("postgresql", folder, after=EVENTS)
        )
        engine = create_engine(database_url)
        stack.push_async_callback(engine.dispose)
        sessions = session_factory(engine)
        url = await stack.enter_async_context(world.served(clock))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        owners = [f"U{n}" for n in range(1, scenario.owners + 1)]
        if scenario.own_database:  # before connecting: the catalog read lists them
            for owner in owners:
                world.notion.add_data_source(
                    f"ds-{owner.lower()}", f"Tasks of {owner}", {"Name": {"type": "title"}}
                )
        utility = wire(
            sessions, clock, {scenario.provider: world.client(http, url, clock)},
            directory=StaticDirectory({"T1": {u: f"{u.lower()}@x.io" for u in owners}}),
            vault=TokenVault([key]),
        ).utility  # fmt: skip
        for n, owner in enumerate(owners):
            await utility.connect_completed(team_id="T1", user_id=owner, account=world.account(n))
        for first in range(0, tasks, MEETING_SIZE):
            items = [
                item(n, assignee={"slack_user_id": owners[n % len(owners)]})
                | ({"project_name": f"Tasks of {owners[n % len(owners)]}"}
                   if scenario.own_database else {})
                for n in range(first, min(tasks, first + MEETING_SIZE))
            ]  # fmt: skip
            await utility.process_meeting(
                meeting(*items, meeting_id=f"bench-{first}", title=f"Bench {first // 1000}")
            )
        queued = (await states(sessions))["queued"]
        assert queued == tasks, f"{queued} of {tasks} queued"
        scenario.faults(world.faults)
        world.requests.clear()  # count the workers' requests only
        throttled_before = world.throttled()

        target = make_url(database_url)
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
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
        first_env = behind_proxy if partition else env
        workers = [await start_worker(first_env, log, folder, WORKER_ARGS)]
        for _ in range(1, scenario.workers):
            workers.append(await start_worker(env, log, folder, WORKER_ARGS))
        loop = asyncio.get_running_loop()
        started = loop.time()
        next_kill = started + rng.uniform(*scenario.kill_every) if scenario.kill_every else None
        next_report = started + 10
        kills = 0
        cut = False
        counts: Counter[str] = Counter()
        try:
            while loop.time() < started + deadline:
                counts = await states(sessions)
                if counts["created"] + counts["failed"] == tasks:
                    break
                now = loop.time()
                if next_kill is not None and scenario.kill_every and now >= next_kill:
                    victim = rng.randrange(len(workers))
                    workers[victim].send_signal(signal.SIGKILL)
                    await workers[victim].wait()
                    workers[victim] = await start_worker(env, log, folder, WORKER_ARGS)
                    kills += 1
                    next_kill = now + rng.uniform(*scenario.kill_every)
                if partition and not cut and counts["created"] >= tasks // 3:
                    cut = True
                    print(f"  {now - started:6.1f} s: cutting worker 1's database link "
                          f"for {partition:g} s", flush=True)  # fmt: skip
                    proxy.cut()
                    await asyncio.sleep(partition)
                    proxy.restore()
                if now >= next_report:
                    next_report = now + 10
                    shown = ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
                    print(f"  {now - started:6.1f} s: {shown}", flush=True)
                await asyncio.sleep(0.25)
        finally:
            proxy.restore()
            for process in workers:
                if process.returncode is None:
                    process.terminate()
            for process in workers:
                await process.wait()
        seconds = loop.time() - started
        world.faults.clear()
        async with sessions() as session:
            rows = (await session.scalars(select(Task))).all()
        happened = await events(sessions)
        said = log.read_text(errors="replace")
        if said.strip():
            kept = Path(tempfile.gettempdir()) / f"exactly_once-{scenario.name}-workers.log"
            kept.write_text(said)
            print(f"  worker log ({len(said.splitlines())} lines): {kept}")

    by_marker, by_title = world.created()
    ended = Counter(str(row.state) for row in rows)
    failed = [row for row in rows if row.state == TaskState.FAILED]
    return Result(
        scenario=scenario.name, tasks=tasks, seconds=seconds, ended=ended,
        twice_by_marker=sum(1 for n in by_marker.values() if n > 1),
        twice_by_title=sum(1 for n in by_title.values() if n > 1),
        unfinished=sum(1 for row in rows if row.state not in (TaskState.CREATED, TaskState.FAILED)),
        unfinished_but_exist=sum(
            1
            for row in rows
            if row.state not in (TaskState.CREATED, TaskState.FAILED) and by_marker[row.marker]
        ),
        created_but_absent=sum(
            1 for row in rows if row.state == TaskState.CREATED and by_marker[row.marker] == 0
        ),
        failed_but_exists=sum(1 for row in failed if by_marker[row.marker] > 0),
        failed_without_reason=sum(1 for row in failed if not row.last_error),
        adopted=sum(1 for row in rows if ADOPTED in (row.route_reason or "")),
        events=happened, kills=kills, listings=world.count("listing"),
        block_reads=world.count("block read"), creates=world.count("create"),
        faults=world.faults.fired, throttled=world.throttled() - throttled_before,
        failed_reasons=Counter((row.last_error or "")[:100] for row in failed),
        unfinished_reasons=Counter(
            f"{row.state}, attempts {row.attempts}, "
            f"{'sent' if row.first_sent_at else 'unsent'}: {(row.last_error or '')[:70]}"
            for row in rows
            if row.state not in (TaskState.CREATED, TaskState.FAILED)
        ),
    )  # fmt: skip


def report(result: Result, scenario: Scenario) -> None:
    r = result
    e = r.events
    fired: Counter[tuple[str, str]] = Counter()
    for (kind, _, what), n in r.faults.items():
        fired[(kind, what)] += n
    lost_responses = fired[("lost_response", "create")]
    calls = r.listings + r.block_reads
    print(f"\n{r.scenario}: {r.tasks:,} tasks, {r.seconds:.1f} s, "
          f"{r.ended['created'] / r.seconds:.1f} created a second")  # fmt: skip
    print(f"  ended: {dict(r.ended)}; workers killed: {r.kills} (requests cut mid-body: "
          f"{KILLED_MID_REQUEST.count})")  # fmt: skip
    print(f"  created twice: {r.twice_by_marker} by marker, {r.twice_by_title} by title; "
          f"lost: {r.lost} (unfinished {r.unfinished}, of which {r.unfinished_but_exist} exist at "
          f"the emulator; created but absent "
          f"{r.created_but_absent}); failed but exists: {r.failed_but_exists}; "
          f"failed: {r.ended['failed']}")  # fmt: skip
    for reason, n in r.failed_reasons.most_common(5):
        print(f"    failed x{n}: {reason}")
    for reason, n in r.unfinished_reasons.most_common(8):
        print(f"    unfinished x{n}: {reason}")
    print(f"  requests: {r.creates:,} creates, {r.listings:,} listings"
          + (f", {r.block_reads:,} block reads" if r.block_reads else ""))  # fmt: skip
    print("  faults fired: " + ", ".join(f"{k} on {w} {n}" for (k, w), n in sorted(fired.items())))
    print(f"  429 for the rate limit: {r.throttled}, injected: {fired[('rate_limit', 'create')]}")
    print(f"  reconciled: {e.looked_up:,} tasks looked up ({e.lookup_claims:,} claims with "
          f"first_sent_at set), {r.adopted:,} found after a lost response; rescued in flight "
          f"{e.rescued:,} ({e.rescued_sent:,} of them sent)")  # fmt: skip
    if e.looked_up:
        approximated = lost_responses + e.rescued_sent
        print(f"  calls per reconciled task: {calls / e.looked_up:.2f} "
              f"({calls:,} listing calls / {e.looked_up:,} tasks looked up); per lookup claim "
              f"{calls / max(1, e.lookup_claims):.2f}; per (lost responses {lost_responses} + "
              f"rescued sent {e.rescued_sent}) {calls / max(1, approximated):.2f}")  # fmt: skip
    if scenario.real_rate:
        ideal = r.creates / 3
        print(f"  ideal (creates / 3 a second): {ideal:.1f} s; wall time {r.seconds / ideal:.2f}x")
    print(f"  verdict: {'FAIL' if r.bad else 'ok'}", flush=True)
    record_result(r, scenario, fired, calls)


def record_result(
    r: Result, scenario: Scenario, fired: Counter[tuple[str, str]], calls: int
) -> None:
    e = r.events
    per_task = calls / e.looked_up if e.looked_up else 0.0
    tool = scenario.provider.label
    kills = f", {r.kills} SIGKILLs" if scenario.kill_every else ""
    faults = ", ".join(f"{k} on {w} {n}" for (k, w), n in sorted(fired.items()))
    figures = [
        Figure("created twice (by marker / by title)",
               f"{r.twice_by_marker} / {r.twice_by_title}", target="0", verdict=verdict(
                   not r.twice_by_marker and not r.twice_by_title), correctness=True),
        Figure("lost (not ended at the deadline, or created but absent)",
               f"{r.lost} ({r.unfinished} not ended, {r.created_but_absent} absent)", target="0",
               verdict=verdict(not r.lost), correctness=True),
        Figure("failed although it exists (or failed without a reason)",
               f"{r.failed_but_exists} ({r.failed_without_reason})", target="0",
               verdict=verdict(not r.failed_but_exists and not r.failed_without_reason),
               correctness=True),
        Figure(f"wall time{kills}", f"{r.seconds:.1f} s, {r.ended['created'] / r.seconds:.1f} "
               "created a second"),
        Figure("listing calls per task looked up by marker (per lookup claim)",
               f"{per_task:.2f} ({calls / max(1, e.lookup_claims):.2f}): {calls:,} calls, "
               f"{e.looked_up:,} tasks looked up, {e.lookup_claims:,} claims",
               target="<= 2", verdict=verdict(per_task <= 2.0)),
    ]  # fmt: skip
    table = [
        "| tasks | owners | kills | creates | listings | block reads | lost responses | "
        "adopted by marker | rescued (sent) | 429 (limit / injected) | ended |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        f"| {r.tasks:,} | {scenario.owners} | {r.kills} | {r.creates:,} | {r.listings:,} | "
        f"{r.block_reads:,} | {fired[('lost_response', 'create')]} | {r.adopted:,} | "
        f"{e.rescued:,} ({e.rescued_sent:,}) | {r.throttled} / {fired[('rate_limit', 'create')]}"
        f" | {', '.join(f'{s} {n:,}' for s, n in sorted(r.ended.items()))} |",
    ]
    record(
        f"exactly_once-{scenario.name}",
        title=f"Exactly once under chaos: {scenario.name}",
        measured=f"{r.tasks:,} {tool} tasks for {scenario.owners} "
        f"{'person' if scenario.owners == 1 else 'people'} sent by {scenario.workers} "
        f"`scrumy worker` process(es) on PostgreSQL{kills}, the {tool} emulator on 127.0.0.1 "
        f"with faults (fired: {faults}); counted at the emulator by marker and by title",
        figures=figures,
        table=table,
        seconds=r.seconds,
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--tasks", type=int, help="tasks per scenario (default: its size)")
    parser.add_argument("--full", action="store_true", help="the full sizes (10,000 / 100 / 2,000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--deadline", type=float, help="seconds a scenario may run")
    parser.add_argument("--listing-5xx", type=float, default=0.1, help="kill-10k: 5xx share")
    options = parser.parse_args()
    LISTING_5XX[0] = options.listing_5xx
    logging.getLogger("uvicorn.error").addFilter(KILLED_MID_REQUEST)
    names = list(SCENARIOS) if options.scenario == "all" else [options.scenario]
    failed = False
    for name in names:
        scenario = SCENARIOS[name]
        tasks = options.tasks or (scenario.full_tasks if options.full else scenario.tasks)
        deadline = options.deadline or scenario.deadline(tasks, options.full)
        print(f"{name}: {tasks:,} tasks, at most {deadline:.0f} s", flush=True)
        wall = time.perf_counter()
        result = await run(scenario, tasks, options.full, options.seed, deadline)
        report(result, scenario)
        print(f"  (with set-up and counting: {time.perf_counter() - wall:.1f} s)")
        failed = failed or result.bad
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
