"""The review's direct message (`routing.review`): one per (meeting, owner), posted once and
updated in place as the owner acts, and its one reminder.

    keeper = ReviewMessageKeeper(calls, sessions=..., clock=..., background=...)
    await keeper.changed(team_id, meeting_id, owners)   tasks of these owners changed
    await keeper.remind(team_id, meeting_id, owner, waiting)

A change of a meeting's tasks reaches the keeper with their owners; it looks up the meeting's
review rows (one indexed query per meeting and process, kept after: they are only ever stored
with the meeting; most meetings have none) and, for each of those owners' rows, renders the
message from the database: posted to the owner (`chat.postMessage` to their id: the app's
Messages tab) the first time, with the channel and ts Slack answers stored on the row, else
`chat.update`d when its rendering differs from what this process last sent. The post is
claimed on the row first (`bot.meeting_store.claim_message`, the meeting message's claim), so
two processes never post it twice; a claim whose process stopped ages out after `CLAIM_LIFETIME`.
Renders of one review run one at a time in a process, and each reads the database afresh, so
the last one shows the truth. Slack refusing is logged with its error code and never raised
into routing: the items are stored, and the Home tab and `/tasks pending` list them too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import Background
from bot.meeting_store import claim_message, is_posted, task_details, task_result
from bot.slack_calls import SlackCalls, SlackRefusal
from bot.views.blocks import SlackMessage
from bot.views.review import review_message, review_reminder
from primitives.clock import Clock
from primitives.enums import ProviderName
from storage.models import Meeting, ReviewMessage, Task

log = logging.getLogger(__name__)

SENT_KEPT = 10_000  # renderings remembered, to skip updates that would change nothing


@dataclass(frozen=True)
class _Review:
    id: str
    team_id: str
    meeting_id: str
    owner_user_id: str
    channel_id: str | None
    message_ts: str | None

    @property
    def posted(self) -> bool:
        return is_posted(self.message_ts)


def _review(row: ReviewMessage) -> _Review:
    return _Review(
        row.id, row.team_id, row.meeting_id, row.owner_user_id, row.channel_id, row.message_ts
    )


class ReviewMessageKeeper:
    """Posts and updates the review messages; see the module docstring."""

    def __init__(
        self,
        calls: SlackCalls,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        background: Background,
        tools: Sequence[ProviderName] = tuple(ProviderName),
    ) -> None:
        self._tools = tuple(tools)
        self._calls = calls
        self._sessions = sessions
        self._clock = clock
        self._background = background
        self._locks: dict[str, asyncio.Lock] = {}
        self._sent: dict[str, SlackMessage] = {}
        self._known: OrderedDict[str, Mapping[str, tuple[str, str]]] = OrderedDict()

    async def changed(self, team_id: str, meeting_id: str, owners: Collection[str]) -> None:
        """Tasks of `owners` in the meeting changed: render the review messages they have."""
        reviews = await self._reviews_of(meeting_id)
        for owner in sorted(set(owners)):
            review = reviews.get(owner)
            if review is not None and review[1] == team_id:
                await self._render(review[0])

    async def _reviews_of(self, meeting_id: str) -> Mapping[str, tuple[str, str]]:
        """The meeting's review rows, {owner: (review id, team)}. Intake stores them with the
        meeting, in its transaction, and they are never added to later: read once, after the
        first change (which is announced after that commit), they hold for good."""
        known = self._known.get(meeting_id)
        if known is not None:
            self._known.move_to_end(meeting_id)
            return known
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        ReviewMessage.owner_user_id, ReviewMessage.id, ReviewMessage.team_id
                    ).where(ReviewMessage.meeting_id == meeting_id)
                )
            ).all()
        known = {owner: (review_id, team) for owner, review_id, team in rows}
        self._known[meeting_id] = known
        while len(self._known) > SENT_KEPT:
            self._known.popitem(last=False)
        return known

    async def remind(self, team_id: str, meeting_id: str, owner: str, waiting: int) -> None:
        """Post the one reminder, in the review message's conversation."""
        async with self._sessions() as session:
            title = await session.scalar(select(Meeting.title).where(Meeting.id == meeting_id))
            row = await session.scalar(
                select(ReviewMessage).where(
                    ReviewMessage.meeting_id == meeting_id, ReviewMessage.owner_user_id == owner
                )
            )
        token = await self._calls.token(team_id)
        if token is None:
            return
        message = review_reminder(title or "", waiting)
        channel = (row.channel_id if row is not None else None) or owner
        try:
            await self._calls.call(
                "chat.postMessage", token, pace=("post", channel), channel=channel,
                **message.payload(),
            )  # fmt: skip
        except SlackRefusal as refusal:
            log.warning("could not remind %s of a review (%s)", owner, refusal.error)

    async def _render(self, review_id: str) -> None:
        lock = self._locks.setdefault(review_id, asyncio.Lock())
        try:
            async with lock:
                await self._render_now(review_id)
        except SlackRefusal as refusal:
            log.warning("the review message %s could not be sent: %s", review_id, refusal.error)
        finally:
            if not lock.locked() and self._locks.get(review_id) is lock:
                del self._locks[review_id]

    async def _render_now(self, review_id: str) -> None:
        async with self._sessions() as session:
            row = await session.get(ReviewMessage, review_id)
            if row is None:
                return
            review = _review(row)
            title = await session.scalar(
                select(Meeting.title).where(Meeting.id == review.meeting_id)
            )
            tasks = (
                await session.scalars(
                    select(Task)
                    .where(
                        Task.meeting_id == review.meeting_id,
                        Task.owner_user_id == review.owner_user_id,
                    )
                    .order_by(Task.position, Task.created_at, Task.id)
                )
            ).all()
        message = review_message(
            title or "", [task_result(t) for t in tasks],
            {t.id: task_details(t) for t in tasks}, meeting_id=review.meeting_id,
            tools=self._tools,
        )  # fmt: skip
        token = await self._calls.token(review.team_id)
        if token is None:
            return
        if review.posted:
            if self._sent.get(review.id) == message:
                return
            await self._calls.call(
                "chat.update", token, pace=("update", review.team_id),
                channel=str(review.channel_id), ts=review.message_ts, **message.payload(),
            )  # fmt: skip
            self._remember(review.id, message)
            return
        claim = await claim_message(
            self._sessions, ReviewMessage, review.id, review.message_ts, now=self._clock.now()
        )
        if claim is None:
            return
        try:
            answer = await self._calls.call(
                "chat.postMessage", token, pace=("post", review.owner_user_id),
                channel=review.owner_user_id, **message.payload(),
            )  # fmt: skip
        except SlackRefusal:
            await self._let_go(review.id, claim)
            raise
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(ReviewMessage)
                .where(ReviewMessage.id == review.id, ReviewMessage.message_ts == claim)
                .values(
                    message_ts=str(answer["ts"]),
                    channel_id=str(answer.get("channel") or review.owner_user_id),
                    updated_at=now,
                )
            )
        self._remember(review.id, message)
        # A change committed while the message was on its way is shown by one more round
        # (an update only if the rendering differs from what was posted).
        await self._render_now(review.id)

    def _remember(self, review_id: str, message: SlackMessage) -> None:
        if len(self._sent) >= SENT_KEPT:
            self._sent.clear()  # only costs an update that changes nothing
        self._sent[review_id] = message

    async def _let_go(self, review_id: str, claim: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(ReviewMessage)
                .where(ReviewMessage.id == review_id, ReviewMessage.message_ts == claim)
                .values(message_ts=None, updated_at=self._clock.now())
            )
