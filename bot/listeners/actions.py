"""The buttons of every surface — a meeting's message, direct messages, `/tasks` replies, the
Home tab — acknowledged at once, then acted on for the person who clicked:

    connect:<tool>[:<task>]   the CLICKER's own connect link (never the task owner's)
    disconnect:<tool>         the clicker's own connection
    choose:<tool>:<task>      the task's owner picks a tool; anyone else is told who can
    retry:<task>              the owner queues a failed task again
    dismiss:<task>            the owner does not want the task
    create:<task>             the owner creates an item under review (routed now)
    edit:<task>               the owner opens the item's Edit modal (`bot.listeners.review`)
    create_all:<meeting>      the owner creates every item of theirs under review there
    link:<tool>               a button that opened a connect link: nothing to do

What a click did is told privately: ephemeral in the channel clicked in (a direct message when
Slack refuses it there, or when there is no channel), or, in the Home tab, by publishing it
again with the answer on top. A double click, or Slack delivering a click again
(`X-Slack-Retry-Num`), changes nothing twice: each action is a guarded move in the domain
(`routing.actions`), and a second click is told where the task is now.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.deps import ListenerDeps
from bot.listeners.home import publish_home
from bot.listeners.replies import SOMETHING_WRONG, Ack, sentence, tell
from bot.listeners.review import open_edit
from bot.views import actions
from bot.views.actions import Action, UnknownAction, Verb, parse_action
from bot.views.blocks import SlackMessage
from bot.views.connections import connection_of
from bot.views.messages import connect_reply, notice
from bot.views.mrkdwn import fit, link, mention, one_line
from bot.views.review import released_sentence
from primitives.enums import ProviderName, TaskState
from routing.errors import RoutingError
from routing.results import TaskResult

log = logging.getLogger(__name__)

S = TaskState
CLICKS = re.compile(r"^(?:connect|disconnect|choose|retry|dismiss|create|edit|create_all):")
OUT_OF_DATE = "That button is out of date; open the Home tab or type `/tasks pending`."
GONE = "That task no longer exists."
TITLE_SHOWN = 120


@dataclass(frozen=True)
class Reply:
    """What a click did, for the clicker: a sentence (`mrkdwn`, escaped), and their own
    connect links when they asked for one."""

    text: str
    links: Mapping[ProviderName, str] = field(default_factory=dict)
    connected: frozenset[ProviderName] = frozenset()

    def message(self) -> SlackMessage:
        if self.links:
            return connect_reply(self.links, connected=self.connected)
        return notice(self.text)


@dataclass(frozen=True)
class Click:
    """Who clicked, in which workspace, and where: the Home tab, or a channel (None for a
    view without one)."""

    team_id: str
    user_id: str
    in_home: bool
    channel_id: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        user = body.get("user") or {}
        team = body.get("team") or {}
        container = body.get("container") or {}
        view = body.get("view") or {}
        in_view = container.get("type") == "view" or bool(view)
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        return cls(
            team_id=str(team.get("id") or user.get("team_id") or ""),
            user_id=str(user.get("id") or ""),
            in_home=in_view and view.get("type") == "home",
            channel_id=None if in_view else (str(channel) if channel else None),
        )


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    """Every button of ours."""

    async def clicked(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        request: AsyncBoltRequest,
    ) -> None:
        await ack()
        await deps.acks.after_acks()
        click = Click.of(body)
        retry = request.headers.get("x-slack-retry-num")
        if retry:
            # Acted on as any click: every action moves a task (or a connection) once.
            log.info("Slack delivered a click again (retry %s)", retry[0])
        if str(action.get("action_id") or "").startswith("edit:"):
            # The modal must open while Slack's trigger lives (3 s): nothing to say unless
            # it cannot be opened.
            said = await open_edit(client, deps, body, action)
            if said is None:
                return
            reply = Reply(said)
        else:
            reply = await _act(deps, click, action)
        if click.in_home:
            await publish_home(
                client, deps, team_id=click.team_id, user_id=click.user_id,
                notice=None if reply.links else reply.text, links=reply.links,
            )  # fmt: skip
        else:
            await tell(
                client, user_id=click.user_id, channel_id=click.channel_id,
                message=reply.message(),
            )  # fmt: skip

    async def opened_link(ack: Ack) -> None:
        await ack()  # the browser opened the link; nothing to do here

    app.action(CLICKS)(clicked)
    app.action(actions.OPEN_LINK)(opened_link)


async def _act(deps: ListenerDeps, click: Click, element: dict[str, Any]) -> Reply:
    """Do what the button asks, for the person who clicked; never raises."""
    try:
        action = parse_action(str(element.get("action_id") or ""), element.get("value"))
    except UnknownAction as error:
        log.info("a click we did not make: %s", error)
        return Reply(OUT_OF_DATE)
    try:
        if action.verb is Verb.CONNECT:
            return await _connect(deps, click, action)
        if action.verb is Verb.DISCONNECT:
            return await _disconnect(deps, click, action)
        if action.verb is Verb.CREATE_ALL:
            return await _create_all(deps, click, action)
        return await _on_task(deps, click, action)
    except RoutingError as error:
        return Reply(sentence(error.message))
    except Exception:
        log.exception("a %s click of %s failed", action.verb.value, click.user_id)
        return Reply(SOMETHING_WRONG)


async def _connect(deps: ListenerDeps, click: Click, action: Action) -> Reply:
    tool = action.tool
    assert tool is not None  # a connect action always names its tool
    if tool not in deps.tools or deps.links is None:
        return Reply(f"Connecting {tool.label} is not offered here; ask whoever runs Scrumy Tasks.")
    status = await deps.utility.get_auth_status(click.user_id, team_id=click.team_id)
    url = deps.links.url_for(team_id=click.team_id, user_id=click.user_id, provider=tool)
    connected = frozenset({tool}) if connection_of(status, tool).connected else frozenset()
    return Reply(f"Here is your own link to connect {tool.label}.", {tool: url}, connected)


async def _disconnect(deps: ListenerDeps, click: Click, action: Action) -> Reply:
    tool = action.tool
    assert tool is not None  # a disconnect action always names its tool
    removed = await deps.utility.disconnect(
        team_id=click.team_id, user_id=click.user_id, provider=tool
    )
    if not removed:
        return Reply(f"{tool.label} was not connected to your Slack account.")
    return Reply(f"{tool.label} is disconnected. Your tasks wait until you connect a tool again.")


async def _on_task(deps: ListenerDeps, click: Click, action: Action) -> Reply:
    """choose, retry, dismiss: only the task's owner may."""
    task_id = action.task_id
    assert task_id is not None  # these actions always name their task
    utility = deps.utility
    task = await utility.get_task(task_id, team_id=click.team_id)
    if task is None:
        return Reply(GONE)
    if task.owner_user_id != click.user_id:
        doing = {
            Verb.CHOOSE: "choose where this task goes",
            Verb.RETRY: "retry this task",
            Verb.DISMISS: "dismiss this task",
            Verb.CREATE: "create this task",
        }.get(action.verb, "act on this task")
        return Reply(f"Only {mention(task.owner_user_id)} can {doing}.")
    if action.verb is Verb.CHOOSE:
        assert action.tool is not None
        if action.tool not in deps.tools:
            return Reply(f"{action.tool.label} is not offered here; choose another tool.")
        result = await utility.choose_provider(task_id, user_id=click.user_id, provider=action.tool)
    elif action.verb is Verb.RETRY:
        result = await utility.retry_task(task_id, user_id=click.user_id)
    elif action.verb is Verb.CREATE:
        result = await utility.create_reviewed(task_id, user_id=click.user_id)
    else:
        result = await utility.dismiss_task(task_id, user_id=click.user_id)
    return Reply(where_it_is(result))


