"""The App Home tab: a person's connections, routing choices, waiting and recent tasks.

    home_view(HomeState(...)) -> {"type": "home", "blocks": [...]}

At most 100 blocks whatever the person has: waiting tasks are capped at `WAITING_SHOWN` (two
blocks each, then "and N more — /tasks pending") and recent ones at `RECENT_SHOWN` (one block
each); the rest is a fixed number of blocks per tool. A connection that stopped working gets a
banner at the top with the only Reconnect button (an action id appears once per view).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.views import actions
from bot.views.blocks import (
    Block,
    action_row,
    context,
    divider,
    external_select,
    header,
    option,
    section,
    static_select,
)
from bot.views.connections import connect_button, connection_of, disconnect_button, link_button
from bot.views.mrkdwn import fit, one_line
from bot.views.options import destination_option
from bot.views.task_lines import owner_buttons, task_line, unique_tasks
from primitives.enums import ProviderName, RoutingMode
from routing.connections import AuthStatus
from routing.preferences import DefaultDestination, PreferenceDetails
from routing.results import TaskResult

WAITING_SHOWN = 10
RECENT_SHOWN = 10

MODE_LABELS = {
    RoutingMode.SMART: "Smart: by project, priority and length",
    RoutingMode.USER_CHOICE: "Ask me for each task",
    RoutingMode.DEFAULT: "Always my default tool",
}
REVIEW_LABELS = {False: "Create my items at once", True: "Let me review them first"}


@dataclass(frozen=True)
class HomeState:
    """What the Home tab shows of one person.

    `waiting` are their tasks not yet created (the first `WAITING_SHOWN` are shown, and
    `waiting_total` counts them all when more were read than given); `recent` their latest
    tasks; `accounts` the connected account of each tool as the person knows it (an e-mail or
    a name), when known; `tools` the tools this installation offers.
    """

    auth: AuthStatus
    preferences: PreferenceDetails
    waiting: Sequence[TaskResult] = ()
    waiting_total: int | None = None
    recent: Sequence[TaskResult] = ()
    accounts: Mapping[ProviderName, str] = field(default_factory=dict)
    tools: Sequence[ProviderName] = tuple(ProviderName)
    notice: str | None = None  # what the person's last click did (`mrkdwn`, escaped)
    connect_links: Mapping[ProviderName, str] = field(default_factory=dict)


def home_view(state: HomeState) -> dict[str, Any]:
    """The `view` argument of `views.publish`."""
    blocks: list[Block] = [header("Scrumy Tasks", block_id="home:title")]
    if state.notice:
        blocks.append(section(state.notice, block_id="home:notice"))
    for tool, url in state.connect_links.items():
        if tool in state.tools:
            blocks.append(
                section(
                    f":link: Your own link to connect *{tool.label}* is ready. It works once, "
                    "for a few minutes.",
                    block_id=f"home:link:{tool.value}",
                    accessory=link_button(tool, url, f"Open {tool.label}"),
                )
            )
    for tool in state.tools:
        if connection_of(state.auth, tool).needs_reconnect:
            blocks.append(
                section(
                    f":warning: *Your {tool.label} connection stopped working.* "
                    f"Reconnect {tool.label} to keep creating tasks; until then they wait.",
                    block_id=f"home:banner:{tool.value}",
                    accessory=connect_button(tool, f"Reconnect {tool.label}"),
                )
            )
    blocks += [header("Connections", block_id="home:connections")]
    blocks += [_connection(state, tool) for tool in state.tools]
    blocks += [divider(), header("Routing", block_id="home:routing"), *_routing(state)]
    blocks += [divider(), *_waiting(state)]
    blocks += [divider(), *_recent(state)]
    return {"type": "home", "callback_id": "home", "blocks": blocks}


def _connection(state: HomeState, tool: ProviderName) -> Block:
    status = connection_of(state.auth, tool)
    block_id = f"home:connection:{tool.value}"
    where = _account(state.accounts.get(tool), status.workspace)
    if status.connected:
        text = f":large_green_circle: *{tool.label}* — connected{where}"
        return section(text, block_id=block_id, accessory=disconnect_button(tool))
    if status.needs_reconnect:
        text = f":warning: *{tool.label}* — stopped working{where}; reconnect it above"
        return section(text, block_id=block_id, accessory=disconnect_button(tool))
    text = f":white_circle: *{tool.label}* — not connected"
    return section(text, block_id=block_id, accessory=connect_button(tool))


def _account(account: str | None, workspace: str | None) -> str:
    parts = []
    if account and one_line(account):
        parts.append(f" as {fit(one_line(account), 320)}")
    if workspace and one_line(workspace):
        parts.append(f" in {fit(one_line(workspace), 255)}")
    return "".join(parts)


def _routing(state: HomeState) -> list[Block]:
    prefs = state.preferences
    modes = {mode: option(label, mode.value) for mode, label in MODE_LABELS.items()}
    reviews = {on: option(label, "on" if on else "off") for on, label in REVIEW_LABELS.items()}
    blocks = [
        _menu(
            "*When both tools are connected*\nWhere each task goes.", "home:routing_mode",
            "Choose how", actions.ROUTING_MODE, modes, prefs.routing_mode,
        ),
        _menu(
            "*A meeting's action items*\nCreated at once, or held for you to review first "
            "(a direct message with Create, Edit and Dismiss for each).", "home:review",
            "Choose", actions.REVIEW_FIRST, reviews, prefs.review_first,
        ),
    ]  # fmt: skip
    tool_options = {tool: option(tool.label, tool.value) for tool in state.tools}
    if len(tool_options) > 1:
        blocks.append(
            _menu(
                "*Default tool*\nUsed by “Always my default tool”, and by smart routing "
                "when nothing else decides.", "home:default_tool",
                "Choose a tool", actions.DEFAULT_TOOL, tool_options, prefs.default_provider,
            )
        )  # fmt: skip
    for tool in state.tools:
        blocks.append(_default_destination(state, tool))
    return blocks


def _menu(
    text: str,
    block_id: str,
    placeholder: str,
    action_id: str,
    choices: Mapping[Any, Block],
    chosen: object,
) -> Block:
    """A setting: its explanation, and a menu of `choices` with `chosen`'s option selected."""
    menu = static_select(
        placeholder, action_id=action_id, options=list(choices.values()),
        initial=choices.get(chosen) if chosen is not None else None,
    )  # fmt: skip
    return section(text, block_id=block_id, accessory=menu)


