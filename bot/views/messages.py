"""Direct messages and `/tasks` replies: what a person is told, each as a `SlackMessage`.

    flush_done({ClickUp: 5})              "5 waiting tasks were created in ClickUp"
    task_finished("Fix login", ClickUp, url, None, created=True)   "Created “Fix login” in ClickUp"
    reconnect_needed(Notion)              "Reconnect Notion to keep creating tasks" [Connect]
    connection_made(ClickUp, "ada@acme.com", "Acme")
        "ClickUp (ada@acme.com, Acme) is now connected to your Slack account. Not you?"
        [Disconnect]
    help_reply(), status_reply(...), pending_reply(...)   the private `/tasks` answers
    connect_reply({ClickUp: url})         "Connect ClickUp with your own link" [Connect ClickUp]
    notice("ClickUp is disconnected.")    one sentence, privately, after a command or a click

Names from a tool or a person are escaped (`bot.views.mrkdwn`) in the text and the blocks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from bot.views.blocks import (
    MESSAGE_BLOCKS,
    Block,
    SlackMessage,
    action_row,
    context,
    section,
)
from bot.views.connections import connect_button, connection_of, disconnect_button, link_button
from bot.views.home import MODE_LABELS, REVIEW_LABELS
from bot.views.mrkdwn import cut, fit, link, one_line
from bot.views.task_lines import owner_buttons, task_line, unique_tasks
from primitives.enums import ProviderName
from routing.connections import AuthStatus
from routing.preferences import PreferenceDetails
from routing.results import TaskResult

PENDING_SHOWN = 20  # two blocks each, within a message's 50
assert 1 + 2 * PENDING_SHOWN + 1 <= MESSAGE_BLOCKS


def _tasks(count: int) -> str:
    return f"{count} waiting task{'s' if count != 1 else ''}"


def flush_done(created: Mapping[ProviderName, int], *, failed: int = 0) -> SlackMessage:
    """After a person connected: how many of their waiting tasks were created, and where."""
    parts = [(tool, count) for tool, count in created.items() if count > 0]
    if parts:
        (tool, count), rest = parts[0], parts[1:]
        verb = "were" if count != 1 else "was"
        text = f"{_tasks(count)} {verb} created in {tool.label}"
        text += "".join(f" and {n} in {t.label}" for t, n in rest)
    else:
        text = "No waiting tasks were created"
    if failed:
        text += f"; {failed} could not be — see `/tasks pending`"
    return SlackMessage(text, (section(f":white_check_mark: {text}.", block_id="flush"),))


def task_finished(
    title: str, tool: ProviderName | None, url: str | None, reason: str | None, *, created: bool
) -> SlackMessage:
    """A task of no meeting (the "Create task" shortcut, the API) was created, or failed."""
    name = one_line(title)
    if created:
        where = f" in {tool.label}" if tool else ""
        text = f"Created “{cut(name, 150)}”{where}"
        line = f":white_check_mark: Created {link(url, name, 300)}{where}."
    else:
        text = f"“{cut(name, 150)}” could not be created"
        line = f":x: “{fit(name, 300)}” could not be created"
        line += f": {fit(one_line(reason), 400)}" if reason else "."
        line += " See `/tasks pending` to retry."
    return SlackMessage(text, (section(line, block_id="task"),))


def reconnect_needed(tool: ProviderName, *, waiting: int = 0) -> SlackMessage:
    """A person's connection stopped working (revoked or expired)."""
    text = f"Reconnect {tool.label} to keep creating tasks"
    detail = f":warning: Your {tool.label} connection stopped working. {text}"
    detail += f"; {_tasks(waiting)} until you do." if waiting else "."
    block = section(detail, block_id=f"reconnect:{tool.value}", accessory=connect_button(tool))
    return SlackMessage(text, (block,))


def connection_made(
    tool: ProviderName,
    account: str | None = None,
    workspace: str | None = None,
    *,
    replaced: bool = False,
) -> SlackMessage:
    """A tool was connected to a person's Slack account (`replaced`: instead of an earlier
    connection), so that someone else's account connected by mistake is noticed at once."""
    names = [fit(one_line(name), 255) for name in (account, workspace) if name and one_line(name)]
    who = f"{tool.label} ({', '.join(names)})" if names else tool.label
    if replaced:
        text = f"{who} now replaces your earlier {tool.label} connection. Not you?"
    else:
        text = f"{who} is now connected to your Slack account. Not you?"
    block = section(
        f":link: {text}", block_id=f"connected:{tool.value}", accessory=disconnect_button(tool)
    )
    return SlackMessage(text, (block,))


HELP = (
    "*`/tasks connect [clickup|notion]`* — connect a tool (you get a private link)\n"
    "*`/tasks disconnect &lt;tool&gt;`* — forget a connection; your tasks wait for a new one\n"
    "*`/tasks status`* — your connections and routing choices\n"
    "*`/tasks pending`* — your waiting tasks, with retry and dismiss\n"
    "*`/tasks review on|off`* — review a meeting's items before they are created, or not\n"
    "*`/tasks help`* — this list\n"
    "Routing and default lists are in the app's *Home* tab."
)


