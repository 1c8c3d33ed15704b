"""What finding the owners of the largest meeting costs: Slack calls and seconds, in process.

`IntegrationUtility.process_meeting` with the real Slack directory (`bot.directory`) against
the Slack emulator served on 127.0.0.1 (slack_sdk's client speaks aiohttp over a socket; the
emulator answers at once), a workspace of PEOPLE members, a fresh SQLite file and nobody
connected. Two meetings of ITEMS action items, every item with its own assignee:

- members: every assignee is a member, named by e-mail (what the AI service usually knows);
- outsiders: nobody is a member, each named by a Slack id and an e-mail that the workspace
  does not know (guests of a partner, people who left): the most a meeting can ask of Slack.

The directory starts with an empty cache for each meeting. Prints, per meeting, the calls made
per Slack method, the 429s Slack answered and the wall time. `--no-limits` switches off the
emulator's per-method budgets (the code before the owner lookup was bounded needed that: it
made one call per item, far past Slack's limits); `--latency-ms` makes every call wait as long
as a round trip to Slack would. Each meeting gives up after `--timeout` seconds, so the run is
bounded.
Run: `make bench` (or `.venv/bin/python bench/owners.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from typing import Any

from results import Figure, record

from bot.directory import SlackDirectory
from bot.slack_api import SlackWebApi
from bot.slack_client import slack_web_client
from primitives.clock import SystemClock
from routing.catalogs import CatalogCache
from routing.notify import LogNotifier
from routing.utility import IntegrationUtility
from sandbox.faults import FaultKind
from sandbox.server import serve_app
from sandbox.slack import SlackSandbox, create_slack_emulator
from storage.engine import create_engine, session_factory
from storage.migrate import upgrade
from storage.vault import TokenVault, new_key

TEAM = "T0BENCH"
BOT_TOKEN = "xoxb-bench"  # noqa: S105 (the emulator's)
PEOPLE = 1_200
ITEMS = 1_000


def workspace(*, limits: bool, latency: float) -> SlackSandbox:
    world = SlackSandbox() if limits else SlackSandbox(per_minute=1_000_000)
    if latency:  # every call waits as long as a round trip to Slack would
        world.faults.add(FaultKind.LATENCY, seconds=latency, times=None)
    world.add_workspace(TEAM, BOT_TOKEN)
    world.add_user(TEAM, "U0OWNER", "Olive Owner", "owner@bench.example")
    for n in range(PEOPLE):
        world.add_user(TEAM, f"U{n:05d}", f"Person {n}", f"person{n}@bench.example")
    return world


def meeting(kind: str) -> dict[str, Any]:
    if kind == "members":
        people = [{"email": f"person{n}@bench.example"} for n in range(ITEMS)]
    else:
        people = [
            {"slack_user_id": f"U9{n:05d}", "email": f"guest{n}@partner.example"}
            for n in range(ITEMS)
        ]
    items = [
        {"id": f"i{n}", "title": f"Item {n}", "assignee": person} for n, person in enumerate(people)
    ]
    return {
        "meeting_id": f"m-{kind}", "title": "All hands", "team_id": TEAM,
        "channel_id": "C0BENCH", "owner": {"slack_user_id": "U0OWNER"}, "action_items": items,
    }  # fmt: skip


async def run(
    kind: str, *, limits: bool, latency: float, give_up: float
) -> tuple[str, int, int, float, str]:
    world = workspace(limits=limits, latency=latency)
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{folder}/owners.db")
        await upgrade(engine)
        sessions = session_factory(engine)
        async with serve_app(create_slack_emulator(world, clock=clock)) as slack_url:

            async def token_for(team_id: str) -> str | None:
                return BOT_TOKEN if team_id == TEAM else None

            client = slack_web_client(f"{slack_url}/api", rate_limit_retries=0)
            directory = SlackDirectory(
                SlackWebApi(client, clock=clock), tokens=token_for, clock=clock
            )
            utility = IntegrationUtility(
                sessions=sessions, vault=TokenVault([new_key()]), clock=clock, providers={},
                catalogs=CatalogCache(sessions, clock), directory=directory,
                notifier=LogNotifier(),
            )  # fmt: skip
            started = time.perf_counter()
            try:
                async with asyncio.timeout(give_up):
                    result = await utility.process_meeting(meeting(kind))
                outcome = f"{len(result.items)} tasks stored"
            except TimeoutError:
                outcome = f"gave up after {give_up:.0f} s"
            except Exception as error:
                outcome = f"refused: {type(error).__name__}: {error}"
            elapsed = time.perf_counter() - started
        await engine.dispose()
    calls: Counter[str] = Counter(world.requests)
    by_method = ", ".join(f"{method} {n}" for method, n in sorted(calls.items()))
    limited = sum(getattr(world, "rate_limited", Counter()).values())
    line = (
        f"{ITEMS}-item meeting, distinct assignees ({kind}), {PEOPLE + 1} people, "
        f"emulator limits {'on' if limits else 'off'}, {latency * 1000:.0f} ms a call: "
        f"{sum(calls.values())} Slack calls "
        f"({by_method}), {limited} answered 429, {elapsed:.2f} s; {outcome}"
    )
    return line, sum(calls.values()), limited, elapsed, f"{outcome} ({by_method})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-limits", action="store_true", help="no per-method Slack budgets")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per meeting")
    parser.add_argument("--only", choices=("members", "outsiders"), default=None)
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="each Slack call waits this long first"
    )
    args = parser.parse_args()
    figures: list[Figure] = []
    table = [
        "| meeting | Slack calls | 429s | seconds | outcome |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for kind in ("members", "outsiders"):
        if args.only in (None, kind):
            line, calls, limited, elapsed, outcome = await run(
                kind, limits=not args.no_limits, latency=args.latency_ms / 1000,
                give_up=args.timeout,
            )  # fmt: skip
            print(line, flush=True)
            table.append(f"| {kind} | {calls:,} | {limited} | {elapsed:.2f} | {outcome} |")
            figures.append(Figure(
                f"owners of a {ITEMS:,}-item meeting ({kind}): Slack calls, seconds",
                f"{calls:,} calls, {limited} x 429, {elapsed:.2f} s",
            ))  # fmt: skip
    limits = "off" if args.no_limits else "Slack's per-method budgets"
    record(
        "owners", title="Finding the owners of the largest meeting",
        measured=f"one meeting of {ITEMS:,} items with distinct assignees, the Slack emulator "
        f"in process ({limits}, {args.latency_ms:g} ms a call), {PEOPLE + 1} people",
        figures=figures, table=table,
    )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
