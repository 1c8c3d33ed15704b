"""The "Create task" message shortcut: a modal prefilled from the message, and its submission.

    message_action create_task   ack; names of people mentioned and the message's permalink
                                 (at most `LOOKUP_WAIT` seconds, else a link built from the
                                 workspace's domain); views.open with the trigger
    view_submission              checked at once: errors on the fields, or ack (the modal
                                 closes); then `IntegrationUtility.create_task` for the person
                                 who clicked, routed as any task of theirs (to the project they
                                 picked, if they picked one), and a direct message saying where
                                 it went

Slack gets its answer before anything is looked up or stored: nothing here waits on ClickUp or
Notion (the worker creates the task). The same submission delivered twice is one task: its
idempotency key is the modal's view id, and the direct message is sent once per view by this
process.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.views.blocks import SlackMessage, section
from bot.views.message_text import mentioned_users, message_text
from bot.views.mrkdwn import fit
from bot.views.task_modal import (
    CALLBACK_ID,
    MODAL_ID,
    Origin,
    TaskForm,
    earliest_due,
    prefill,
    read_submission,
    submitted_message,
    task_modal,
)
from primitives.clock import Clock
from routing.errors import InvalidInput, RoutingError

if TYPE_CHECKING:
    from bot.listeners.deps import ListenerDeps

log = logging.getLogger(__name__)

LOOKUP_WAIT = 1.0  # seconds for names and the permalink: views.open's trigger lives 3
MENTIONS_LOOKED_UP = 10
DM_ATTEMPTS = 5  # calls of chat.postMessage for one direct message, each with the client's retries
ANSWERED_KEPT = 1000  # views whose submission this process answered (one direct message each)
_TS = re.compile(r"^\d{1,12}\.\d{1,8}$")
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

Listener = Callable[..., Awaitable[None]]


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    """The message shortcut `create_task` and its modal's submission."""
    answered: OrderedDict[str, None] = OrderedDict()
    app.message_shortcut(CALLBACK_ID)(_open_modal(deps))
    app.view_submission(MODAL_ID)(_submitted(deps, answered))


