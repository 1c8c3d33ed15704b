"""Menus that ask for their options as the person types (`block_suggestion`).

    home:default_destination:<tool>   the Home tab's default list / database: that tool's
    task:project_menu                 the "Create task" modal's project: both tools, grouped

Each answer holds at most 100 options matching what was typed, from the person's own catalog
(`IntegrationUtility.destination_choices`: the cache, an old catalog answered at once and read
again in the background; a tool is waited for only when nothing is cached, and only until
`TOOL_DEADLINE` seconds after the listener started). The whole answer is
bounded by `ANSWER_WAIT`, inside Slack's 3 seconds: past it, or on any failure, the menu gets
one placeholder option saying to type again — never an error, never silence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp

from bot.views.actions import DEFAULT_DESTINATION
from bot.views.options import destination_options, placeholder_option
from bot.views.task_modal import PROJECT_MENU, project_options
from primitives.enums import ProviderName
from routing.destinations import DestinationChoices

if TYPE_CHECKING:
    from bot.listeners.deps import ListenerDeps

log = logging.getLogger(__name__)

# Seconds after the listener started, the last moment to wait for a tool. Slack's 3 s also
# cover the way to us and back and Bolt's own work, which under a burst of 50 requests in one
# process took 0.3 to 0.5 s (tests/bot/test_ack_time.py): 1.5 s keeps a second in hand.
TOOL_DEADLINE = 1.5
ANSWER_WAIT = 2.2  # seconds for the whole answer, whatever happens (a database that hangs)
QUERY_LIMIT = 200  # what a person types in a menu; the rest is ignored

Listener = Callable[..., Awaitable[None]]
Answer = dict[str, Any]


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    """The Home tab's destination menus and the task modal's project menu."""
    for tool, menu in DEFAULT_DESTINATION.items():
        if tool in deps.tools:
            app.block_suggestion(menu)(_answering(deps, _home_menu(deps, tool)))
    app.block_suggestion(PROJECT_MENU)(_answering(deps, _project_menu(deps)))


# (team, user, query, seconds the tool may still be waited for) -> answer
Build = Callable[[str, str, str, float], Awaitable[Answer]]


def _answering(deps: ListenerDeps, build: Build) -> Listener:
    """A listener answering with `build`'s options within `ANSWER_WAIT` seconds."""

    async def answer(ack: Any, body: dict[str, Any]) -> None:
        started = deps.clock.monotonic()
        user = body.get("user") or {}
        team_id = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        user_id = str(user.get("id") or "")
        query = str(body.get("value") or "")[:QUERY_LIMIT]
        try:
            left = TOOL_DEADLINE - (deps.clock.monotonic() - started)
            found = await asyncio.wait_for(build(team_id, user_id, query, left), ANSWER_WAIT)
        except TimeoutError:
            log.warning("a menu's options took more than %.1f s", ANSWER_WAIT)
            found = {"options": [placeholder_option("Still loading… type again in a moment")]}
        except Exception:
            log.exception("a menu's options could not be read")
            found = {"options": [placeholder_option("Your lists cannot be read now; try again")]}
        await ack(**found)

    return answer


def _home_menu(deps: ListenerDeps, tool: ProviderName) -> Build:
    async def build(team_id: str, user_id: str, query: str, left: float) -> Answer:
        choices = await deps.utility.destination_choices(
            user_id, team_id=team_id, provider=tool, wait=left
        )
        found = destination_options(choices.destinations, query)
        if not found["options"]:
            note = _why_nothing(choices, query)
            found["options"] = [placeholder_option(note)] if note else []
        return found

    return build


def _why_nothing(choices: DestinationChoices, query: str) -> str | None:
    tool = choices.provider
    if not choices.connected:
        return f"Connect {tool.label} first"
    if choices.loading:
        return f"Still reading your {tool.label} {tool.destination_kind}s… type again"
    if query.strip():
        return None  # Slack says "No results"
    return f"No {tool.label} {tool.destination_kind} Scrumy Tasks can reach"


def _project_menu(deps: ListenerDeps) -> Build:
    async def build(team_id: str, user_id: str, query: str, left: float) -> Answer:
        choices = await asyncio.gather(
            *(
                deps.utility.destination_choices(user_id, team_id=team_id, provider=tool, wait=left)
                for tool in deps.tools
            )
        )
        return project_options(choices, query)

    return build
