"""What a bench hands to `bench/report.py`: its figures, each against its target, as JSON.

Every bench ends with `record(...)`: one file `bench/results/<name>.json` (gitignored) with
what was measured, the command that reproduces it, each figure with its target and verdict,
the bench's own table (markdown rows) and a few lines of notes. `bench/run.py` runs the benches
of `make bench` and `bench/report.py` writes docs/benchmarks.md from these files.

A verdict is "met", "missed" or "reported" (a figure with no target). A figure marked
`correctness` (nothing created twice or lost, no 5xx) fails `make bench` when it is not met;
a missed speed target is written down and does not.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
MET, MISSED, REPORTED = "met", "missed", "reported"


@dataclass(frozen=True)
class Figure:
    """One figure: what it is, its value as written, its target and how it stands."""

    what: str
    result: str
    target: str = "none"
    verdict: str = REPORTED
    correctness: bool = False


def verdict(ok: bool) -> str:
    return MET if ok else MISSED


def command() -> str:
    """The command line that ran this bench, as one would type it from the repository."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        shown = str(script)
    return shlex.join([".venv/bin/python", shown, *sys.argv[1:]])


def record(
    name: str,
    *,
    title: str,
    measured: str,
    figures: Sequence[Figure],
    table: Sequence[str] = (),
    notes: Sequence[str] = (),
    seconds: float | None = None,
) -> Path:
    """Write `bench/results/<name>.json`; returns its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {
        "name": name,
        "title": title,
        "measured": measured,
        "command": command(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "seconds": seconds,
        "figures": [asdict(f) for f in figures],
        "table": list(table),
        "notes": list(notes),
    }
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def load(name: str) -> dict[str, Any] | None:
    """The result `name` wrote, None if there is none."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    body: dict[str, Any] = json.loads(path.read_text())
    return body


def failed_correctness_in(names: Sequence[str]) -> list[str]:
    """Of the results `names`, those with a correctness figure not met."""
    failed = []
    for name in names:
        body = load(name)
        figures = body["figures"] if body else []
        if any(f["correctness"] and f["verdict"] != MET for f in figures):
            failed.append(name)
    return failed