def _open_modal(deps: ListenerDeps) -> Listener:
    async def open_modal(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await deps.acks.after_acks()
        message = body.get("message") or {}
        text = message_text(message)
        channel_id = str((body.get("channel") or {}).get("id") or "")
        message_ts = str(body.get("message_ts") or message.get("ts") or "")
        domain = str((body.get("team") or {}).get("domain") or "")
        names, permalink = await _looked_up(client, text, channel_id, message_ts, domain)
        origin = Origin(channel_id, message_ts, permalink)
        view = task_modal(prefill(text, names, permalink), origin)
        user_id = str((body.get("user") or {}).get("id") or "")
        try:
            await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
        except SlackApiError as error:
            log.warning("could not open the task modal: %s", error.response.get("error"))
            await _tell(client, deps.clock, user_id, _could_not_open())

    return open_modal


async def _looked_up(
    client: AsyncWebClient, text: str, channel_id: str, message_ts: str, domain: str
) -> tuple[dict[str, str], str | None]:
    """People's names by id and the message's permalink, within `LOOKUP_WAIT` seconds; what
    is not known by then is left out (a mention shows its id; the link is built from the
    workspace's domain, as Slack builds it)."""
    ids = mentioned_users(text)[:MENTIONS_LOOKED_UP]
    names: dict[str, str] = {}
    permalink: list[str] = []

    async def name_of(user_id: str) -> None:
        answer = await client.users_info(user=user_id)
        profile = (answer.get("user") or {}).get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name")
        if isinstance(name, str) and name.strip():
            names[user_id] = name.strip()

    async def link() -> None:
        answer = await client.chat_getPermalink(channel=channel_id, message_ts=message_ts)
        if isinstance(answer.get("permalink"), str):
            permalink.append(str(answer["permalink"]))

    jobs = [asyncio.ensure_future(name_of(user_id)) for user_id in ids]
    if channel_id and message_ts:
        jobs.append(asyncio.ensure_future(link()))
    if jobs:
        done, pending = await asyncio.wait(jobs, timeout=LOOKUP_WAIT)
        for job in pending:
            job.cancel()
        for job in done:
            if not job.cancelled() and job.exception() is not None:
                log.info("a lookup for the task modal failed: %s", type(job.exception()).__name__)
    found = permalink[0] if permalink else _built_permalink(domain, channel_id, message_ts)
    return names, found


def _built_permalink(domain: str, channel_id: str, message_ts: str) -> str | None:
    """The link Slack gives a message, built from its parts when Slack could not say."""
    if not (_DOMAIN.match(domain) and channel_id.isalnum() and _TS.match(message_ts)):
        return None
    return f"https://{domain}.slack.com/archives/{channel_id}/p{message_ts.replace('.', '')}"


def _submitted(deps: ListenerDeps, answered: OrderedDict[str, None]) -> Listener:
    async def submitted(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body.get("view") or {}
        checked = read_submission(view, earliest=earliest_due(deps.clock.now()))
        if not isinstance(checked, TaskForm):
            await ack(response_action="errors", errors=checked)
            return
        await ack()
        await deps.acks.after_acks()
        team_id = str((body.get("team") or {}).get("id") or "")
        user_id = str((body.get("user") or {}).get("id") or "")
        view_id = str(view.get("id") or "")
        message = await _create(deps, checked, team_id=team_id, user_id=user_id, view_id=view_id)
        if view_id in answered:
            return  # delivered again: the task is the same one, and the person was told
        answered[view_id] = None
        while len(answered) > ANSWERED_KEPT:
            answered.popitem(last=False)
        await _tell(client, deps.clock, user_id, message)

    return submitted


async def _create(
    deps: ListenerDeps, form: TaskForm, *, team_id: str, user_id: str, view_id: str
) -> SlackMessage:
    """Store the task for the person who clicked; what to tell them."""
    project_name, note = await _project(deps, form, team_id=team_id, user_id=user_id)
    # A project the person picked decides, as the first rule of smart routing; without one,
    # their own routing choice does (None: their stored preference).
    routing = "smart" if project_name else None
    try:
        task = await deps.utility.create_task(
            user_id, form.item(project_name), routing, team_id=team_id,
            idempotency_key=f"slack-view:{view_id}" if view_id else None,
        )  # fmt: skip
    except RoutingError as error:
        log.info("a task from the shortcut was refused: %s", error.code)
        return _refused(error.message)
    except Exception:  # the modal is closed: the person must hear of it, never a trace
        log.exception("a task from the shortcut could not be stored")
        return _refused("something went wrong on our side; try the shortcut again")
    return submitted_message(task, form, deps.tools, note=note)


async def _project(
    deps: ListenerDeps, form: TaskForm, *, team_id: str, user_id: str
) -> tuple[str | None, str | None]:
    """The picked project's name as routing matches it, or why it was left out."""
    if form.project is None:
        return None, None
    tool, destination_id = form.project
    try:
        _, name = await deps.utility.own_destination(
            user_id, team_id=team_id, provider=tool, destination_id=destination_id
        )
    except InvalidInput as error:
        return None, f"The project you picked was left out: {error.message}."
    return name[:255], None


def _refused(why: str) -> SlackMessage:
    text = fit(f"The task was not created: {why}", 2900)
    return SlackMessage(text, (section(f":x: {text}.", block_id="task:refused"),))


def _could_not_open() -> SlackMessage:
    text = "The task form could not open in time. Try the shortcut again"
    return SlackMessage(text, (section(f":warning: {text}.", block_id="task:not_opened"),))


async def _tell(client: AsyncWebClient, clock: Clock, user_id: str, message: SlackMessage) -> None:
    """A direct message to the person (the app's Messages tab). Slack takes about one message
    a second per conversation: past the client's own retries, a rate-limited message waits
    Slack's `Retry-After` and is tried again, up to `DM_ATTEMPTS` times in all."""
    if not user_id:
        return
    for attempt in range(1, DM_ATTEMPTS + 1):
        try:
            await client.chat_postMessage(channel=user_id, **message.payload())
            return
        except SlackApiError as error:
            code = error.response.get("error")
            if code != "ratelimited" or attempt == DM_ATTEMPTS:
                log.warning("could not send a direct message: %s", code)
                return
            await clock.sleep(_retry_after(error.response.headers))


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return min(max(float(value), 1.0), 60.0)
            except (TypeError, ValueError):
                break
    return 1.0
