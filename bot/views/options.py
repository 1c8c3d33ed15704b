"""The answer to a Home tab menu asking for options as the person types (`block_suggestion`):
their own ClickUp lists or Notion databases, filtered by what they typed.

    destination_options(catalog.destinations, query) -> {"options": [...]}
    placeholder_option("Still reading your lists…")   one option saying why there is nothing
                                                       to choose yet (its value is NO_CHOICE)

Slack shows at most 100 options an answer, each at most 75 characters, each value at most
150. A long path is shortened from the left ("… / Folder / List") since the last part is the
list's own name. Every word typed must appear in the path (any case), and names that start
with the query come first, so typing narrows a catalog of thousands to the one wanted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from bot.views.blocks import OPTION_TEXT, OPTION_VALUE, OPTIONS, option
from bot.views.mrkdwn import ELLIPSIS, cut, one_line

SEPARATOR = " / "


class Choice(Protocol):
    """A list or database as the catalog holds it (`providers.base.Destination` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def display_name(self) -> str: ...


def option_text(display_name: str) -> str:
    """`display_name` within an option's 75 characters, keeping its end (the list's name)."""
    name = one_line(display_name)
    if len(name) <= OPTION_TEXT:
        return name
    parts = name.split(SEPARATOR)
    while len(parts) > 1:
        parts = parts[1:]
        shortened = SEPARATOR.join((ELLIPSIS, *parts))
        if len(shortened) <= OPTION_TEXT:
            return shortened
    return cut(name, OPTION_TEXT)


def destination_option(choice_id: str, display_name: str) -> dict[str, Any]:
    """One option (also the menu's initial option, so both read the same)."""
    return option(option_text(display_name) or choice_id, choice_id)


def destination_options(destinations: Iterable[Choice], query: str = "") -> dict[str, Any]:
    """At most 100 options of `destinations` matching `query`, prefix matches first."""
    wanted = query.casefold().split()
    starting: list[dict[str, Any]] = []
    containing: list[dict[str, Any]] = []
    seen: set[str] = set()
    for choice in destinations:
        if not choice.id or len(choice.id) > OPTION_VALUE or choice.id in seen:
            continue
        name = one_line(choice.display_name)
        folded = name.casefold()
        if not all(word in folded for word in wanted):
            continue
        seen.add(choice.id)
        last = folded.rsplit(SEPARATOR.strip(), 1)[-1].strip()
        prefix = bool(wanted) and (folded.startswith(wanted[0]) or last.startswith(wanted[0]))
        (starting if prefix else containing).append(destination_option(choice.id, name))
        if len(starting) >= OPTIONS:
            break
    return {"options": (starting + containing)[:OPTIONS]}


NO_CHOICE = "none"  # the value of a placeholder option: never a list's or database's id


def placeholder_option(text: str) -> dict[str, Any]:
    """An option that says why there is nothing to choose (choosing it changes nothing)."""
    return option(text, NO_CHOICE)
