"""Write docs/benchmarks.md from the benches' results and the hand-written template.

The template, `bench/templates/benchmarks.md`, holds the prose: what each bench does, how to
read its figures, and what earlier runs found. Generated parts go where it says:

- `{{machine}}`: the machine, the date, the git commit and how long `make bench` took;
- `{{summary}}`: every figure that has a target, against it, and each step's time;
- `{{result NAME}}`: `bench/results/NAME.json` (`bench/results.py`): what was measured, the
  command, each figure against its target, and the bench's own table.

Run: `.venv/bin/python bench/report.py` (the last step of `make bench`; it only reads the
results, so it can be run again after editing the template).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results import RESULTS, load
from throwaway_db import POSTGRES

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "bench" / "templates" / "benchmarks.md"
DOCUMENT = ROOT / "docs" / "benchmarks.md"
PLACEHOLDER = re.compile(r"\{\{\s*(machine|summary|result\s+[\w.-]+)\s*\}\}")
SHOWN = {"met": "met", "missed": "**missed**", "reported": "-"}


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


async def _postgres_version() -> str:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(POSTGRES)
    try:
        async with engine.connect() as connection:
            return str((await connection.execute(text("SHOW server_version"))).scalar())
    except Exception as error:
        return f"not reachable ({type(error).__name__})"
    finally:
        await engine.dispose()


def machine(run: dict[str, Any] | None) -> str:
    commit = _git("rev-parse", "--short", "HEAD")
    changed = bool(_git("status", "--porcelain", "--untracked-files=no"))
    if run and run.get("commit"):  # the code the run measured, not the code at this report
        commit, changed = run["commit"], run["changed"]
    dirty = " with uncommitted changes" if changed else ""
    lines = [
        f"- machine: {os.cpu_count()} cores ({_cpu_model()}), {_memory_gib()} of memory, "
        f"{platform.system()} {platform.release()}",
        f"- software: Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {asyncio.run(_postgres_version())} on the same host",
        f"- code: commit `{commit}`{dirty}",
    ]
    if run:
        before, after = run["load_before"], run["load_after"]
        partial = " (a partial run: some steps kept from an earlier one)" if run["partial"] else ""
        lines.append(
            f"- run: `make bench` started {run['started']}, {run['seconds'] / 60:.1f} minutes"
            f"{partial}; load average {before[0]:.1f} before and {after[0]:.1f} after (1 min)"
        )
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary(run: dict[str, Any] | None) -> str:
    rows = ["| bench | figure | target | this run | verdict |", "| --- | --- | --- | --- | --- |"]
    for path in sorted(RESULTS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        body = json.loads(path.read_text())
        for figure in body["figures"]:
            if figure["target"] == "none":
                continue
            rows.append(
                f"| {body['name']} | {_cell(figure['what'])} | {_cell(figure['target'])} | "
                f"{_cell(figure['result'])} | {SHOWN.get(figure['verdict'], figure['verdict'])} |"
            )
    if run:
        rows += [
            "",
            "| step | command | budget s | took s | CPU s (the step's processes) | outcome |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        cpu_total = 0.0
        for step in run["steps"]:
            if step["timed_out"]:
                outcome = "**over its budget, killed**"
            elif step["crashed"]:
                outcome = f"**crashed** (exit {step['exit']})"
            else:
                outcome = "ran"
            cpu = step.get("cpu")
            cpu_total += cpu or 0.0
            rows.append(
                f"| {step['name']} | `{step['command']}` | {step['budget']:.0f} | "
                f"{step['seconds']:.1f} | {'' if cpu is None else f'{cpu:.1f}'} | {outcome} |"
            )
        took = sum(step["seconds"] for step in run["steps"])
        rows.append(f"| **all steps** | `make bench` | | **{took:.1f}** | {cpu_total:.1f} | |")
    return "\n".join(rows)


def result(name: str) -> str:
    body = load(name)
    if body is None:
        return f"_No result for `{name}` in this run (`bench/results/{name}.json` is missing)._"
    took = f", {body['seconds']:.1f} s" if body.get("seconds") else ""
    lines = [
        f"**This run** ({body['finished']}{took}): {body['measured']}.",
        "",
        f"Command: `{body['command']}`",
        "",
        "| figure | this run | target | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for figure in body["figures"]:
        target = "-" if figure["target"] == "none" else _cell(figure["target"])
        lines.append(
            f"| {_cell(figure['what'])} | {_cell(figure['result'])} | {target} | "
            f"{SHOWN.get(figure['verdict'], figure['verdict'])} |"
        )
    if body["table"]:
        lines += ["", *body["table"]]
    if body["notes"]:
        lines += ["", *(f"- {note}" for note in body["notes"])]
    return "\n".join(lines)


def write_report() -> Path:
    run_path = RESULTS / "_run.json"
    run = json.loads(run_path.read_text()) if run_path.exists() else None

    def fill(match: re.Match[str]) -> str:
        what = match.group(1)
        if what == "machine":
            return machine(run)
        if what == "summary":
            return summary(run)
        return result(what.split()[1])

    DOCUMENT.write_text(PLACEHOLDER.sub(fill, TEMPLATE.read_text()))
    return DOCUMENT


if __name__ == "__main__":
    print(f"wrote {write_report()}")