def _default_destination(state: HomeState, tool: ProviderName) -> Block:
    kind = tool.destination_kind
    block_id = f"home:default_destination:{tool.value}"
    chosen: DefaultDestination | None = (
        state.preferences.default_clickup_list
        if tool is ProviderName.CLICKUP
        else state.preferences.default_notion_database
    )
    status = connection_of(state.auth, tool)
    if not (status.connected or status.needs_reconnect):
        return section(
            f"*Default {tool.label} {kind}*\nConnect {tool.label} to choose one.",
            block_id=block_id,
        )
    hint = "" if chosen else f"\nNot chosen: tasks go to the first {kind} found."
    initial = None
    if chosen is not None and chosen.id and len(chosen.id) <= 150:
        initial = destination_option(chosen.id, chosen.name or chosen.id)
    return section(
        f"*Default {tool.label} {kind}*{hint}",
        block_id=block_id,
        accessory=external_select(
            f"Choose a {kind}", action_id=actions.DEFAULT_DESTINATION[tool], initial=initial
        ),
    )


def _waiting(state: HomeState) -> list[Block]:
    waiting = unique_tasks(state.waiting)
    shown = waiting[:WAITING_SHOWN]
    total = max(state.waiting_total or 0, len(waiting))
    blocks: list[Block] = [header(f"Waiting tasks ({total})", block_id="home:waiting")]
    if not shown:
        return [*blocks, context("Nothing is waiting.", block_id="home:waiting:none")]
    for number, task in enumerate(shown, start=1):
        line = task_line(task, show_owner=False)
        blocks.append(section(line, block_id=f"home:waiting:{number}"))
        buttons = owner_buttons(task, state.tools)
        if buttons:
            blocks.append(action_row(buttons, block_id=f"home:waiting_buttons:{number}"))
    if total > len(shown):
        more = f"and {total - len(shown)} more — `/tasks pending`"
        blocks.append(context(more, block_id="home:waiting:more"))
    return blocks


def _recent(state: HomeState) -> list[Block]:
    waiting = {task.task_id for task in unique_tasks(state.waiting)[:WAITING_SHOWN]}
    recent = [task for task in unique_tasks(state.recent) if task.task_id not in waiting]
    blocks: list[Block] = [header("Recent tasks", block_id="home:recent")]
    if not recent:
        return [*blocks, context("No tasks yet.", block_id="home:recent:none")]
    for number, task in enumerate(recent[:RECENT_SHOWN], start=1):
        blocks.append(section(task_line(task, show_owner=False), block_id=f"home:recent:{number}"))
    return blocks
