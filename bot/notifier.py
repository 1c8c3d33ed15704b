"""The Slack notifier (`routing.notify.Notifier`): the meeting message in its channel, kept up
to date in place, and the direct messages people get.

    SlackNotifier(client=slack_web_client(...), tokens=bot_tokens, sessions=..., clock=...)

Every workspace's calls go out with its own bot token (`tokens`, passed per call to one
`AsyncWebClient` that holds none); a workspace without a token is logged once and skipped.
Slack's errors never reach the routing layer: a message that cannot be sent is logged with
Slack's error code (never a token), and for a meeting recorded on it (`meetings.message_error`,
shown by `POST /api/meetings`).

**The meeting message.** The first `tasks_changed` of a new meeting posts it (awaited, so the
API answer can say whether it was posted): the process claims the post on the meeting row
(`bot.meeting_store.claim_post`, a conditional UPDATE), posts the first message, stores its ts,
then posts the thread replies of a long meeting one by one, storing each ts. Every later change
only marks the meeting dirty; one task per meeting and process renders it — waits `window`
seconds so a burst of changes becomes one render, reads the meeting and its tasks from the
database, `chat.update`s each message whose rendering changed, then reads again and goes round
once more if what it read differs from what it sent.

**Why several processes converge** (serve and workers each have a notifier, each told only of
the changes its own process made): let U be the last `chat.update` of a message to land at
Slack, sent by process P with rendering R. After Slack answered U, P read the database again;
had it found a rendering other than R it would have sent another update, so U would not be
the last. Hence R is what the database held after every update had landed; and every change
committed before then is in it, since each change is announced — to the process that made it
— after its commit, and that process renders after hearing it. A stale render of a slower
process that lands late is therefore always followed by that process's own correction. Only
one process posts: the claim is a conditional UPDATE. A process that finds another's fresh
claim leaves the meeting alone: the claimer stores the ts and reads the tasks after that
moment, which is after the change that was announced. A claimer that stopped leaves a claim
that ages out (`CLAIM_LIFETIME`); the next change then posts. Replies are posted only by the
process that posted the first message.

**Rate limits.** Per workspace, `chat.update` goes at most once every `UPDATE_INTERVAL` (Tier 3,
50 a minute); per channel, `chat.postMessage` at most once a `POST_INTERVAL` (about one a
second); both paced on the injected clock. A 429 that still comes is waited out by the client's
retry handler (`bot.slack_client`); what fails even so is tried again with backoff, a few times.

**Direct messages** (`chat.postMessage` to the person's id: the app's Messages tab): a
connection made ("… is now connected to your Slack account. Not you? [Disconnect]"), a
connection to reconnect, and once the tasks that waited for a connection were sent after it
(`tasks_flushed`): "5 waiting tasks were created in ClickUp". The last is known from the
database: the notifier watches the flushed tasks until none is queued, being sent or retrying
(woken by this process's own changes, else every `poll_seconds`), for at most `flush_wait`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.directory import TokenSource
from bot.meeting_store import (
    MeetingState,
    claim_post,
    read_meeting,
    record_error,
    record_failure,
    record_posted,
    record_replies,
)
from bot.slack_client import DEFAULT_TIMEOUT, slack_web_client
from bot.views.blocks import SlackMessage
from bot.views.meeting import MeetingMessages, meeting_messages
from bot.views.messages import connection_made, flush_done, reconnect_needed
from primitives.clock import Clock
from primitives.enums import ProviderName, TaskState
from routing.notify import TaskChange
from routing.outbox import count_owner_tasks
from storage.models import Task, UserAuthToken

log = logging.getLogger(__name__)

UPDATE_INTERVAL = 1.25  # seconds between chat.update calls of one workspace: 48 a minute
POST_INTERVAL = 1.0  # seconds between chat.postMessage calls to one channel or person
MAX_FAILURES = 5  # transient failures in a row before a meeting's message is left as it is
MAX_BACKOFF = 60.0
NO_TOKEN = "not_installed"  # noqa: S105 (an error code) the workspace has no bot token: the app is not installed there
UNREACHABLE = "slack_unreachable"
# Errors that another try would only repeat: the meeting records them and waits for a change.
TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                       "request_timeout", UNREACHABLE})  # fmt: skip
HINTS = {
    "not_in_channel": " (invite the app to the channel)",
    "channel_not_found": " (a private channel the app is not in, or no such channel)",
    "is_archived": " (the channel is archived)",
    "invalid_auth": " (the workspace's bot token is refused: reinstall the app)",
    "token_revoked": " (the workspace's bot token was revoked: reinstall the app)",
    "missing_scope": " (the app lacks chat:write: reinstall it)",
}
WARNED_KEPT = 10_000  # (meeting, error) pairs warned of, so each is said once
SENDING = frozenset({TaskState.QUEUED, TaskState.IN_FLIGHT, TaskState.RETRYING})


class SlackRefusal(Exception):
    """Slack did not do what was asked; `error` is its code (`not_in_channel` …)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error

    @property
    def transient(self) -> bool:
        return self.error in TRANSIENT


