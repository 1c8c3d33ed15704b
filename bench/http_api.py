"""How fast the HTTP side takes work in: `scrumy serve` as a real process, loaded over loopback.

For each database (SQLite file, PostgreSQL), it starts the Slack emulator (the directory the
app asks who owns a task), runs `scrumy serve` against it, makes an API key with the CLI, and
measures, with CONCURRENCY clients at once:

- `POST /api/tasks` (one task each, a new Idempotency-Key each);
- `POST /api/meetings` (a meeting of ITEMS action items each);
- `GET /auth/clickup/initiate` (a signed link → a stored state → 303 to ClickUp).

It prints one Markdown table (requests a second and latency percentiles) for
docs/benchmarks.md. The load generator shares the machine's cores with the server, so the
figures are a floor, not a ceiling. Run: `make bench` (or `.venv/bin/python bench/http_api.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from results import Figure, record, verdict
from throwaway_db import postgres_database

from primitives.clock import SystemClock
from primitives.enums import ProviderName
from sandbox.server import free_port, serve_app
from sandbox.slack import SlackSandbox, create_slack_emulator
from sidecar.links import SIGNING_PURPOSE, LinkSigner
from storage.vault import TokenVault, new_key

TEAM = "T0BENCH"
BOT_TOKEN = "xoxb-bench"  # noqa: S105 (the emulator's)
PEOPLE = 200
CONCURRENCY = 16
ITEMS = 10
CHANNELS = 8  # the teams whose meetings are posted, one channel each


@dataclass
class Result:
    name: str
    count: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def errors(self) -> int:
        """Answers that are not the call's success: 4xx, 5xx, or none at all."""
        return sum(n for code, n in self.statuses.items() if code == 0 or code >= 400)

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def figures(self, backend: str) -> list[Figure]:
        codes = ", ".join(f"{n} x {code}" for code, n in sorted(self.statuses.items()))
        return [
            Figure(f"{backend}, {self.name}: requests/s and p99",
                   f"{self.count / self.seconds:.0f}/s, p99 {self.p99() * 1000:.1f} ms"),
            Figure(f"{backend}, {self.name}: errors (4xx, 5xx, no answer)",
                   f"{self.errors} of {self.count} ({codes})", target="0",
                   verdict=verdict(self.errors == 0)),
        ]  # fmt: skip

    def row(self, backend: str) -> str:
        ordered = sorted(self.latencies)

        def pct(p: float) -> str:
            return f"{ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000:.1f}"

        codes = ", ".join(f"{n} x {code}" for code, n in sorted(self.statuses.items()))
        return (
            f"| {backend} | {self.name} | {self.count / self.seconds:.0f} | "
            f"{statistics.median(ordered) * 1000:.1f} | {pct(0.95)} | {pct(0.99)} | {codes} |"
        )


async def load(
    name: str, total: int, request: Callable[[int], Awaitable[httpx.Response]]
) -> Result:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    numbers = iter(range(total))

    async def client() -> None:
        for number in numbers:
            started = time.perf_counter()
            try:
                status = (await request(number)).status_code
            except httpx.HTTPError:
                status = 0  # no answer (a timeout, a reset): an error
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return Result(name, total, time.perf_counter() - started, latencies, statuses)


def scrumy(*args: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "scrumy", *args], env=env, cwd=cwd, capture_output=True,
        text=True, check=True, timeout=120,
    )  # fmt: skip
    return done.stdout