async def _create_all(deps: ListenerDeps, click: Click, action: Action) -> Reply:
    """Every item of the clicker's under review in the meeting: only their own are found."""
    meeting_id = action.task_id
    assert meeting_id is not None  # create_all always names its meeting
    created = await deps.utility.create_all_reviewed(
        meeting_id, team_id=click.team_id, user_id=click.user_id
    )
    if not created:
        return Reply("Every item of yours in this meeting is already created or dismissed.")
    return Reply(released_sentence(created))


def where_it_is(task: TaskResult) -> str:
    """One sentence on where a task is now (after a click, or a second click)."""
    raw = one_line(task.title) or "(untitled)"
    title = fit(raw, TITLE_SHOWN)
    tool = task.provider.label if task.provider else "its tool"
    if task.status is S.CREATED:
        return f"“{link(task.url, raw, TITLE_SHOWN)}” is created in {tool}."
    if task.status in (S.QUEUED, S.IN_FLIGHT, S.RETRYING):
        return f"“{title}” is being created in {tool}."
    if task.status is S.DISMISSED:
        return f"“{title}” is dismissed; it will not be created."
    if task.status is S.PENDING_AUTH:
        return f"“{title}” waits for you to connect a tool."
    if task.status is S.AWAITING_CHOICE:
        return f"“{title}” waits for you to choose a tool."
    if task.status is S.REVIEW:
        return f"“{title}” waits for your review."
    reason = f": {fit(one_line(task.reason).rstrip('.'), 300)}" if task.reason else ""
    return f"“{title}” failed{reason}. Retry it once that is fixed."
