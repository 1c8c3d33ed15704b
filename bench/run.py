"""`make bench`: every bench in turn, each within its time budget, then docs/benchmarks.md.

Each step is a process of its own (`STEPS`: the script, its arguments, its budget in seconds);
one that overruns its budget is killed with everything it started, and counts as crashed. A
step writes its figures to `bench/results/<name>.json` (`bench/results.py`); its output goes to
`bench/results/<step>.log` and to this terminal. The run's own record (each step's time and
exit status, the load average before and after) is `bench/results/_run.json`; then
`bench/report.py` writes docs/benchmarks.md from all of them and the templates.

Exit status: 1 if a step crashed (non-zero exit, over its budget, or no result written) or a
correctness target was not met (anything created twice or lost, a 5xx in the fuzz run); a
missed speed target is written down and does not fail the run.

Run: `make bench`, or `.venv/bin/python bench/run.py [--only STEP ...] [--skip STEP ...]
[--no-report]`; `--only` keeps the other steps' results of an earlier run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from report import write_report
from results import RESULTS, failed_correctness_in

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Step:
    name: str  # the step, and the log's name
    script: str
    args: tuple[str, ...]
    budget: float  # seconds before it is killed
    results: tuple[str, ...]  # the result files it must write (names without .json)


STEPS = (
    Step("intake", "intake.py", (), 60, ("intake",)),
    Step("owners", "owners.py", ("--timeout", "60"), 150, ("owners",)),
    Step("reconcile", "reconcile.py", (), 150, ("reconcile",)),
    Step("calls_per_task", "calls_per_task.py", (), 90, ("calls_per_task",)),
    Step("rate_limits", "rate_limits.py", (), 120, ("rate_limits",)),
    Step("slack_ack", "slack_ack.py", (), 120, ("slack_ack-sqlite",)),
    Step("api_fuzz", "api_fuzz.py", ("--seconds", "60"), 120, ("api_fuzz",)),
    Step("http_api", "http_api.py", ("--rounds", "20"), 240, ("http_api",)),
    Step("throughput", "throughput.py", (), 240, ("throughput",)),
    Step("flush", "flush.py", (), 180, ("flush",)),
    Step(
        "chaos_clickup",
        "exactly_once.py",
        ("--scenario", "kill-10k", "--full", "--deadline", "480"),
        600,
        ("exactly_once-kill-10k",),
    ),
    Step(
        "chaos_notion",
        "exactly_once.py",
        ("--scenario", "notion-kill-10k", "--full", "--deadline", "480"),
        600,
        ("exactly_once-notion-kill-10k",),
    ),
)


def run_step(step: Step) -> dict[str, Any]:
    """Run one step within its budget; what happened."""
    for name in step.results:
        (RESULTS / f"{name}.json").unlink(missing_ok=True)
    log = RESULTS / f"{step.name}.log"
    command = [sys.executable, str(ROOT / "bench" / step.script), *step.args]
    print(f"\n=== {step.name} (budget {step.budget:.0f} s): {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    cpu_before = _children_cpu()
    timed_out = False
    with log.open("w") as output:
        # A session of its own: on overrun, the step and everything it started are killed.
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, bufsize=1,
        )  # fmt: skip
        copier = threading.Thread(target=_copy, args=(process, output), daemon=True)
        copier.start()
        try:
            process.wait(timeout=step.budget)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        copier.join(timeout=10)
    seconds = time.monotonic() - started
    cpu = _children_cpu() - cpu_before
    missing = [name for name in step.results if not (RESULTS / f"{name}.json").exists()]
    code = process.returncode
    crashed = timed_out or code != 0 or bool(missing)
    said = "over its budget, killed" if timed_out else f"exit {code}"
    print(f"=== {step.name}: {seconds:.1f} s ({cpu:.1f} s of CPU), {said}"
          + (f", no result: {', '.join(missing)}" if missing else ""), flush=True)  # fmt: skip
    return {
        "name": step.name, "command": " ".join([".venv/bin/python", f"bench/{step.script}",
                                                 *step.args]),
        "budget": step.budget, "seconds": round(seconds, 1), "cpu": round(cpu, 1), "exit": code,
        "timed_out": timed_out, "missing": missing, "crashed": crashed,
        "results": list(step.results),
    }  # fmt: skip


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _children_cpu() -> float:
    """CPU seconds (user and system) of the ended processes this one waited for: a step's
    own, the processes it started included. PostgreSQL's server processes are not counted."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _copy(process: subprocess.Popen[str], output: TextIO) -> None:
    """The step's output, to its log and to this terminal, line by line."""
    assert process.stdout is not None
    for line in process.stdout:
        output.write(line)
        sys.stdout.write(line)
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [s.name for s in STEPS]
    parser.add_argument("--only", nargs="+", choices=names, help="run these steps only")
    parser.add_argument("--skip", nargs="+", choices=names, default=[], help="leave these out")
    parser.add_argument("--no-report", action="store_true", help="do not write the document")
    options = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    chosen = [s for s in STEPS if (not options.only or s.name in options.only)]
    chosen = [s for s in chosen if s.name not in options.skip]
    record = RESULTS / "_run.json"
    earlier: dict[str, dict[str, Any]] = {}
    if options.only and record.exists():  # a partial run keeps the other steps' record
        earlier = {s["name"]: s for s in json.loads(record.read_text())["steps"]}
    commit = _git("rev-parse", "--short", "HEAD")
    # The document this run rewrites does not count as a change to the code measured.
    changed = _git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/benchmarks.md"
    )
    load_before = os.getloadavg()
    started = time.monotonic()
    begun = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    steps = [run_step(step) for step in chosen]
    total = time.monotonic() - started
    load_after = os.getloadavg()
    by_name = {**earlier, **{s["name"]: s for s in steps}}
    ordered = [by_name[s.name] for s in STEPS if s.name in by_name]
    record.write_text(json.dumps({
        "started": begun, "commit": commit, "changed": bool(changed),
        "seconds": round(total, 1), "partial": bool(options.only or options.skip),
        "load_before": load_before, "load_after": load_after, "steps": ordered,
    }, indent=2) + "\n")  # fmt: skip
    crashed = [s["name"] for s in steps if s["crashed"]]
    wrong = failed_correctness_in([r for s in chosen for r in s.results])
    print(
        f"\nmake bench: {len(steps)} steps in {total:.0f} s ({total / 60:.1f} min); load "
        f"average {load_before[0]:.1f} before, {load_after[0]:.1f} after",
        flush=True,
    )
    if not options.no_report:
        print(f"wrote {write_report()}")
    if crashed:
        print(f"crashed: {', '.join(crashed)}")
    if wrong:
        print(f"correctness targets not met: {', '.join(wrong)}")
    return 1 if crashed or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