async def wait_until_up(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            if process.returncode is not None:
                raise RuntimeError("scrumy serve stopped while starting") from None
        await asyncio.sleep(0.05)
    raise RuntimeError("scrumy serve did not start")


async def bench_backend(
    backend: str, database_url: str, slack_api: str, rounds: int
) -> list[tuple[str, Result]]:
    key = new_key()
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SCRUMY_ENCRYPTION_KEYS": key,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            # Required since /slack/events is served: `scrumy serve` refuses Slack without it.
            "SLACK_SIGNING_SECRET": "bench-signing-secret",
            "SLACK_API_URL": slack_api,
            "CLICKUP_CLIENT_ID": "bench-clickup",
            "CLICKUP_CLIENT_SECRET": "bench-clickup-secret",
            "LOG_LEVEL": "WARNING",
        }
        scrumy("db", "upgrade", env=env, cwd=cwd)
        created = scrumy("api-key", "create", "--team", TEAM, "--name", "bench", env=env, cwd=cwd)
        api_key = next(word for word in created.split() if word.startswith("sct_"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scrumy", "serve", "--port", str(port), env=env, cwd=cwd,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        links = LinkSigner(
            TokenVault([key]).derived_keys(SIGNING_PURPOSE), base_url=base, clock=SystemClock()
        )
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        try:
            async with httpx.AsyncClient(
                base_url=base, limits=limits, timeout=30,
                headers={"Authorization": f"Bearer {api_key}"},
            ) as client:  # fmt: skip
                await wait_until_up(client, process)
                run = secrets.token_hex(3)

                async def task(n: int) -> httpx.Response:
                    return await client.post(
                        "/api/tasks",
                        json={
                            "team_id": TEAM,
                            "user": {"slack_user_id": f"U{n % PEOPLE:05d}"},
                            "task": {"title": f"Follow up on point {n}", "priority": "high"},
                        },
                        headers={"Idempotency-Key": f"{run}-{n}"},
                    )

                async def meeting(n: int) -> httpx.Response:
                    items = [
                        {"id": f"i{i}", "title": f"Item {i} of meeting {n}",
                         "assignee": {"email": f"person{(n + i) % PEOPLE}@bench.example"}}
                        for i in range(ITEMS)
                    ]  # fmt: skip
                    return await client.post(
                        "/api/meetings",
                        json={
                            "meeting_id": f"{run}-m{n}", "title": f"Stand-up {n}",
                            "team_id": TEAM, "channel_id": f"C0BENCH{n % CHANNELS}",
                            "owner": {"slack_user_id": "U00000"}, "action_items": items,
                        },
                    )  # fmt: skip

                async def initiate(n: int) -> httpx.Response:
                    link = links.url_for(
                        team_id=TEAM, user_id=f"U{n % PEOPLE:05d}", provider=ProviderName.CLICKUP
                    )
                    return await client.get(link.removeprefix(base))

                # The directory learns the workspace the way a busy team's first meeting
                # teaches it: more than a handful of new people at once reads Slack's member
                # list (users.list) instead of one users.info each, which Slack's tier (100 a
                # minute) would refuse past the hundredth (503 slack_unavailable).
                roster = await client.post(
                    "/api/meetings",
                    json={
                        "meeting_id": f"{run}-everyone", "title": "All hands",
                        "team_id": TEAM, "channel_id": "C0ALLHANDS",  # not a channel
                        "owner": {"slack_user_id": "U00000"},
                        "action_items": [
                            {"id": f"p{n}", "title": f"Say hello {n}",
                             "assignee": {"email": f"person{n}@bench.example"}}
                            for n in range(PEOPLE)
                        ],
                    },
                )  # fmt: skip
                roster.raise_for_status()
                await load("warm-up", 200, task)  # opens connections, warms the caches
                results = [
                    await load("POST /api/tasks", 20 * rounds, task),
                    await load(f"POST /api/meetings ({ITEMS} items)", 4 * rounds, meeting),
                    await load("GET /auth/clickup/initiate", 20 * rounds, initiate),
                ]
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
    return [(backend, result) for result in results]


async def main(rounds: int, backends: list[str]) -> None:
    world = SlackSandbox(per_minute=1_000_000)
    world.add_workspace(TEAM, BOT_TOKEN)
    for n in range(PEOPLE):
        world.add_user(TEAM, f"U{n:05d}", f"Person {n}", f"person{n}@bench.example")
    for n in range(CHANNELS):
        world.add_channel(TEAM, f"C0BENCH{n}", f"team-{n}")
    rows: list[tuple[str, Result]] = []
    async with serve_app(create_slack_emulator(world)) as slack_url:
        slack_api = f"{slack_url}/api"
        for backend in backends:
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as folder:
                    url = f"sqlite+aiosqlite:///{folder}/bench.db"
                    rows += await bench_backend("SQLite", url, slack_api, rounds)
            else:
                async with postgres_database() as url:
                    rows += await bench_backend("PostgreSQL", url, slack_api, rounds)
    print(f"{CONCURRENCY} concurrent clients, {PEOPLE} people, `scrumy serve` with its worker")
    print()
    table = [
        "| database | call | requests/s | p50 ms | p95 ms | p99 ms | statuses |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        *(result.row(backend) for backend, result in rows),
    ]
    print("\n".join(table))
    record(
        "http_api", title="The HTTP API under load",
        measured=f"`scrumy serve` as a real process (its worker on), {CONCURRENCY} clients at "
        f"once over keep-alive connections on loopback, the Slack emulator as the directory "
        f"({PEOPLE} people), every request a new task or meeting; rounds {rounds}",
        figures=[f for backend, result in rows for f in result.figures(backend)], table=table,
    )  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100, help="load size (20 tasks a round)")
    parser.add_argument(
        "--backend", action="append", choices=["sqlite", "postgresql"], help="default: both"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.backend or ["sqlite", "postgresql"]))
