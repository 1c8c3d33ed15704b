"""What the clients share to find tasks we may have created: windows and markers.

A reconcile asks "which of these tasks exist?" for a batch of `Lookup`s. Each tool lists the
tasks created in a window of time, so the lookups' windows are first rounded outwards to what
the tool can filter on (ClickUp: milliseconds; Notion: whole minutes) and merged where they
overlap or lie within `gap` of each other. Windows further apart get a listing each: listing
the tasks between them could cost more than a second listing does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from providers.base import Lookup


@dataclass(frozen=True)
class Window:
    """One listing: from `start` to `end` (both included), for `lookups`."""

    start: datetime
    end: datetime
    lookups: tuple[Lookup, ...]

    @property
    def markers(self) -> frozenset[str]:
        return frozenset(lookup.marker for lookup in self.lookups)


def merged_windows(
    lookups: Sequence[Lookup],
    *,
    gap: timedelta,
    widen: Callable[[datetime, datetime], tuple[datetime, datetime]] = lambda a, b: (a, b),
) -> list[Window]:
    """The listings that cover `lookups`, earliest first.

    `widen` rounds one lookup's window outwards to what the tool can filter on; windows that
    overlap or are at most `gap` apart once widened become one.
    """
    spans = sorted(
        (
            # A window that ends before it starts is read as the instant it starts.
            (*widen(lookup.sent_after, max(lookup.sent_after, lookup.landed_before)), lookup)
            for lookup in lookups
        ),
        key=lambda span: (span[0], span[1]),
    )
    windows: list[Window] = []
    for start, end, lookup in spans:
        last = windows[-1] if windows else None
        if last is not None and start <= last.end + gap:
            windows[-1] = Window(last.start, max(last.end, end), (*last.lookups, lookup))
        else:
            windows.append(Window(start, end, (lookup,)))
    return windows


def carries(text: str, marker: str) -> bool:
    """Whether `text` holds `marker` as a whole token (so `mk_1` is not found in `mk_12`)."""
    return re.search(rf"(?<![\w-]){re.escape(marker)}(?![\w-])", text) is not None


def same_title(a: str, b: str) -> bool:
    """Titles as the clients write them: runs of whitespace are one space."""
    return " ".join(a.split()) == " ".join(b.split())