@dataclass
class _Meeting:
    """One meeting's message as this process knows it."""

    team_id: str
    dirty: bool = False
    poster: bool = False  # this process posted the first message (so posts the replies)
    sent: list[SlackMessage | None] = field(default_factory=list)  # what we last sent, by message
    failures: int = 0
    runner: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _Flush:
    team_id: str
    user_id: str
    task_ids: frozenset[str]
    poke: asyncio.Event = field(default_factory=asyncio.Event)


class _Pace:
    """At most one call per `interval` seconds for each key, on the injected clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._next: dict[tuple[str, str], float] = {}

    async def wait(self, key: tuple[str, str], interval: float) -> None:
        now = self._clock.monotonic()
        at = max(now, self._next.get(key, now))
        self._next[key] = at + interval
        if at > now:
            await self._clock.sleep(at - now)


class SlackNotifier:
    """`routing.notify.Notifier` over the Slack Web API; see the module docstring."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        tokens: TokenSource,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        tools: Sequence[ProviderName] = tuple(ProviderName),
        window: float = 2.0,
        pause: Callable[[], Awaitable[None]] | None = None,
        flush_wait: timedelta = timedelta(minutes=15),
        poll_seconds: float = 10.0,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._sessions = sessions
        self._clock = clock
        self._tools = tuple(tools)
        self._window = window
        # What a meeting's renderer waits before each round, changes coming meanwhile joining
        # it: `window` seconds on the clock, unless a test holds it with an event of its own.
        self._pause = pause or (lambda: clock.sleep(window))
        self._flush_wait = flush_wait
        self._poll_seconds = poll_seconds
        self._meetings: dict[str, _Meeting] = {}
        self._flushes: list[_Flush] = []
        self._background: set[asyncio.Task[None]] = set()
        self._pace = _Pace(clock)
        self._untokened: set[str] = set()
        self._warned: set[tuple[str, str]] = set()

    # --- the protocol -----------------------------------------------------------------------

    async def tasks_changed(
        self, team_id: str, meeting_id: str | None, changes: Sequence[TaskChange]
    ) -> None:
        """Post the meeting's message the first time (awaited), else have it re-rendered."""
        changed = {change.task_id for change in changes}
        for flush in self._flushes:
            if flush.task_ids & changed:
                flush.poke.set()
        if meeting_id is None:
            return  # a task of no meeting has no channel message
        meeting = self._meetings.get(meeting_id)
        if meeting is None:
            meeting = self._meetings[meeting_id] = _Meeting(team_id)
            async with meeting.lock:
                await self._render(meeting_id, meeting, first=True)
        else:
            meeting.dirty = True
        if meeting.dirty and meeting.runner is None:
            meeting.runner = self._spawn(self._keep_rendering(meeting_id, meeting))
        self._forget_if_idle(meeting_id, meeting)

    def _forget_if_idle(self, meeting_id: str, meeting: _Meeting) -> None:
        """A meeting with nothing left to do is forgotten (the next change reads it afresh)."""
        idle = not meeting.dirty and meeting.runner is None and not meeting.lock.locked()
        if idle and self._meetings.get(meeting_id) is meeting:
            del self._meetings[meeting_id]

    async def reconnect_needed(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        async with self._sessions() as session:
            waiting = await count_owner_tasks(
                session, team_id=team_id, user_id=user_id, state=TaskState.PENDING_AUTH
            )
        self._spawn(self._direct(team_id, user_id, reconnect_needed(provider, waiting=waiting)))

    async def connection_changed(
        self, team_id: str, user_id: str, provider: ProviderName, account_name: str | None,
        *, replaced: bool,
    ) -> None:  # fmt: skip
        # The account and its workspace apart, as stored, rather than routing's one label.
        async with self._sessions() as session:
            row = await session.scalar(
                select(UserAuthToken).where(
                    UserAuthToken.team_id == team_id,
                    UserAuthToken.user_id == user_id,
                    UserAuthToken.provider == provider,
                )
            )
        if row is not None and (row.account_email or row.workspace_name):
            message = connection_made(
                provider, row.account_email, row.workspace_name, replaced=replaced
            )
        else:
            message = connection_made(provider, account_name, replaced=replaced)
        self._spawn(self._direct(team_id, user_id, message))

    async def tasks_flushed(self, team_id: str, user_id: str, task_ids: Sequence[str]) -> None:
        if task_ids:
            flush = _Flush(team_id, user_id, frozenset(task_ids))
            self._flushes.append(flush)
            self._spawn(self._watch_flush(flush))

    # --- running ----------------------------------------------------------------------------

    async def idle(self) -> None:
        """Wait until every message this notifier has to send is sent (or given up)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop: what is still being rendered or watched is left (the next process renders)."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*list(self._background), return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(self._logged(work))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            # Slack or the database failing must not undo or repeat work already stored.
            log.exception("a Slack notification failed")

    # --- the meeting message ----------------------------------------------------------------

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
        """One round: post (if nobody has), update what changed, re-read; leaves `dirty` set
        when another round is needed."""
        state = await read_meeting(self._sessions, meeting_id)
        if state is None or not state.channel_id:
            return
        # How a warning names the meeting: our id, the AI service's, the channel.
        label = f"{meeting_id} ({state.external_id!r} in {state.channel_id})"
        try:
            token = await self._token(state.team_id)
            if token is None:
                if first:
                    await record_failure(
                        self._sessions, meeting_id, NO_TOKEN, claim=None, now=self._clock.now()
                    )
                return
            if not state.posted:
                state = await self._post(state, meeting, token)
                if state is None:
                    return
                if first:  # the replies and the re-check go on in the background
                    meeting.dirty = True
                    return
            elif first:  # posted already: rendered in the background, after the window
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

    def _messages(self, state: MeetingState) -> MeetingMessages:
        return meeting_messages(
            state.result(), title=state.title, summary=state.summary, details=state.details,
            tools=self._tools,
        )  # fmt: skip

    async def _post(
        self, state: MeetingState, meeting: _Meeting, token: str
    ) -> MeetingState | None:
        """Claim and post the first message; the meeting as it is then, or None when another
        process holds the post (or it failed)."""
        claim = await claim_post(self._sessions, state, now=self._clock.now())
        if claim is None:
            return None
        # Read after the claim: every change announced before it is in what is posted.
        fresh = await read_meeting(self._sessions, state.id) or state
        first = self._messages(fresh).first
        channel = str(fresh.channel_id)
        try:
            answer = await self._call(
                "chat.postMessage", token, ("post", channel), channel=channel, **first.payload()
            )
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
            answer = await self._call(
                "chat.postMessage", token, ("post", channel), channel=channel,
                thread_ts=state.message_ts, **reply.payload(),
            )  # fmt: skip
            replies.append(str(answer["ts"]))
            meeting.sent = [*meeting.sent[: len(replies)], reply]
            await record_replies(self._sessions, state.id, replies, now=self._clock.now())
        again = await read_meeting(self._sessions, state.id)
        return again or state

    async def _update(
        self, state: MeetingState, meeting: _Meeting, token: str
    ) -> tuple[SlackMessage, ...]:
        """`chat.update` each message whose rendering differs from what this process last sent
        it; what the messages show now (as far as this process knows)."""
        rendered = self._messages(state).all
        where = [state.message_ts, *state.reply_ts]
        known = meeting.sent + [None] * (len(rendered) - len(meeting.sent))
        channel = str(state.message_channel_id or state.channel_id)
        shown: list[SlackMessage] = []
        for index, message in enumerate(rendered):
            ts = where[index] if index < len(where) else None
            if ts is None:
                shown.append(message)  # a reply another process is still posting
                continue
            if known[index] != message:
                await self._call(
                    "chat.update", token, ("update", state.team_id), channel=channel, ts=ts,
                    **message.payload(),
                )  # fmt: skip
                known[index] = message
                meeting.sent = list(known)
            shown.append(message)
        return tuple(shown)

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
        self._spawn(record_error(self._sessions, meeting_id, refusal.error, now=self._clock.now()))

    # --- direct messages --------------------------------------------------------------------

    async def _direct(self, team_id: str, user_id: str, message: SlackMessage) -> None:
        token = await self._token(team_id)
        if token is None:
            return
        try:
            await self._call(
                "chat.postMessage", token, ("post", user_id), channel=user_id, **message.payload()
            )
        except SlackRefusal as refusal:
            log.warning(
                "could not send %s of %s a direct message (%s): %s", user_id, team_id,
                message.text[:80], refusal.error,
            )  # fmt: skip

    async def _watch_flush(self, flush: _Flush) -> None:
        deadline = self._clock.monotonic() + self._flush_wait.total_seconds()
        try:
            while True:
                flush.poke.clear()
                async with self._sessions() as session:
                    rows = (
                        await session.scalars(select(Task).where(Task.id.in_(flush.task_ids)))
                    ).all()
                waiting = sum(1 for row in rows if row.state in SENDING)
                if not waiting or self._clock.monotonic() >= deadline:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(flush.poke.wait(), self._poll_seconds)
        finally:
            self._flushes.remove(flush)
        created = Counter(
            row.provider for row in rows if row.state is TaskState.CREATED and row.provider
        )
        failed = waiting + sum(1 for row in rows if row.state is TaskState.FAILED)
        if created or failed:
            await self._direct(flush.team_id, flush.user_id, flush_done(created, failed=failed))

    # --- calling Slack ----------------------------------------------------------------------

    async def _token(self, team_id: str) -> str | None:
        token = await self._tokens(team_id)
        if token is None and team_id not in self._untokened:
            self._untokened.add(team_id)
            log.warning("no Slack bot token for workspace %s: nothing is posted there", team_id)
        return token

    async def _call(
        self, method: str, token: str, pace: tuple[str, str], **arguments: Any
    ) -> dict[str, Any]:
        """One Web API call, paced; Slack's answer, or `SlackRefusal` with its error code."""
        await self._pace.wait(pace, UPDATE_INTERVAL if method == "chat.update" else POST_INTERVAL)
        try:
            response = await self._client.api_call(method, json={**arguments, "token": token})
        except SlackApiError as error:
            raise SlackRefusal(str(error.response.get("error") or "unknown_error")) from None
        except (aiohttp.ClientError, TimeoutError):
            raise SlackRefusal(UNREACHABLE) from None
        return dict(response.data) if isinstance(response.data, dict) else {}


def slack_notifier(
    *,
    api_url: str,
    tokens: TokenSource,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    tools: Sequence[ProviderName],
    timeout: float = DEFAULT_TIMEOUT,
) -> SlackNotifier:
    """The notifier of a running process: one Web API client (`bot.slack_client`) at
    `api_url` (SLACK_API_URL), each workspace's token from `tokens` (`scrumy.web.bot_tokens`)."""
    return SlackNotifier(
        client=slack_web_client(api_url, timeout=timeout), tokens=tokens, sessions=sessions,
        clock=clock, tools=tools,
    )  # fmt: skip
