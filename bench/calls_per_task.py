"""Provider API calls per created task: a meeting of 50 items for one person, ClickUp and Notion.

The product (`tool_meeting.product_meeting`): Ana connects the tool (which reads her catalog),
a meeting of ITEMS items she owns is stored by `IntegrationUtility.process_meeting`, and the
worker runs until every task exists at the emulator. Every request the emulator answers is
counted (`world.requests`, 429s included). The baseline (`tool_meeting.naive_meeting`) is the
original design's call pattern against the same emulator: a lookup of the destination by name
before every create (ClickUp: spaces, lists, create = 3; Notion: search, create = 2).

Each runs twice: with the emulators' limits off, and with the real ones (ClickUp 100 requests a
minute per token, Notion 3 a second with a burst of 10), on a clock SCALE times faster than real
time (`tool_meeting.ScaledClock`). Target: 1.00 call per created task.
Run: `.venv/bin/python bench/calls_per_task.py` (also a step of `make bench`; about 20 s).
"""

from __future__ import annotations

import argparse
import asyncio

from results import Figure, record, verdict
from tool_meeting import CLICKUP, NOTION, Limits, Run, naive_meeting, product_meeting

ITEMS = 50
SCALE = 10.0


def row(code: str, limits: str, run: Run) -> str:
    connect = f"{run.connect_calls} ({run.with_connect_per_task:.2f})" if run.connect_calls else "-"
    return (
        f"| {run.tool.label} | {code} | {limits} | {run.created} | {run.meeting_calls} "
        f"| **{run.calls_per_task:.2f}** | {connect} | {run.refused} | {run.seconds:.1f} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=ITEMS)
    parser.add_argument("--scale", type=float, default=SCALE, help="clock speed-up")
    args = parser.parse_args()
    print(f"{args.items}-item meeting, one owner, clock x{args.scale:g}; target 1.00 call a task\n")
    table = [
        "| tool | code | emulator limits | created | calls | calls a task | connect calls "
        "(a task, with them) | 429s | scaled s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    print("\n".join(table))
    figures: list[Figure] = []
    for tool in (CLICKUP, NOTION):
        for label, limits in (("none", Limits.none()), ("real", Limits())):
            for code, meeting in (("now", product_meeting), ("naive baseline", naive_meeting)):
                run = await meeting(tool, args.items, limits, scale=args.scale)
                table.append(row(code, label, run))
                print(table[-1], flush=True)
                if code == "now":
                    figures.append(Figure(
                        f"{tool.label}, emulator limits {label}: provider calls a created task "
                        f"({run.created} of {args.items} created)",
                        f"{run.calls_per_task:.2f}", target="1.00",
                        verdict=verdict(run.created == args.items and run.calls_per_task <= 1.0),
                    ))  # fmt: skip
    record(
        "calls_per_task", title="Provider calls per created task",
        measured=f"a {args.items}-item meeting for one person through the product (connect, "
        "intake, the worker) against the ClickUp or Notion emulator in process; every request "
        f"the emulator answers counted, 429s included; clock x{args.scale:g}",
        figures=figures, table=table,
    )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
