"""A longer schemathesis run against the HTTP API: examples tried and 5xx found, in bounded time.

What `tests/sidecar/test_schemathesis.py` does, for longer: the app as `scrumy serve` builds it
(`tests.sidecar.harness.served_sidecar`: a fresh database, the ClickUp, Notion and Slack
emulators, the app on uvicorn on 127.0.0.1), an API key of the workspace, one task stored to
read; schemathesis reads `/openapi.json` and throws cases at every operation, positive ones
(half of them steered to the key's team and a real person, so they get past the team check) and
negative ones. The checks are the test's: no 5xx, status code, content type, headers and body
conforming to the document, and negative data rejected.

The run is bounded: `--seconds` (160 by default) is shared out equally among the operations and
their two modes; each runs batches of BATCH examples, each batch under a new seed, until its
share is spent. Failures are collected, not shrunk: the first example of each distinct failure is
printed. Target: no 5xx. Run: `.venv/bin/python bench/api_fuzz.py [--seconds 160]` (also a step
of `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-ins in tests/

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as with_seed
from hypothesis import strategies as st
from results import Figure, record, verdict
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import negative_data_rejection

from tests.fakes import FakeClock
from tests.sidecar.harness import ANA, TEAM, served_sidecar
from tests.sidecar.test_schemathesis import CHECKS, _steer

BATCH = 50


@dataclass
class Tally:
    """What the run tried and found."""

    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # first line of a failure -> example

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _batch(
    strategy: Any, seed: int, base_url: str, headers: dict[str, str], checks: list[Any],
    label: str, tally: Tally,
) -> None:  # fmt: skip
    @with_seed(seed)
    @settings(
        max_examples=BATCH,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Case[Any]) -> None:
        response = case.call(base_url=base_url, headers=headers)
        tally.examples += 1
        tally.statuses[response.status_code] += 1
        tally.by_operation[label] += 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except Exception as error:  # collected, not shrunk: the run goes on
            first = f"{label}: {str(error).strip().splitlines()[0]}"
            tally.failures.setdefault(first, f"{error}")

    check()


def fuzz(base_url: str, api_key: str, seconds: float) -> Tally:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {api_key}"}
    tally = Tally()
    runs: list[tuple[str, Any, list[Any]]] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            tally.failures["the document does not load"] = str(result.err())
            continue
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            generated = operation.as_strategy(generation_mode=mode)
            if mode is GenerationMode.POSITIVE:
                steered = st.one_of(generated, generated.map(_steer))
                runs.append((f"{operation.label} [positive]", steered, list(CHECKS)))
            else:
                runs.append((f"{operation.label} [negative]", generated,
                             [*CHECKS, negative_data_rejection]))  # fmt: skip
    share = seconds / max(1, len(runs))
    for label, strategy, checks in runs:
        ends = time.monotonic() + share
        seed = 0
        while time.monotonic() < ends:
            _batch(strategy, seed, base_url, headers, checks, label, tally)
            seed += 1
    return tally


async def main(seconds: float) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite+aiosqlite:///{folder}/fuzz.db"
        async with served_sidecar(database_url, FakeClock()) as harness:
            key = await harness.api_key(TEAM)
            await harness.utility.create_task(ANA, {"title": "Something to read"}, team_id=TEAM)
            tally = await asyncio.to_thread(fuzz, harness.base_url, key, seconds)
    took = time.monotonic() - started
    print(f"{tally.examples:,} examples in {took:.0f} s, {len(tally.by_operation)} operation modes")
    table = ["| operation | examples |", "| --- | ---: |"]
    table += [f"| {label} | {n:,} |" for label, n in sorted(tally.by_operation.items())]
    print("\n".join(table))
    statuses = ", ".join(f"{n:,} x {status}" for status, n in sorted(tally.statuses.items()))
    print(f"\nstatuses: {statuses}")
    met = tally.server_errors == 0
    print(f"5xx: {tally.server_errors} (target 0: {verdict(met)}); "
          f"distinct failures of any check: {len(tally.failures)}")  # fmt: skip
    for first, whole in tally.failures.items():
        print(f"\n--- {first}\n{whole}")
    record(
        "api_fuzz", title="A longer schemathesis run against the HTTP API",
        measured=f"schemathesis against `/openapi.json` of the app as `scrumy serve` builds it "
        f"(SQLite, the emulators), positive and negative cases for each of the "
        f"{len(tally.by_operation)} operation modes, {seconds:g} s shared out",
        figures=[
            Figure("examples run", f"{tally.examples:,} in {took:.0f} s"),
            Figure("5xx answers", str(tally.server_errors), target="0", verdict=verdict(met),
                   correctness=True),
            Figure("failures of any other check (status, content type, headers, body, "
                   "negative data refused)", str(len(tally.failures)), target="0",
                   verdict=verdict(not tally.failures)),
        ],
        table=table, notes=[f"statuses: {statuses}"], seconds=took,
    )  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=160.0, help="time to share out")
    args = parser.parse_args()
    asyncio.run(main(args.seconds))
