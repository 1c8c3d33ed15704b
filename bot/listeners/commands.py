"""`/tasks`, answered privately to the person who typed it (SPEC "What a person sees", 5):

    /tasks connect [clickup|notion]   their own connect link(s): the tool named, or each
                                      tool offered here that they have not connected
    /tasks disconnect <tool>          forget their connection to that tool
    /tasks status                     their connections and routing choices
    /tasks pending                    their tasks not yet created, with retry and dismiss
    /tasks review on|off              hold a meeting's items for them to review first, or
                                      create them at once (`routing.review`)
    /tasks help                       what `/tasks` can do; anything else is answered with
                                      help and a line saying what was not understood

Words are read in any case with any spacing (`parse_tasks`). The answer goes in the command's
ack, which Slack shows to that person alone; work that takes longer than Slack waits is
acknowledged first and answered privately after (`bot.listeners.replies.reply_within`), and so
is work not done at once while a burst of requests waits for their acks (`answer_within`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import AckGate
from bot.listeners.deps import ListenerDeps
from bot.listeners.replies import ANSWER_WITHIN, Ack, answer, reply_within, tell
from bot.views.blocks import SlackMessage
from bot.views.connections import connection_of
from bot.views.messages import (
    PENDING_SHOWN,
    connect_reply,
    help_reply,
    notice,
    pending_reply,
    review_said,
    status_reply,
)
from bot.views.mrkdwn import fit
from primitives.enums import ProviderName
from routing.results import WAITING_STATES

COMMAND = "/tasks"
SWITCH = {"on": True, "off": False}
TOOL_NAMES = {"clickup": ProviderName.CLICKUP, "click-up": ProviderName.CLICKUP,
              "notion": ProviderName.NOTION}  # fmt: skip


BUSY_AT = 10  # other requests waiting for their ack: past it, a burst
BUSY_ANSWER_WITHIN = 0.0  # seconds a command may take to answer in its ack during a burst


class Subcommand(StrEnum):
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    STATUS = "status"
    PENDING = "pending"
    REVIEW = "review"
    HELP = "help"


@dataclass(frozen=True)
class TasksRequest:
    """What `/tasks <text>` asks for. `tool_word` is the tool as typed (None when none was);
    `switch` is `/tasks review on|off`'s word (None: say how it is now); `unknown` is the text
    when it was not understood (the answer is help)."""

    verb: Subcommand
    tool_word: str | None = None
    unknown: str | None = None
    switch: bool | None = None

    @property
    def tool(self) -> ProviderName | None:
        return TOOL_NAMES.get(self.tool_word) if self.tool_word else None


def parse_tasks(text: str) -> TasksRequest:
    """`/tasks`' text as a request; case and spacing do not matter."""
    words = text.casefold().split()
    if not words:
        return TasksRequest(Subcommand.HELP)
    first, rest = words[0], words[1:]
    try:
        verb = Subcommand(first)
    except ValueError:
        return TasksRequest(Subcommand.HELP, unknown=text.strip())
    if verb in (Subcommand.CONNECT, Subcommand.DISCONNECT) and len(rest) <= 1:
        return TasksRequest(verb, tool_word=rest[0] if rest else None)
    if verb is Subcommand.REVIEW and len(rest) <= 1:
        if not rest:
            return TasksRequest(verb)
        if rest[0] in SWITCH:
            return TasksRequest(verb, switch=SWITCH[rest[0]])
    if rest:
        return TasksRequest(Subcommand.HELP, unknown=text.strip())
    return TasksRequest(verb)


