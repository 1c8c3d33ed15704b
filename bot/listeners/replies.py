"""Telling one person something privately, and turning whatever went wrong into one sentence.

    answer(work, what)              the work's message, or the sentence its error reads as
    tell(client, user_id=, channel_id=, message=)   ephemeral in the channel, else a DM
    reply_within(ack, work, ...)    a slash command's private answer, in its ack if ready in time

Bolt's `respond()` posts to the payload's `response_url`; we answer a slash command in its
ack (private to the person who typed it) and anything later with `chat.postEphemeral` in the
channel the person clicked in, falling back to the app's direct message with them when that
channel refuses (the bot is not in it, or the person is not), or when there is no channel.

A `RoutingError` carries a message a person can read; anything else is logged and the person
reads `SOMETHING_WRONG` — never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.views.blocks import SlackMessage
from bot.views.messages import notice
from bot.views.mrkdwn import escape, one_line
from routing.errors import RoutingError

log = logging.getLogger(__name__)

SOMETHING_WRONG = "Something went wrong on our side; try again in a minute."
WORKING = "Working on it; the answer follows in a moment."
# A slash command is answered in its ack when its work is done within this; Slack waits 3 s.
ANSWER_WITHIN = 2.0

Ack = Callable[..., Awaitable[Any]]


def sentence(message: str) -> str:
    """A domain error's message as one escaped sentence: capitalised, ending in a full stop."""
    text = one_line(message) or SOMETHING_WRONG
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    return escape(text)


async def answer(work: Awaitable[SlackMessage], what: str) -> SlackMessage:
    """`work`'s message, or one sentence saying what to do when it raised."""
    try:
        return await work
    except RoutingError as error:
        return notice(sentence(error.message))
    except Exception:
        log.exception("%s failed", what)
        return notice(SOMETHING_WRONG)


async def tell(
    client: AsyncWebClient, *, user_id: str, channel_id: str | None, message: SlackMessage
) -> bool:
    """Show `message` to `user_id` alone: ephemeral in `channel_id`, else in the app's direct
    message with them. False when Slack took neither (logged)."""
    if channel_id:
        try:
            await client.chat_postEphemeral(channel=channel_id, user=user_id, **message.payload())
            return True
        except SlackApiError as error:
            log.info(
                "no ephemeral for %s in %s (%s); sending a direct message",
                user_id, channel_id, error.response.get("error"),
            )  # fmt: skip
    try:
        await client.chat_postMessage(channel=user_id, **message.payload())
        return True
    except SlackApiError as error:
        log.warning("could not tell %s privately: %s", user_id, error.response.get("error"))
        return False


async def reply_within(
    ack: Ack,
    work: Coroutine[Any, Any, SlackMessage],
    *,
    follow_up: Callable[[SlackMessage], Awaitable[object]],
    seconds: float = ANSWER_WITHIN,
) -> None:
    """Answer in the ack when `work` (which must not raise: see `answer`) is done within
    `seconds`; otherwise ack with `WORKING` and hand the message to `follow_up` once done."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        await ack(response_type="ephemeral", **task.result().payload())
        return
    await ack(response_type="ephemeral", **notice(WORKING).payload())
    await follow_up(await task)
