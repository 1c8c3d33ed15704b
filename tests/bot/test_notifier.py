"""The Slack notifier against the Slack emulator, served on a socket (slack_sdk speaks aiohttp):
the meeting message posted once, kept up to date in place, long meetings in thread replies,
bursts coalesced, Slack's refusals and 429s, each workspace's own token, and direct messages."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.meeting_message import NO_TOKEN, REPOST_AFTER
from bot.meeting_store import CLAIM_LIFETIME, claim_of, claim_post, read_meeting
from bot.notifier import SlackNotifier
from bot.slack_calls import POST_BURST, POST_INTERVAL, Pace
from bot.slack_client import slack_web_client
from primitives.enums import ProviderName, RemoteStatus, TaskState
from providers.base import OAuthTokens, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider
from routing.notify import TaskChange
from routing.remote_status import RemoteStatuses
from routing.worker import DispatchWorker, WorkerConfig
from sandbox.clickup import ClickUpSandbox
from sandbox.faults import FaultKind
from sandbox.server import bind_socket, serve_apps, socket_url
from sandbox.slack import SlackSandbox, create_slack_emulator
from sidecar.schemas import MeetingOut
from storage.models import Meeting, Task
from tests.emulators import SLACK_BOT_TOKEN, SLACK_TEAM
from tests.fakes import FakeClock, RecordingNotifier, StaticDirectory
from tests.meetings import item, meeting
from tests.wiring import Wiring, wire

CLICKUP = ProviderName.CLICKUP
ANA, BO = "U0ANA", "U0BO"
GENERAL = "C0GENERAL"
OTHER_TEAM, OTHER_TOKEN, OTHER_CHANNEL = "T0OTHER", "xoxb-other-bot", "C0OTHERGEN"
TOKENS = {SLACK_TEAM: SLACK_BOT_TOKEN, OTHER_TEAM: OTHER_TOKEN}
MEMBERS = {
    SLACK_TEAM: {ANA: "ana@acme.example", BO: "bo@acme.example"},
    OTHER_TEAM: {"U0EVE": "eve@other.example"},
    "T0NONE": {"U0ZED": "zed@none.example"},
}


class Forwarding(RecordingNotifier):
    """Records every notification (as the routing tests read them) and hands it to Slack."""

    def __init__(self, slack: SlackNotifier) -> None:
        super().__init__()
        self.slack = slack

    async def tasks_changed(
        self, team_id: str, meeting_id: str | None, changes: Sequence[TaskChange]
    ) -> None:
        await super().tasks_changed(team_id, meeting_id, changes)
        await self.slack.tasks_changed(team_id, meeting_id, changes)

    async def reconnect_needed(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        await super().reconnect_needed(team_id, user_id, provider)
        await self.slack.reconnect_needed(team_id, user_id, provider)

    async def connection_changed(
        self, team_id: str, user_id: str, provider: ProviderName, account_name: str | None,
        *, replaced: bool,
    ) -> None:  # fmt: skip
        await super().connection_changed(
            team_id, user_id, provider, account_name, replaced=replaced
        )
        await self.slack.connection_changed(
            team_id, user_id, provider, account_name, replaced=replaced
        )

    async def tasks_flushed(self, team_id: str, user_id: str, task_ids: Sequence[str]) -> None:
        await super().tasks_flushed(team_id, user_id, task_ids)
        await self.slack.tasks_flushed(team_id, user_id, task_ids)


@pytest.fixture
def slack_world(slack_world: SlackSandbox) -> SlackSandbox:
    slack_world.add_workspace(OTHER_TEAM, OTHER_TOKEN, "Other Corp")
    slack_world.add_user(OTHER_TEAM, "U0EVE", "Eve Stone", "eve@other.example")
    slack_world.add_channel(OTHER_TEAM, OTHER_CHANNEL, "general", members={"U0EVE"})
    return slack_world


@pytest.fixture
async def slack_url(slack_world: SlackSandbox, clock: FakeClock) -> AsyncIterator[str]:
    sock = bind_socket()
    async with serve_apps((create_slack_emulator(slack_world, clock=clock), sock)):
        yield socket_url(sock)


@dataclass
class Env:
    wiring: Wiring
    slack: SlackNotifier
    world: SlackSandbox
    clickup_world: ClickUpSandbox
    clock: FakeClock
    url: str

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.wiring.sessions

    def notifier(self, **options: Any) -> SlackNotifier:
        """Another process's notifier on the same database and Slack."""
        return SlackNotifier(
            client=slack_web_client(f"{self.url}/api/"), tokens=_tokens,
            sessions=self.sessions, clock=self.clock, tools=(CLICKUP,), **options,
        )  # fmt: skip

    async def connect(self, user_id: str = ANA, clickup_user: int = 101) -> None:
        token = self.clickup_world.issue_token(clickup_user, ["9001"])
        account = ProviderAccount(
            CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),),
            account_email="ana@acme.example",
        )  # fmt: skip
        await self.wiring.utility.connect_completed(
            team_id=SLACK_TEAM, user_id=user_id, account=account
        )

    async def drain(self, worker: DispatchWorker | None = None) -> None:
        worker = worker or self.wiring.worker
        while await worker.run_once():
            pass

    def posts(self, channel: str = GENERAL) -> list[dict[str, Any]]:
        return self.world.messages[channel]

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [c for c in self.world.calls if c["method"] == method]


