"""The meeting message in its channel: posted once, then kept up to date in place.

    keeper = MeetingMessageKeeper(calls, sessions=..., clock=..., background=...)
    await keeper.changed(meeting_id)   the first time: posts (awaited, bounded); later: re-rendered

**Posting.** The first change of a new meeting posts its message, awaited for at most
`POST_WAIT` seconds so that the API answer can say whether it was posted (past that — a busy
channel whose posts Slack paces, a slow Slack — the answer says "not posted yet", with no
error, and the post goes on in the background): the process claims the post on the meeting row
(`bot.meeting_store.claim_post`, a conditional UPDATE), posts the first message and stores its
ts. In the background it then posts the thread replies of a long meeting one by one (storing
each ts as Slack gives it: a reply is never posted twice by one process, and only the process
that posted the first message posts replies). A post Slack refuses is logged as a warning
naming the meeting and Slack's error, recorded on the meeting (`message_error`, shown by
`POST /api/meetings`), and the claim let go: a change at least `REPOST_AFTER` later tries
again (once the app was invited to the channel, say). The meeting's tasks are created all the same.

**Updating.** Every later change only marks the meeting dirty; one task per meeting and
process renders it: it waits the window (`pause`) so that a burst of changes is one render,
reads the meeting and its tasks from the database, `chat.update`s each message whose rendering
differs from what this process last sent it, then reads again, and goes round once more if
what it read differs from what it sent. Transient refusals (429 past the client's retries,
5xx, no answer) are tried again with backoff, `MAX_FAILURES` times.

**Why several processes converge** (serve and workers each have a notifier, each told only of
the changes its own process made). Let U be the last `chat.update` of a message to land at
Slack, sent by process P with rendering R. After Slack answered U, P read the database again;
had it found another rendering it would have sent another update, and U would not be the
last. So R is what the database held after every update had landed, and every change committed
before then is in it, since each change is announced — to the process that made it — after its
commit, and that process renders after hearing of it. A stale rendering of a slow process that
lands late is therefore always followed by that process's own correction.

Only one process posts: the claim is a conditional UPDATE. A process that finds another's
fresh claim leaves the meeting alone: the claimer reads the tasks after claiming and again
after storing the ts, both after the change that was announced. A claimer that stopped leaves
a claim that ages out (`CLAIM_LIFETIME`); the meeting's next change then posts it. A process
stopped between two replies leaves the rest unposted (the items they hold are in the API
answer and the owners' Home tabs, not in the channel).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import Background
from bot.meeting_store import (
    MeetingState,
    claim_post,
    read_meeting,
    record_error,
    record_failure,
    record_posted,
    record_replies,
)
from bot.slack_calls import TRANSIENT, SlackCalls, SlackRefusal
from bot.views.blocks import SlackMessage
from bot.views.meeting import MeetingMessages, meeting_messages
from primitives.clock import Clock
from primitives.enums import ProviderName

log = logging.getLogger(__name__)

MAX_FAILURES = 5  # transient refusals in a row before a meeting's message is left as it is
MAX_BACKOFF = 60.0
POST_WAIT = 2.0  # wall seconds a meeting's first change waits for its message to be posted
REPOST_AFTER = timedelta(minutes=1)  # a post refused for good is tried again after a change
NO_TOKEN = "not_installed"  # noqa: S105 (an error code: the workspace has no bot token)
WARNED_KEPT = 10_000  # (meeting, error) pairs already warned of, so each is said once
HINTS = {
    "not_in_channel": " (invite the app to the channel)",
    "channel_not_found": " (a private channel the app is not in, or no such channel)",
    "is_archived": " (the channel is archived)",
    "invalid_auth": " (the workspace's bot token is refused: reinstall the app)",
    "token_revoked": " (the workspace's bot token was revoked: reinstall the app)",
    "missing_scope": " (the app lacks chat:write: reinstall it)",
}


@dataclass
class _Meeting:
    """One meeting's message as this process knows it (forgotten once there is nothing to do)."""

    dirty: bool = False
    poster: bool = False  # this process posted the first message, so it posts the replies
    sent: list[SlackMessage | None] = field(default_factory=list)  # last sent, by message
    failures: int = 0
    runner: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class MeetingMessageKeeper:
    """Posts each meeting's message and keeps it up to date; see the module docstring."""

    def __init__(
        self,
        calls: SlackCalls,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        background: Background,
        tools: Sequence[ProviderName] = tuple(ProviderName),
        window: float = 2.0,
        pause: Callable[[], Awaitable[None]] | None = None,
        post_wait: float = POST_WAIT,
    ) -> None:
        self._calls = calls
        self._post_wait = post_wait
        self._sessions = sessions
        self._clock = clock
        self._background = background
        self._tools = tuple(tools)
        self._window = window
        # What a renderer waits before each round, changes coming meanwhile joining it:
        # `window` seconds on the clock, unless a test holds it with an event of its own.
        self._pause = pause or (lambda: clock.sleep(window))
        self._meetings: dict[str, _Meeting] = {}
        self._warned: set[tuple[str, str]] = set()

    async def changed(self, meeting_id: str) -> None:
        """A task of the meeting changed: post its message if nobody has (awaited for at most
        `post_wait` seconds), else render it again in the background."""
        meeting = self._meetings.get(meeting_id)
        if meeting is None:
            meeting = self._meetings[meeting_id] = _Meeting()
            posting = self._background.spawn(self._first_round(meeting_id, meeting))
            # Wall time, not the injected clock: this bounds how long the caller (the API's
            # answer) waits for Slack, whose pace may queue posts to a busy channel.
            await asyncio.wait({posting}, timeout=self._post_wait)
            return
        meeting.dirty = True
        self._keep_going(meeting_id, meeting)

    async def _first_round(self, meeting_id: str, meeting: _Meeting) -> None:
        async with meeting.lock:
            await self._render(meeting_id, meeting, first=True)
        self._keep_going(meeting_id, meeting)

    def _keep_going(self, meeting_id: str, meeting: _Meeting) -> None:
        if meeting.dirty and meeting.runner is None:
            meeting.runner = self._background.spawn(self._keep_rendering(meeting_id, meeting))
        self._forget_if_idle(meeting_id, meeting)

    def _forget_if_idle(self, meeting_id: str, meeting: _Meeting) -> None:
        idle = not meeting.dirty and meeting.runner is None and not meeting.lock.locked()
        if idle and self._meetings.get(meeting_id) is meeting:
            del self._meetings[meeting_id]

    async def _keep_rendering(self, meeting_id: str, meeting: _Meeting) -> None:
        try:
            while meeting.dirty:
                await self._pause()
                if meeting.failures:
                    await self._clock.sleep(min(MAX_BACKOFF, self._window * 2**meeting.failures))
                async with meeting.lock:
                    meeting.dirty = False
                    await self._render(meeting_id, meeting, first=False)
        finally:
            meeting.runner = None
            self._forget_if_idle(meeting_id, meeting)

    async def _render(self, meeting_id: str, meeting: _Meeting, *, first: bool) -> None:
        """One round: post (if nobody has), update what changed, read again; leaves `dirty`
        set when another round is needed."""
        state = await read_meeting(self._sessions, meeting_id)
        if state is None or not state.channel_id:
            return  # a meeting without a channel has no message
        label = f"{meeting_id} ({state.external_id!r} in {state.channel_id})"
        try:
            token = await self._calls.token(state.team_id)
            if token is None:
                if first:
                    await record_failure(
                        self._sessions, meeting_id, NO_TOKEN, claim=None, now=self._clock.now()
                    )
                return
            if not state.posted:
                if self._refused_lately(state):
                    return
                posted = await self._post(state, meeting, token)
                if posted is None:
                    return
                state = posted
            if first:  # replies, updates and the second reading go on in the background
                meeting.dirty = True
                return
            if meeting.poster and len(state.reply_ts) < len(self._messages(state).replies):
                state = await self._post_replies(state, meeting, token)
            sent = await self._update(state, meeting, token)
            again = await read_meeting(self._sessions, meeting_id)
            if again is not None and self._messages(again).all != sent:
                meeting.dirty = True
            meeting.failures = 0
        except SlackRefusal as refusal:
            self._refused(meeting_id, label, meeting, refusal)

    def _refused_lately(self, state: MeetingState) -> bool:
        """Slack refused the post for good less than `REPOST_AFTER` ago: the changes of the
        meantime (a worker's batches, say) do not ask it again and again."""
        error = state.message_error
        if error is None or error in TRANSIENT:
            return False
        return self._clock.now() - state.updated_at < REPOST_AFTER

    def _messages(self, state: MeetingState) -> MeetingMessages:
        return meeting_messages(
            state.result(), title=state.title, summary=state.summary, details=state.details,
            tools=self._tools,
        )  # fmt: skip

    async def _post(
        self, state: MeetingState, meeting: _Meeting, token: str
    ) -> MeetingState | None:
        """Claim and post the first message; the meeting as it is then, or None when another
        process holds the post."""
        claim = await claim_post(self._sessions, state, now=self._clock.now())
        if claim is None:
            return None
        # Read after the claim: every change announced before it is in what is posted.
        fresh = await read_meeting(self._sessions, state.id) or state
        first = self._messages(fresh).first
        channel = str(fresh.channel_id)
        try:
            answer = await self._calls.call(
                "chat.postMessage", token, pace=("post", channel), channel=channel,
                **first.payload(),
            )  # fmt: skip
        except SlackRefusal as refusal:
            await record_failure(
                self._sessions, state.id, refusal.error, claim=claim, now=self._clock.now()
            )
            raise
        ts, posted_in = str(answer["ts"]), str(answer.get("channel") or channel)
        await record_posted(
            self._sessions, state.id, claim, channel_id=posted_in, ts=ts, now=self._clock.now()
        )
        meeting.poster = True
        meeting.sent = [first]
        log.info("posted the Slack message of meeting %s in %s", state.id, posted_in)
        return await read_meeting(self._sessions, state.id)

    async def _post_replies(
        self, state: MeetingState, meeting: _Meeting, token: str
    ) -> MeetingState:
        """Post the thread replies not posted yet, storing each ts as soon as Slack gives it."""
        replies = list(state.reply_ts)
        channel = str(state.message_channel_id or state.channel_id)
        for reply in self._messages(state).replies[len(replies) :]:
            answer = await self._calls.call(
                "chat.postMessage", token, pace=("post", channel), channel=channel,
                thread_ts=state.message_ts, **reply.payload(),
            )  # fmt: skip
            replies.append(str(answer["ts"]))
            meeting.sent = [*meeting.sent[: len(replies)], reply]
            await record_replies(self._sessions, state.id, replies, now=self._clock.now())
        return await read_meeting(self._sessions, state.id) or state

    async def _update(
        self, state: MeetingState, meeting: _Meeting, token: str
    ) -> tuple[SlackMessage, ...]:
        """`chat.update` each message whose rendering differs from what this process last sent
        it; what the messages show now, as far as this process knows."""
        rendered = self._messages(state).all
        where = [state.message_ts, *state.reply_ts]
        known = meeting.sent + [None] * (len(rendered) - len(meeting.sent))
        channel = str(state.message_channel_id or state.channel_id)
        for index, message in enumerate(rendered):
            ts = where[index] if index < len(where) else None
            if ts is None or known[index] == message:
                continue  # unchanged, or a reply its poster has not posted yet
            await self._calls.call(
                "chat.update", token, pace=("update", state.team_id), channel=channel, ts=ts,
                **message.payload(),
            )  # fmt: skip
            known[index] = message
            meeting.sent = list(known)
        return rendered

    def _refused(
        self, meeting_id: str, label: str, meeting: _Meeting, refusal: SlackRefusal
    ) -> None:
        if refusal.transient and meeting.failures < MAX_FAILURES:
            meeting.failures += 1
            meeting.dirty = True
            log.info("Slack answered %s for meeting %s; trying again", refusal.error, label)
            return
        meeting.failures = 0
        if (meeting_id, refusal.error) not in self._warned:
            if len(self._warned) >= WARNED_KEPT:
                self._warned.clear()
            self._warned.add((meeting_id, refusal.error))
            log.warning(
                "the Slack message of meeting %s could not be sent: %s%s", label, refusal.error,
                HINTS.get(refusal.error, ""),
            )  # fmt: skip
        self._background.spawn(
            record_error(self._sessions, meeting_id, refusal.error, now=self._clock.now())
        )
