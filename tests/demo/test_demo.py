"""`scrumy demo` as a person runs it (`make demo`): a subprocess that plays the whole story
against the emulators, prints its log and the final table, and exits 0.

The shell it runs in has real-looking settings of its own; the demo must ignore them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

# Each item: its owner, its state and the tool it landed in (the table's columns 2-4).
FINAL_TABLE = {
    "1 Draft the launch announcement": ("Ana Lima", "created", "ClickUp"),
    "2 Send the signed contract to legal": ("Ana Lima", "created", "ClickUp"),
    "3 Update the pricing page": ("Bo Chen", "created", "ClickUp"),
    "4 Write the onboarding checklist": ("Bo Chen", "created", "ClickUp"),
    "5 Fix the checkout crash on Safari": ("Cy Roy", "created", "ClickUp"),
    "6 Plan the roadmap review": ("Cy Roy", "created", "Notion"),
    "7 Write up the customer interviews": ("Cy Roy", "created", "Notion"),
    "8 Review the new design mockups": ("Dana Ortiz", "created", "Notion"),
}
TIMED_LINE = re.compile(r"^ *\d+\.\d\ds  \S")


def run_demo(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    shell = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-a-real-workspace",
        "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/nothing",
        "METRICS_TOKEN": "the-shells-own",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "scrumy", "demo", *args],
        env=shell, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    return result, time.monotonic() - started


def table_of(output: str) -> dict[str, tuple[str, ...]]:
    """The final table's rows, by item: its other columns."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("item "))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        item, *cells = re.split(r" {2,}", line.strip())
        rows[item] = tuple(cells)
    return rows


def test_the_demo_plays_the_whole_story_and_ends_with_every_item_where_expected() -> None:
    result, seconds = run_demo()

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    rows = table_of(out)
    assert {item: cells[:3] for item, cells in rows.items()} == FINAL_TABLE
    assert rows["6 Plan the roadmap review"][3] == "Product Roadmap"
    for item, cells in rows.items():
        link = cells[4]
        assert link.startswith(("https://app.clickup.com/t/", "https://www.notion.so/")), item
    assert "none created twice" in out.splitlines()[-1]
    assert "ClickUp holds 5 task(s)" in out and "Notion 3 page(s)" in out

    story = [line for line in out.splitlines() if TIMED_LINE.match(line)]
    for step in (
        "Ana installs Scrumy Tasks in Acme",
        "Bo connects ClickUp",
        "Dana opens the Home tab and sets her routing to “ask me”",
        "POST /api/meetings → 202",
        "Bo opens Ana's link (she pasted it to him) and is refused",
        "Ana opens it: Sign in with Slack → ClickUp's consent",
        "Dana's task is created in Notion",
        "The meeting message in #general links all 8 tasks",
    ):
        assert any(step in line for line in story), step
    # Progress, not debugging: nothing from the libraries' or the app's loggers.
    assert result.stderr == ""
    assert seconds < 45