def help_reply(unknown: str | None = None) -> SlackMessage:
    """`/tasks help`, and the answer to anything `/tasks` does not know."""
    lead = ""
    if unknown is not None and unknown.strip():
        lead = f"I don't know `{fit(one_line(unknown), 100)}`. "
    text = f"{lead}Here is what `/tasks` can do:"
    return SlackMessage(text, (section(f"{text}\n{HELP}", block_id="help"),))


def status_reply(
    auth: AuthStatus,
    preferences: PreferenceDetails,
    *,
    tools: Sequence[ProviderName] = tuple(ProviderName),
) -> SlackMessage:
    """`/tasks status`: each connection, the routing choices, how many tasks wait."""
    lines = []
    for tool in tools:
        status = connection_of(auth, tool)
        where = f" ({fit(one_line(status.workspace), 255)})" if status.workspace else ""
        if status.connected:
            lines.append(f":large_green_circle: *{tool.label}*: connected{where}")
        elif status.needs_reconnect:
            lines.append(
                f":warning: *{tool.label}*: stopped working{where} — `/tasks connect {tool.value}`"
            )
        else:
            lines.append(f":white_circle: *{tool.label}*: not connected")
    lines.append(f"*Routing*: {MODE_LABELS[preferences.routing_mode]}")
    lines.append(f"*Meeting items*: {REVIEW_LABELS[preferences.review_first]}")
    if preferences.default_provider is not None:
        lines.append(f"*Default tool*: {preferences.default_provider.label}")
    for label, chosen in (
        ("Default ClickUp list", preferences.default_clickup_list),
        ("Default Notion database", preferences.default_notion_database),
    ):
        if chosen is not None:
            lines.append(f"*{label}*: {fit(one_line(chosen.name or chosen.id), 255)}")
    waiting = auth.pending_tasks_count
    lines.append(f"*Waiting for a connection*: {waiting}" if waiting else "Nothing waits.")
    connected = [t.label for t in tools if connection_of(auth, t).connected]
    text = f"Connected: {', '.join(connected)}" if connected else "Nothing connected yet"
    return SlackMessage(text, (section("\n".join(lines), block_id="status"),))


def pending_reply(
    tasks: Sequence[TaskResult],
    *,
    total: int | None = None,
    tools: Sequence[ProviderName] = tuple(ProviderName),
) -> SlackMessage:
    """`/tasks pending`: the person's tasks not yet created, with retry and dismiss."""
    unique = unique_tasks(tasks)
    shown = unique[:PENDING_SHOWN]
    count = max(total or 0, len(unique))
    if not shown:
        nothing = "Nothing is waiting"
        return SlackMessage(nothing, (section(f"{nothing}.", block_id="pending"),))
    text = _tasks(count).capitalize()
    blocks: list[Block] = [section(f"*{text}*", block_id="pending")]
    for number, task in enumerate(shown, start=1):
        blocks.append(section(task_line(task, show_owner=False), block_id=f"pending:{number}"))
        buttons = owner_buttons(task, tools)
        if buttons:
            blocks.append(action_row(buttons, block_id=f"pending_buttons:{number}"))
    if count > len(shown):
        more = f"and {count - len(shown)} more, shown once these are done"
        blocks.append(context(more, block_id="pending:more"))
    return SlackMessage(text, tuple(blocks))


def review_said(review_first: bool, *, changed: bool) -> str:
    """What `/tasks review [on|off]` answers."""
    if review_first:
        lead = "From now on you review" if changed else "You review"
        return (
            f"{lead} a meeting's action items before they are created: you get a direct "
            "message with Create, Edit and Dismiss for each. `/tasks review off` creates them "
            "at once."
        )
    lead = "From now on your" if changed else "Your"
    return (
        f"{lead} action items are created at once. `/tasks review on` lets you review them first."
    )


def notice(text: str) -> SlackMessage:
    """One private sentence (`mrkdwn`, escaped by the caller): what an action did, or what to
    do instead."""
    return SlackMessage(text, (section(text, block_id="notice"),))


def connect_reply(
    links: Mapping[ProviderName, str], *, connected: Collection[ProviderName] = ()
) -> SlackMessage:
    """A person's own connect links, one button each; a tool in `connected` is said to be
    connected already (connecting it again replaces that connection)."""
    tools = list(links)
    names = " and ".join(tool.label for tool in tools)
    text = f"Connect {names} with your own link"
    blocks: list[Block] = [
        section(
            f":link: {text}. It is only for you and works once, for a few minutes.",
            block_id="connect",
        )
    ]
    for tool in tools:
        line = f"*{tool.label}*"
        if tool in connected:
            line += f" is connected already; connecting again replaces that {tool.label} account."
        button = link_button(tool, links[tool])
        blocks.append(section(line, block_id=f"connect:{tool.value}", accessory=button))
    return SlackMessage(text, tuple(blocks))
