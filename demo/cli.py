"""`scrumy demo`: the whole product on this machine, no account needed.

Starts the emulated Slack, ClickUp and Notion and the real app on free ports of 127.0.0.1
with a throwaway SQLite file, plays `demo.story`, prints the final table and exits 0 — or 1,
naming what ended wrong. `--serve` keeps everything running afterwards, until Ctrl-C.

Registered in the `scrumy.commands` entry-point group (pyproject.toml), which `scrumy.cli`
loads: the product never imports the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
from asyncio import FIRST_COMPLETED
from pathlib import Path

import click
import httpx

from demo import report
from demo.narrate import Narrator, quiet_libraries
from demo.pages import open_pages
from demo.stack import Stack, running_stack
from demo.steps import DemoFailure
from demo.story import EXPECTED, Story
from demo.your_turn import leave_your_turn

DEADLINE = 120.0  # seconds: a story that takes longer than this is stuck


@click.command("demo")
@click.option(
    "--serve", is_flag=True, help="Keep everything running after the story, until Ctrl-C."
)
@click.option("--verbose", is_flag=True, help="Show the app's and the libraries' own logs.")
def demo(serve: bool, verbose: bool) -> None:
    """The whole product here; no account needed.

    Starts emulated Slack, ClickUp and Notion and the real app on 127.0.0.1, plays a meeting
    through them, prints what happened and the final table; exits 0, or 1 naming what ended
    wrong.
    """
    quiet_libraries(verbose)
    say = Narrator(click.echo)
    with tempfile.TemporaryDirectory(prefix="scrumy-demo-") as directory:
        code = asyncio.run(_run(Path(directory), say, serve=serve))
    if code:
        raise SystemExit(code)


async def _run(directory: Path, say: Narrator, *, serve: bool) -> int:
    """Play the story (and serve, with `serve`); the exit code: 0, 1 when something ended
    wrong, 130 when stopped by Ctrl-C."""
    async with running_stack(directory) as stack, httpx.AsyncClient(timeout=10) as http:
        # Installed once the servers run (uvicorn installs its own on start): Ctrl-C stops
        # the story or the serving here, and everything then stops in order.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        story = asyncio.create_task(Story(stack, say, http).play())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({story, stopped}, timeout=DEADLINE, return_when=FIRST_COMPLETED)
        if not story.done():
            story.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await story
            if stop.is_set():
                say.say("stopped before the story ended")
                return 130
            say.say(f"demo failed: the story did not end within {DEADLINE:.0f} s")
            return 1
        stopped.cancel()
        try:
            rows = story.result()
        except DemoFailure as failure:
            say.say(f"demo failed: {failure}")
            return 1
        if not _report(stack, say, rows):
            return 1
        if serve:
            await leave_your_turn(stack, http, say)
            _list_pages(stack, say)
            await stop.wait()
            say.say("stopping")
        return 0


def _report(stack: Stack, say: Narrator, rows: list[report.Row]) -> bool:
    """Print the table and the counts; whether everything ended as expected."""
    say.plain()
    for line in report.table(rows):
        say.plain(line)
    say.plain()
    wrong = report.problems(rows, EXPECTED, stack.worlds)
    say.plain(report.counts(stack.worlds))
    if wrong:
        say.plain(f"demo failed: {len(wrong)} thing(s) ended wrong")
        for problem in wrong:
            say.plain(f"  - {problem}")
        return False
    say.say(f"demo passed: all {len(rows)} items ended as expected, none created twice")
    return True


def _list_pages(stack: Stack, say: Narrator) -> None:
    pages = open_pages(stack)
    width = max(len(what) for what, _ in pages)
    say.plain()
    say.plain("Everything keeps running. Open:")
    for what, address in pages:
        say.plain(f"  {what.ljust(width)}  {address}")
    say.plain("Ctrl-C stops it.")