async def _tokens(team_id: str) -> str | None:
    return TOKENS.get(team_id)


def _text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


@pytest.fixture
async def env(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    clickup_world: ClickUpSandbox,
    slack_world: SlackSandbox,
    slack_url: str,
) -> AsyncIterator[Env]:
    slack = SlackNotifier(
        client=slack_web_client(f"{slack_url}/api/"), tokens=_tokens, sessions=sessions,
        clock=clock, tools=(CLICKUP,),
    )  # fmt: skip
    wiring = wire(
        sessions, clock, {CLICKUP: clickup}, directory=StaticDirectory(MEMBERS),
        notifier=Forwarding(slack), config=WorkerConfig(batch_size=20),
    )  # fmt: skip
    yield Env(wiring, slack, slack_world, clickup_world, clock, slack_url)
    await slack.aclose()


def acme(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return meeting(
        *items, **{"team_id": SLACK_TEAM, "channel_id": GENERAL,
                   "owner": {"slack_user_id": ANA}, **fields},
    )  # fmt: skip


async def test_the_message_shows_every_item_then_links_as_tasks_are_created(env: Env) -> None:
    await env.connect()
    titles = ["Fix <script> & *bold* claims :rocket: 🚀", "Ship `v2` > v1", "Plain"]
    result = await env.wiring.utility.process_meeting(
        acme(
            *(item(n, title=t) for n, t in enumerate(titles[:2], start=1)),
            item(
                3,
                title=titles[2],
                assignee={"name": "Zoe Extern"},
                due_date="2026-02-01",
                priority="urgent",
            ),
            title="Sync <&> *team*",
            summary="We met & agreed",
        )
    )
    assert result.message_posted and result.message_error is None
    [posted] = env.posts()
    shown = _text(posted)
    assert posted["blocks"][0]["text"]["text"] == "Sync <&> *team*"  # a plain-text header
    assert "We met &amp; agreed" in shown and "Fix &lt;script&gt; &amp;" in shown
    assert ":rocket: 🚀" in shown and "Ship `v2` &gt; v1" in shown
    assert shown.count("Queued") == 3
    # The details come from the task rows: the assignee outside Slack, the due date, priority.
    assert "for Zoe Extern" in shown and "priority urgent" in shown
    assert "due Sun 01 Feb 2026" in shown
    async with env.sessions() as session:
        row = (await session.scalars(select(Meeting))).one()
    assert row.message_ts == posted["ts"] and row.message_channel_id == GENERAL

    await env.drain()
    await env.slack.idle()
    [updated] = env.posts()  # updated in place, never posted again
    shown = _text(updated)
    assert shown.count("Created") == 3 and shown.count("https://app.clickup.com/t/") == 3
    assert "edited" in updated
    assert [c["args"]["channel"] for c in env.calls("chat.postMessage")] == [ANA, GENERAL]
    assert all(c["ok"] for c in env.world.calls)


async def test_a_long_meeting_continues_in_thread_replies_within_block_kit_limits(
    env: Env,
) -> None:
    result = await env.wiring.utility.process_meeting(
        acme(*(item(n, due_date="2026-02-01", priority="high") for n in range(1, 121)))
    )
    assert result.message_posted and {i.status for i in result.items} == {TaskState.PENDING_AUTH}
    await env.slack.idle()
    first, *replies = env.posts()
    assert len(replies) == 5 and all(r["thread_ts"] == first["ts"] for r in replies)
    assert all(len(m["blocks"]) <= 50 for m in env.posts())
    assert "Action 1\\n" in _text(first) and "Action 23\\n" in _text(first)
    assert "Action 120" in _text(replies[-1]) and "Connect ClickUp" in _text(replies[-1])
    async with env.sessions() as session:
        row = (await session.scalars(select(Meeting))).one()
    assert row.message_reply_ts == [r["ts"] for r in replies]

    await env.connect()  # the 120 waiting tasks are queued, then created
    await env.drain()
    await env.slack.idle()
    assert len(env.posts()) == 6 and len(env.calls("chat.postMessage")) == 6 + 2  # + 2 DMs
    every = "".join(_text(m) for m in env.posts())
    assert every.count("https://app.clickup.com/t/") == 120 and "Connect ClickUp" not in every
    assert all(c["ok"] for c in env.world.calls)
    assert env.world.rate_limited == {}  # paced within chat.postMessage's and chat.update's


async def test_a_burst_of_changes_is_one_update(env: Env) -> None:
    gate = asyncio.Event()
    slack = env.notifier(pause=gate.wait)
    env.wiring.notifier.slack = slack  # type: ignore[attr-defined]
    await env.connect()
    await env.wiring.utility.process_meeting(acme(*(item(n) for n in range(1, 51))))
    before = len(env.calls("chat.update"))
    worker = DispatchWorker(
        sessions=env.sessions, vault=env.wiring.vault, clock=env.clock,
        providers=env.wiring.providers, catalogs=env.wiring.catalogs,
        notifier=env.wiring.notifier, config=WorkerConfig(batch_size=1),
    )  # fmt: skip
    await env.drain(worker)  # 50 passes, 50 announcements
    assert len([b for b in env.wiring.notifier.batches if b[2][0].state is TaskState.CREATED]) == 50
    gate.set()
    await slack.idle()
    # One round, however many changes: the first message (items 1-23) updated once, the two
    # thread replies (24-46, 47-50) posted as they are now.
    assert len(env.calls("chat.update")) - before == 1 and len(env.posts()) == 3
    every = "".join(_text(m) for m in env.posts())
    assert every.count("https://app.clickup.com/t/") == 50
    await slack.aclose()


async def test_a_channel_the_bot_is_not_in_fails_visibly_and_tasks_are_still_created(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    await env.connect()
    caplog.set_level(logging.INFO)
    result = await env.wiring.utility.process_meeting(acme(item(1), channel_id="C0RANDOM"))
    assert not result.message_posted and result.message_error == "not_in_channel"
    answer = MeetingOut.of(result).model_dump(mode="json")
    assert answer["slack"] == {"posted": False, "error": "not_in_channel"}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not_in_channel" in w and "'m-1' in C0RANDOM" in w for w in warned)
    assert not any(SLACK_BOT_TOKEN in r.getMessage() for r in caplog.records)
    await env.drain()
    await env.slack.idle()
    async with env.sessions() as session:
        [task] = (await session.scalars(select(Task))).all()
        row = (await session.scalars(select(Meeting))).one()
    assert task.state is TaskState.CREATED
    assert row.message_ts is None and row.message_error == "not_in_channel"
    assert env.world.messages.get("C0RANDOM", []) == []
    # Posted again: the same answer, read from the meeting.
    again = await env.wiring.utility.process_meeting(acme(item(1), channel_id="C0RANDOM"))
    assert not again.message_posted and again.message_error == "not_in_channel"
    assert len(env.calls("chat.postMessage")) == 2  # Ana's connect DM, and the refused post
    # Once the app is invited, a later change posts the message.
    env.world.channels["C0RANDOM"].members.add("U0SCRUMYBOT")
    env.clock.advance(REPOST_AFTER.total_seconds())
    await env.wiring.utility.dismiss_task(result.items[0].task_id, user_id=ANA)
    await env.slack.idle()
    [posted] = env.posts("C0RANDOM")
    row = await _meeting_row(env)
    assert row.message_ts == posted["ts"] and row.message_error is None


async def test_a_429_is_waited_out(env: Env) -> None:
    env.world.faults.add(FaultKind.RATE_LIMIT, path="chat.postMessage", times=1, seconds=1)
    await env.wiring.utility.process_meeting(acme(item(1)))
    # Slack's Retry-After is waited out in wall time; the answer may have stopped waiting.
    await env.slack.idle()
    assert env.world.rate_limited["chat.postMessage"] == 1 and len(env.posts()) == 1
    env.world.faults.add(FaultKind.RATE_LIMIT, path="chat.update", times=1, seconds=1)
    await env.connect()
    await env.drain()
    await env.slack.idle()
    assert env.world.rate_limited["chat.update"] == 1
    assert "https://app.clickup.com/t/" in _text(env.posts()[0])


async def test_a_failed_post_is_tried_again_and_the_answer_says_why_meanwhile(
    env: Env,
) -> None:
    env.world.faults.add(FaultKind.SERVER_ERROR, path="chat.postMessage", times=1)
    result = await env.wiring.utility.process_meeting(acme(item(1)))
    assert not result.message_posted and result.message_error == "internal_error"
    await env.slack.idle()  # tried again after the window
    [posted] = env.posts()
    async with env.sessions() as session:
        row = (await session.scalars(select(Meeting))).one()
    assert row.message_ts == posted["ts"] and row.message_error is None
    again = await env.wiring.utility.process_meeting(acme(item(1)))
    assert again.message_posted and again.message_error is None


async def test_each_workspace_is_posted_to_with_its_own_token(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    await env.wiring.utility.process_meeting(acme(item(1)))
    other = await env.wiring.utility.process_meeting(
        meeting(
            item(1), team_id=OTHER_TEAM, channel_id=OTHER_CHANNEL, owner={"slack_user_id": "U0EVE"}
        )
    )
    assert other.message_posted
    posts = env.calls("chat.postMessage")
    assert [(c["team_id"], c["args"]["channel"]) for c in posts] == [
        (SLACK_TEAM, GENERAL), (OTHER_TEAM, OTHER_CHANNEL),
    ]  # fmt: skip
    assert env.posts(OTHER_CHANNEL)[0]["team"] == OTHER_TEAM
    caplog.set_level(logging.WARNING)
    for n in (1, 2):  # a workspace without a token: said once, nothing sent
        none = await env.wiring.utility.process_meeting(
            meeting(
                item(1),
                meeting_id=f"m-{n}",
                team_id="T0NONE",
                channel_id="C0X",
                owner={"slack_user_id": "U0ZED"},
            )
        )
        assert not none.message_posted and none.message_error == NO_TOKEN
    assert sum("T0NONE" in r.getMessage() for r in caplog.records) == 1
    assert len(env.calls("chat.postMessage")) == 2


async def test_direct_messages_on_connect_flush_and_reconnect(env: Env) -> None:
    await env.wiring.utility.process_meeting(acme(item(1), item(2), item(3)))
    await env.connect()  # connected (DM), the three waiting tasks queued ...
    assert env.wiring.notifier.flushes and len(env.wiring.notifier.flushes[0][2]) == 3
    await env.drain()  # ... and created
    await env.slack.idle()
    dm = env.posts("D0ACME0ANA")
    texts = [m["text"] for m in dm]
    assert texts == [
        "ClickUp (ana@acme.example, Acme) is now connected to your Slack account. Not you?",
        "3 waiting tasks were created in ClickUp",
    ]
    assert '"action_id"' in _text(dm[0]) and "Disconnect" in _text(dm[0])
    await env.slack.reconnect_needed(SLACK_TEAM, ANA, CLICKUP)
    await env.slack.idle()
    assert env.posts("D0ACME0ANA")[-1]["text"] == "Reconnect ClickUp to keep creating tasks"
    assert all(c["ok"] for c in env.world.calls)


async def test_a_direct_message_slack_refuses_is_logged_not_raised(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await env.slack.reconnect_needed(SLACK_TEAM, "U0NOBODY", CLICKUP)
    await env.slack.idle()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "U0NOBODY" in warning and "(reconnect): channel_not_found" in warning


async def test_two_processes_post_once_and_converge(env: Env) -> None:
    other = env.notifier()
    worker = DispatchWorker(
        sessions=env.sessions, vault=env.wiring.vault, clock=env.clock,
        providers=env.wiring.providers, catalogs=env.wiring.catalogs,
        notifier=Forwarding(other), config=WorkerConfig(batch_size=2),
    )  # fmt: skip
    await env.connect()
    result = await env.wiring.utility.process_meeting(acme(*(item(n) for n in range(1, 6))))
    # The other process hears of the meeting too, at the same moment: it does not post again.
    async with env.sessions() as session:
        row = (await session.scalars(select(Meeting))).one()
    change = [TaskChange(i.task_id, SLACK_TEAM, row.id, ANA, i.title, i.status, None, None, None)
              for i in result.items]  # fmt: skip
    await asyncio.gather(other.tasks_changed(SLACK_TEAM, row.id, change),
                         env.slack.tasks_changed(SLACK_TEAM, row.id, change))  # fmt: skip
    await env.drain(worker)  # the other process creates the tasks and updates the message
    await asyncio.gather(other.idle(), env.slack.idle())
    assert len(env.calls("chat.postMessage")) == 1 + 1  # the message, and Ana's connect DM
    assert _text(env.posts()[0]).count("https://app.clickup.com/t/") == 5
    await other.aclose()


async def test_two_processes_told_of_a_new_meeting_at_once_post_it_once(env: Env) -> None:
    quiet = wire(env.sessions, env.clock, directory=StaticDirectory(MEMBERS))  # tells nobody
    result = await quiet.utility.process_meeting(acme(item(1), item(2)))
    meeting_id = (await _meeting_row(env)).id
    change = [TaskChange(i.task_id, SLACK_TEAM, meeting_id, ANA, i.title, i.status, None, None,
                         None) for i in result.items]  # fmt: skip
    processes = [env.slack, env.notifier(), env.notifier()]
    await asyncio.gather(*(p.tasks_changed(SLACK_TEAM, meeting_id, change) for p in processes))
    await asyncio.gather(*(p.idle() for p in processes))
    [posted] = env.posts()
    assert len(env.calls("chat.postMessage")) == 1 and "Action 2" in _text(posted)
    row = await _meeting_row(env)
    assert row.message_ts == posted["ts"] and row.message_error is None
    await asyncio.gather(*(p.aclose() for p in processes[1:]))


class HeldClient(AsyncWebClient):
    """A Web API client whose `method` calls wait until the test lets them go."""

    def __init__(self, base_url: str, method: str = "chat.update") -> None:
        super().__init__(base_url=base_url)
        self.method = method
        self.release = asyncio.Event()
        self.holding = asyncio.Event()

    async def api_call(self, api_method: str, **kwargs: Any) -> Any:
        if api_method == self.method and not self.release.is_set():
            self.holding.set()
            await self.release.wait()
        return await super().api_call(api_method, **kwargs)


async def test_a_stale_update_landing_last_is_corrected_by_its_sender(env: Env) -> None:
    held = HeldClient(f"{env.url}/api/")
    slack = SlackNotifier(client=held, tokens=_tokens, sessions=env.sessions, clock=env.clock,
                          tools=(CLICKUP,))  # fmt: skip
    env.wiring.notifier.slack = slack  # type: ignore[attr-defined]
    other = env.notifier()
    result = await env.wiring.utility.process_meeting(acme(item(1), item(2)))
    await slack.idle()
    first, second = result.items
    # This process renders "1 dismissed"; its update is held on the way to Slack ...
    await env.wiring.utility.dismiss_task(first.task_id, user_id=ANA)
    await asyncio.wait_for(held.holding.wait(), 10)
    # ... while another process dismisses item 2 and shows both dismissed.
    async with env.sessions() as session, session.begin():
        await session.execute(
            update(Task).where(Task.id == second.task_id).values(state=TaskState.DISMISSED)
        )
    meeting_id = (await _meeting_row(env)).id
    change = TaskChange(second.task_id, SLACK_TEAM, meeting_id, ANA, second.title,
                        TaskState.DISMISSED, None, None, None)  # fmt: skip
    await other.tasks_changed(SLACK_TEAM, meeting_id, [change])
    await other.idle()
    assert _text(env.posts()[0]).count("Dismissed") == 2
    # The stale update lands last; its sender reads again and sends the truth.
    held.release.set()
    await slack.idle()
    assert _text(env.posts()[0]).count("Dismissed") == 2
    assert len(env.calls("chat.update")) == 3
    await asyncio.gather(slack.aclose(), other.aclose())


async def test_a_slow_first_post_does_not_hold_the_answer(env: Env) -> None:
    """The API's answer waits for the first post at most `post_wait`; past it the meeting is
    "not posted yet" (no error), and the post goes on and lands once."""
    held = HeldClient(f"{env.url}/api/", method="chat.postMessage")
    slack = SlackNotifier(client=held, tokens=_tokens, sessions=env.sessions, clock=env.clock,
                          tools=(CLICKUP,), post_wait=0.05)  # fmt: skip
    env.wiring.notifier.slack = slack  # type: ignore[attr-defined]
    result = await env.wiring.utility.process_meeting(acme(item(1), item(2)))
    assert held.holding.is_set()
    assert not result.message_posted and result.message_error is None
    assert env.posts() == []
    held.release.set()
    await slack.idle()
    [posted] = env.posts()
    row = await _meeting_row(env)
    assert row.message_ts == posted["ts"] and row.message_error is None
    again = await env.wiring.utility.process_meeting(acme(item(1), item(2)))
    assert again.message_posted and len(env.posts()) == 1
    await slack.aclose()


async def test_posts_to_one_channel_go_in_a_burst_then_one_a_second(clock: FakeClock) -> None:
    pace = Pace(clock)
    for _ in range(POST_BURST):
        await pace.wait(("post", GENERAL), POST_INTERVAL, POST_BURST)
    assert clock.slept == []
    await pace.wait(("post", GENERAL), POST_INTERVAL, POST_BURST)
    await pace.wait(("post", "C0OTHER"), POST_INTERVAL, POST_BURST)  # another channel: at once
    assert clock.slept == [POST_INTERVAL]
    clock.advance(10 * POST_INTERVAL)  # a quiet while refills the burst, and no more
    for _ in range(POST_BURST + 1):
        await pace.wait(("post", GENERAL), POST_INTERVAL, POST_BURST)
    assert clock.slept == [POST_INTERVAL, POST_INTERVAL]


async def _meeting_row(env: Env) -> Meeting:
    async with env.sessions() as session:
        return (await session.scalars(select(Meeting))).one()


async def test_the_post_is_claimed_once(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        session.add(Meeting(id="mtg_1", team_id="T1", external_id="m-1", title="Sync",
                            channel_id="C1", created_at=now, updated_at=now))  # fmt: skip
    state = await read_meeting(sessions, "mtg_1")
    assert state is not None and not state.posted
    claims = await asyncio.gather(*(claim_post(sessions, state, now=now) for _ in range(4)))
    assert [c for c in claims if c is not None] == [claim_of(now)]
    held = await read_meeting(sessions, "mtg_1")
    assert held is not None and held.message_ts == claim_of(now) and not held.posted
    assert await claim_post(sessions, held, now=now) is None  # fresh: another process posts
    later = now + CLAIM_LIFETIME
    assert await claim_post(sessions, held, now=later) == claim_of(later)  # stale: taken over
    assert await claim_post(sessions, held, now=later) is None  # ... once


async def test_a_task_done_in_clickup_shows_done_on_its_line_in_place(env: Env) -> None:
    await env.connect()
    await env.wiring.utility.process_meeting(acme(item(1), item(2), item(3)))
    await env.drain()
    await env.slack.idle()
    async with env.sessions() as session:
        rows = (await session.scalars(select(Task).order_by(Task.position))).all()
    statuses = RemoteStatuses(sessions=env.sessions, notifier=env.wiring.notifier, clock=env.clock)
    dms = len(env.calls("chat.postMessage"))
    now = env.clock.now()
    assert await statuses.apply(CLICKUP, str(rows[0].provider_task_id), RemoteStatus.DONE, now)
    assert await statuses.apply(CLICKUP, str(rows[1].provider_task_id), RemoteStatus.DELETED, now)
    await env.slack.idle()
    [message] = env.posts()  # the same message, updated in place
    heads = [
        b["text"]["text"].split("\n")[0]
        for b in message["blocks"] if b["block_id"].startswith("item:")
    ]  # fmt: skip
    assert heads[0].endswith("|Action 1> · ✓ done in ClickUp")
    assert heads[1].endswith("· ~Action 2~ · deleted in ClickUp")
    assert heads[2].endswith("|Action 3>")
    assert len(env.calls("chat.postMessage")) == dms  # nobody is messaged about it
