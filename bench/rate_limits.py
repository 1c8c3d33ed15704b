"""Rate-limit efficiency: one person's 100-item meeting against ClickUp's and Notion's limits.

The product end to end, as `tool_meeting.product_meeting` runs it: Ana connects (the catalog
read spends some of her budget), a meeting of N items she owns is stored, and the worker (its
default config: batches of 20, 8 at a time) runs until every task exists at the emulator. The
emulators enforce the documented limits: ClickUp 100 requests a minute per token in a fixed
window opened by the token's first request (reset announced in whole seconds), Notion 3 a
second on average with a burst of 10. Efficiency is the time from intake to the last create ÷
(N ÷ limit); target ≤ 1.10, and at most one 429.

Time: a `ScaledClock` SCALE times faster than real time, shared by the emulator's window, the
client's limiter and the worker, so ClickUp's minutes take seconds. Our own CPU time weighs
SCALE times more on it, so a scaled figure is an upper bound; Notion also runs on the real
clock (x1, about 35 s). Run: `.venv/bin/python bench/rate_limits.py` (also a step of
`make bench`; about a minute).
"""

from __future__ import annotations

import argparse
import asyncio

from results import Figure, record, verdict
from tool_meeting import CLICKUP, NOTION, Limits, product_meeting

from primitives.enums import ProviderName

ITEMS = 100
TARGET = 1.10


async def measure(tool: ProviderName, items: int, scale: float) -> tuple[str, Figure]:
    limits = Limits()
    per_second = limits.clickup_per_minute / 60 if tool is CLICKUP else limits.notion_per_second
    ideal = items / per_second
    run = await product_meeting(tool, items, limits, scale=scale)
    ratio = run.seconds / ideal
    met = ratio <= TARGET and run.refused <= 1
    line = (
        f"| {tool.label} | {items} | x{scale:g} | {ideal:.1f} | {run.seconds:.1f} "
        f"| **{ratio:.2f}** | {run.refused} | {run.meeting_calls} | {run.real_seconds:.1f} "
        f"| {'met' if met else 'missed'} |"
    )
    print(line, flush=True)
    clock = "real clock" if scale == 1 else f"clock x{scale:g}"
    return line, Figure(
        f"{tool.label}, {items} items, {clock}: time ÷ (N ÷ limit), 429s",
        f"{ratio:.2f}, {run.refused} x 429 ({run.seconds:.1f} s against {ideal:.1f} s)",
        target="<= 1.10, at most one 429",
        verdict=verdict(met),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=10.0, help="clock speed-up")
    args = parser.parse_args()
    print(f"target: wall ÷ (N ÷ limit) <= {TARGET:.2f} and at most one 429\n")
    table = [
        "| tool | items | clock | ideal s | s | ratio | 429s | calls | real s | target |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    print("\n".join(table))
    figures: list[Figure] = []
    runs = [
        (CLICKUP, ITEMS, args.scale),
        (CLICKUP, 250, args.scale),  # across windows: the first minute's head start matters less
        (NOTION, ITEMS, args.scale),
        (NOTION, ITEMS, 1.0),
    ]
    # A missed target is reported, not raised: the steps after this one still run.
    for tool, items, scale in runs:
        line, figure = await measure(tool, items, scale)
        table.append(line)
        figures.append(figure)
    record(
        "rate_limits", title="Rate-limit efficiency",
        measured="one person's meeting through the product (connect, intake, the worker with "
        "its defaults) against emulators enforcing the documented limits (ClickUp 100 a minute "
        "per token, fixed window; Notion 3 a second, burst 10); 429s counted at the emulator",
        figures=figures, table=table,
    )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