def answer_within(acks: AckGate) -> float:
    """Seconds a command may take to be answered in its ack: `ANSWER_WITHIN`, or, while more
    than `BUSY_AT` other requests wait for their ack (a burst), `BUSY_ANSWER_WITHIN` — past
    it the command acks "working on it" and its answer follows privately, rather than every
    request of the burst waiting behind the commands' queries."""
    return BUSY_ANSWER_WITHIN if acks.pending - 1 > BUSY_AT else ANSWER_WITHIN


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    """`/tasks`."""

    async def tasks(ack: Ack, command: dict[str, Any], client: AsyncWebClient) -> None:
        team_id = str(command.get("team_id") or "")
        user_id = str(command.get("user_id") or "")
        channel_id = str(command.get("channel_id") or "") or None
        request = parse_tasks(str(command.get("text") or ""))
        work = answer(_reply(deps, request, team_id, user_id), f"/tasks {request.verb.value}")

        async def follow_up(message: SlackMessage) -> None:
            await deps.acks.after_acks()
            await tell(client, user_id=user_id, channel_id=channel_id, message=message)

        await reply_within(ack, work, follow_up=follow_up, seconds=answer_within(deps.acks))

    app.command(COMMAND)(tasks)


async def _reply(
    deps: ListenerDeps, request: TasksRequest, team_id: str, user_id: str
) -> SlackMessage:
    if request.verb is Subcommand.HELP:
        return help_reply(request.unknown)
    if request.verb in (Subcommand.CONNECT, Subcommand.DISCONNECT):
        problem = _tool_problem(deps, request)
        if problem is not None:
            return notice(problem)
    utility = deps.utility
    if request.verb is Subcommand.CONNECT:
        return await _connect(deps, request.tool, team_id, user_id)
    if request.verb is Subcommand.DISCONNECT:
        tool = request.tool
        assert tool is not None  # _tool_problem made sure
        if not await utility.disconnect(team_id=team_id, user_id=user_id, provider=tool):
            return notice(f"{tool.label} was not connected to your Slack account.")
        return notice(
            f"{tool.label} is disconnected. Your tasks wait until you connect a tool again."
        )
    if request.verb is Subcommand.REVIEW:
        if request.switch is not None:
            await utility.set_preferences(user_id, team_id=team_id, review_first=request.switch)
            return notice(review_said(request.switch, changed=True))
        details = await utility.preference_details(user_id, team_id=team_id)
        return notice(review_said(details.review_first, changed=False))
    if request.verb is Subcommand.STATUS:
        auth = await utility.get_auth_status(user_id, team_id=team_id)
        preferences = await utility.preference_details(user_id, team_id=team_id)
        return status_reply(auth, preferences, tools=deps.tools)
    page = await utility.tasks_of(
        user_id, team_id=team_id, states=WAITING_STATES, limit=PENDING_SHOWN
    )
    return pending_reply(page.tasks, total=page.total, tools=deps.tools)


def _tool_problem(deps: ListenerDeps, request: TasksRequest) -> str | None:
    """The sentence saying what is wrong with the tool named, if anything."""
    offered = " or ".join(f"`{tool.value}`" for tool in deps.tools) or "a tool"
    if request.tool_word is None:
        if request.verb is Subcommand.DISCONNECT:
            return f"Say which tool to disconnect: `/tasks disconnect` and {offered}."
        return None
    tool = request.tool
    if tool is None:
        return f"I don't know the tool `{fit(request.tool_word, 40)}`; say {offered}."
    if tool not in deps.tools:
        if not deps.tools:
            return f"{tool.label} is not set up here yet; ask whoever runs Scrumy Tasks."
        return f"{tool.label} is not offered here; say {offered}."
    return None


async def _connect(
    deps: ListenerDeps, tool: ProviderName | None, team_id: str, user_id: str
) -> SlackMessage:
    if deps.links is None or not deps.tools:
        return notice("Connecting a tool is not set up here; ask whoever runs Scrumy Tasks.")
    auth = await deps.utility.get_auth_status(user_id, team_id=team_id)
    connected = frozenset(t for t in deps.tools if connection_of(auth, t).connected)
    wanted = [tool] if tool is not None else [t for t in deps.tools if t not in connected]
    if not wanted:
        names = " and ".join(t.label for t in deps.tools)
        return notice(
            f"{names} {'are' if len(deps.tools) > 1 else 'is'} connected already. "
            "`/tasks connect &lt;tool&gt;` replaces an account; "
            "`/tasks disconnect &lt;tool&gt;` forgets one."
        )
    links = {t: deps.links.url_for(team_id=team_id, user_id=user_id, provider=t) for t in wanted}
    return connect_reply(links, connected=connected & set(wanted))
