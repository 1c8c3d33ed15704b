"""The Slack notifier (`routing.notify.Notifier`): the meeting message in its channel, kept up
to date in place, and the direct messages people get.

    notifier = slack_notifier(api_url=…, tokens=bot_tokens, sessions=…, clock=…, tools=…)
    …
    await notifier.aclose()

- **The meeting message** (`bot.meeting_message`, where the reasons several processes
  converge are written down): the first `tasks_changed` of a meeting posts it, awaited for at
  most `post_wait` seconds, so the API answer can say whether it was posted
  (`meetings.message_error` when not; neither, past the wait: it is still on its way); changes
  are coalesced into few `chat.update`s, in the background.
- **The review message** (`bot.review_message`): an owner who reviews first gets one direct
  message per meeting listing their items with Create / Edit / Dismiss, updated in place as
  they act (and as the worker creates what they let go), and at most one reminder.
- **Direct messages** (`chat.postMessage` to the person's id: the app's Messages tab): a
  connection made ("ClickUp (ada@acme.com, Acme) is now connected to your Slack account. Not
  you? [Disconnect]"), a connection to reconnect, and — once the tasks that waited for a
  connection were sent after it (`tasks_flushed`) — "5 waiting tasks were created in ClickUp".
  That moment is read from the database: the flushed tasks are watched until none is queued,
  being sent or retrying, woken by this process's own changes or else every `poll_seconds`,
  for at most `flush_wait` (what still waits then is counted with the failed ones, which
  `/tasks pending` lists).
- **Slack's side** (`bot.slack_calls`): each workspace's own bot token, per call; a workspace
  without one is logged once and skipped; calls paced within Slack's rate limits; a refusal is
  logged with Slack's error code, never with a token, and never raised into the routing layer:
  what Slack is told happens after the tasks were stored, and does not undo or repeat them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import Background
from bot.directory import TokenSource
from bot.meeting_message import POST_WAIT, MeetingMessageKeeper
from bot.review_message import ReviewMessageKeeper
from bot.slack_calls import SlackCalls, SlackRefusal
from bot.slack_client import DEFAULT_TIMEOUT, slack_web_client
from bot.views.blocks import SlackMessage
from bot.views.messages import connection_made, flush_done, reconnect_needed, task_finished
from primitives.clock import Clock
from primitives.enums import ProviderName, TaskState
from routing.notify import TaskChange
from routing.outbox import count_owner_tasks
from storage.models import Task, UserAuthToken

log = logging.getLogger(__name__)

SENDING = frozenset({TaskState.QUEUED, TaskState.IN_FLIGHT, TaskState.RETRYING})


@dataclass
class _Flush:
    """Tasks queued when their owner connected, watched until they were sent."""

    team_id: str
    user_id: str
    task_ids: frozenset[str]
    poke: asyncio.Event = field(default_factory=asyncio.Event)


class SlackNotifier:
    """`routing.notify.Notifier` over the Slack Web API; see the module docstring.

    `window` is how long a meeting's changes are gathered into one update (`pause` replaces
    the wait, for tests); `tools` are the tools this installation offers (the buttons).
    """

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
        post_wait: float = POST_WAIT,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._flush_wait = flush_wait
        self._poll_seconds = poll_seconds
        self._calls = SlackCalls(client, tokens=tokens, clock=clock)
        self._background = Background()
        self._meetings = MeetingMessageKeeper(
            self._calls, sessions=sessions, clock=clock, background=self._background,
            tools=tools, window=window, pause=pause, post_wait=post_wait,
        )  # fmt: skip
        self._reviews = ReviewMessageKeeper(
            self._calls, sessions=sessions, clock=clock, background=self._background, tools=tools
        )
        self._flushes: list[_Flush] = []

    # --- the protocol -----------------------------------------------------------------------

    async def tasks_changed(
        self, team_id: str, meeting_id: str | None, changes: Sequence[TaskChange]
    ) -> None:
        """Post the meeting's message the first time (awaited), else have it re-rendered."""
        changed = {change.task_id for change in changes}
        flushed: set[str] = set()
        for flush in self._flushes:
            if flush.task_ids & changed:
                flush.poke.set()
                flushed |= flush.task_ids
        if meeting_id is not None:
            await self._meetings.changed(meeting_id)
            owners = {change.owner_user_id for change in changes}
            self._background.spawn(self._reviews.changed(team_id, meeting_id, owners))
            return
        # A task of no meeting has no channel message: its owner is told when it is created or
        # has failed (tasks that waited for a connection are told together, by the flush); what
        # the tool later says about it (done there, say) is news to nobody.
        for change in changes:
            finished = change.state in (TaskState.CREATED, TaskState.FAILED)
            finished = finished and change.remote_status is None
            if finished and change.task_id not in flushed:
                message = task_finished(
                    change.title, change.provider, change.url, change.reason,
                    created=change.state is TaskState.CREATED,
                )  # fmt: skip
                self._background.spawn(
                    self._direct(team_id, change.owner_user_id, message, "task finished")
                )

    async def reconnect_needed(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        async with self._sessions() as session:
            waiting = await count_owner_tasks(
                session, team_id=team_id, user_id=user_id, state=TaskState.PENDING_AUTH
            )
        message = reconnect_needed(provider, waiting=waiting)
        self._background.spawn(self._direct(team_id, user_id, message, "reconnect"))

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
        self._background.spawn(self._direct(team_id, user_id, message, "connection made"))

    async def tasks_flushed(self, team_id: str, user_id: str, task_ids: Sequence[str]) -> None:
        if task_ids:
            flush = _Flush(team_id, user_id, frozenset(task_ids))
            self._flushes.append(flush)
            self._background.spawn(self._watch_flush(flush))

    async def review_reminder(
        self, team_id: str, meeting_id: str, user_id: str, waiting: int
    ) -> None:
        self._background.spawn(self._reviews.remind(team_id, meeting_id, user_id, waiting))

    # --- running ----------------------------------------------------------------------------

    async def idle(self) -> None:
        """Wait until everything this notifier has to send is sent, or given up (a flush is
        watched until its tasks were sent, or `flush_wait`)."""
        await self._background.idle()

    async def aclose(self) -> None:
        """Stop: what is still to render is left to the next change (in any process)."""
        await self._background.cancel()

    # --- direct messages --------------------------------------------------------------------

    async def _direct(self, team_id: str, user_id: str, message: SlackMessage, what: str) -> None:
        """Send `message` to the person; `what` names it in a warning (never its text, which
        may hold an e-mail address)."""
        token = await self._calls.token(team_id)
        if token is None:
            return
        try:
            await self._calls.call(
                "chat.postMessage", token, pace=("post", user_id), channel=user_id,
                **message.payload(),
            )  # fmt: skip
        except SlackRefusal as refusal:
            log.warning(
                "could not send %s of %s a direct message (%s): %s", user_id, team_id, what,
                refusal.error,
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
        if created or failed:  # tasks now waiting for the owner's choice have their buttons
            message = flush_done(created, failed=failed)
            await self._direct(flush.team_id, flush.user_id, message, "waiting tasks sent")


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
