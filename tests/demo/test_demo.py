"""`scrumy demo --serve` as a person runs it: a subprocess that plays the whole story against
the emulators, prints its log and the final table, keeps everything running with the pages to
open, and stops cleanly (exit 0) on Ctrl-C. `make demo` is the same without `--serve`.

The shell it runs in has real-looking settings of its own; the demo must ignore them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

# Each item: its owner, its state and the tool it landed in (the table's columns 2-4).
FINAL_TABLE = {
    "1 Draft the launch announcement": ("Ana Lima", "created", "ClickUp"),
    "2 Send the signed contract to legal": ("Ana Lima", "created", "ClickUp"),
    "3 Update the pricing page": ("Bo Chen", "created, done in ClickUp", "ClickUp"),
    # Reviewed by Bo first: he changed its title before creating it.
    "4 Write the onboarding checklist for agencies": ("Bo Chen", "created", "ClickUp"),
    "5 Fix the checkout crash on Safari": ("Cy Roy", "created", "ClickUp"),
    "6 Plan the roadmap review": ("Cy Roy", "created, done in Notion", "Notion"),
    "7 Write up the customer interviews": ("Cy Roy", "created", "Notion"),
    "8 Review the new design mockups": ("Dana Ortiz", "created", "Notion"),
}
TIMED_LINE = re.compile(r"^ *\d+\.\d\ds  \S")


def run_demo() -> tuple[str, str, int, float, dict[str, int]]:
    """Run `scrumy demo --serve`, open each page it lists, press Ctrl-C; (stdout, stderr, exit
    code, seconds until the story ended, the pages' HTTP statuses)."""
    shell = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-a-real-workspace",
        "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/nothing",
        "METRICS_TOKEN": "the-shells-own",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "scrumy", "demo", "--serve"],
        env=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops it"):
                break
        seconds = time.monotonic() - started
        listed = "".join(lines).rpartition("Everything keeps running. Open:")[2]
        pages = re.findall(r"(http://127\.0\.0\.1:\d+/\S*)", listed)
        statuses = {page: httpx.get(page, timeout=10).status_code for page in pages}
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=30)
    finally:
        process.kill()
    return "".join(lines) + rest, err, process.returncode, seconds, statuses


def table_of(output: str) -> dict[str, tuple[str, ...]]:
    """The final table's rows, by item: its other columns."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("item "))
    rows = {}
    for line in lines[start + 2 :]:
        if not line[:1].isdigit():
            break
        item, *cells = re.split(r" {2,}", line.strip())
        rows[item] = tuple(cells)
    return rows


def test_the_demo_plays_the_whole_story_and_ends_with_every_item_where_expected() -> None:
    out, err, code, seconds, pages = run_demo()

    assert code == 0, out + err
    rows = table_of(out)
    assert {item: cells[:3] for item, cells in rows.items()} == FINAL_TABLE
    assert rows["6 Plan the roadmap review"][3] == "Product Roadmap"
    for item, cells in rows.items():
        link = cells[4]
        assert link.startswith(("https://app.clickup.com/t/", "https://www.notion.so/")), item
    assert "ClickUp holds 5 task(s)" in out and "Notion 3 page(s)" in out
    assert "found after a lost response; not created twice" in out
    assert "none created twice" in out

    story = [line for line in out.splitlines() if TIMED_LINE.match(line)]
    for step in (
        "Ana installs Scrumy Tasks in Acme",
        "Bo connects ClickUp",
        "Dana opens the Home tab and sets her routing to “ask me”",
        "Bo types /tasks review on",
        "POST /api/meetings → 202",
        "Bo reviews his 2 items in his direct message (one message, updated in place): Edit",
        "Bo's 2 reviewed tasks are created",
        "Bo opens Ana's link (she pasted it to him) and is refused",
        "Ana opens it: Sign in with Slack → ClickUp's consent",
        "Cy clicks “ClickUp” on Dana's item and is told, privately: “Only @Dana can choose",
        "Dana's task is created in Notion",
        "Faults survived: ClickUp took 6 create requests for 5 tasks (one 429, one answer lost",
        "Notion answered 503 once and then 3 creates for 3 pages",
        "The meeting message in #general links all 8 tasks",
        "Bo marks “Update the pricing page” done in ClickUp → ClickUp's signed webhook → the "
        "meeting message's line says “✓ done in ClickUp”",
        "Cy marks “Plan the roadmap review” done in Notion → Notion's signed webhook (which "
        "names the page, not the change) → the app reads the page back → “✓ done in Notion”",
    ):
        assert any(step in line for line in story), step
    assert "“Your turn” is in #general for you to finish in the browser" in story[-2]
    assert story[-1].endswith("stopping")
    # The pages --serve lists answer while it runs.
    assert len(pages) == 10 and set(pages.values()) == {200}, pages
    # Progress, not debugging: nothing from the libraries' or the app's loggers.
    assert err == ""
    assert seconds < 45
