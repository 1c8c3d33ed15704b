"""The dispatch worker against the ClickUp emulator: created once, whatever goes wrong."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName, TaskState
from providers.base import OAuthTokens, ProviderAccount, Workspace
from providers.clickup import ClickUpProvider
from routing.dispatch import SendTiming
from routing.outbox import begin_send, claim_due, renew_leases, rescue_expired
from routing.retry import RATE_LIMIT_JITTER
from routing.utility import IntegrationUtility
from routing.worker import MIN_IDLE_WAIT, DispatchWorker, WorkerConfig
from sandbox.clickup import ClickUpSandbox
from sandbox.faults import FaultKind
from storage.models import Task, UserAuthToken
from tests.fakes import FakeClock, RecordingNotifier, StaticDirectory
from tests.meetings import item, meeting
from tests.wiring import MEMBERS, Wiring, wire

CLICKUP = ProviderName.CLICKUP


@dataclass
class Env:
    """One test's wiring and the ClickUp world its provider talks to."""

    wiring: Wiring
    world: ClickUpSandbox
    clock: FakeClock

    @property
    def utility(self) -> IntegrationUtility:
        return self.wiring.utility

    @property
    def worker(self) -> DispatchWorker:
        return self.wiring.worker

    @property
    def notifier(self) -> RecordingNotifier:
        return self.wiring.notifier

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.wiring.sessions

    async def connect(self, user_id: str = "U1", clickup_user: int = 101) -> str:
        token = self.world.issue_token(clickup_user, ["9001"])
        account = ProviderAccount(CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),))
        await self.utility.connect_completed(team_id="T1", user_id=user_id, account=account)
        return token

    async def tasks(self) -> list[Task]:
        async with self.sessions() as session:
            return list((await session.scalars(select(Task).order_by(Task.item_id))).all())

    async def drain(self, passes: int = 20) -> None:
        """Run passes, moving the clock past every backoff, until nothing is due."""
        for _ in range(passes):
            if await self.worker.run_once() == 0:
                self.clock.advance(3600)
                if await self.worker.run_once() == 0:
                    return


@pytest.fixture
def env(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    clickup_world: ClickUpSandbox,
) -> Env:
    wiring = wire(sessions, clock, {CLICKUP: clickup}, config=WorkerConfig(max_attempts=4))
    return Env(wiring, clickup_world, clock)


async def test_queued_tasks_are_created_once_with_one_message_per_meeting(env: Env) -> None:
    await env.connect()
    result = await env.utility.process_meeting(
        meeting(item(1, project_name="website redesign"), item(2), item(3, priority="urgent"))
    )
    assert {i.status for i in result.items} == {TaskState.QUEUED}
    env.notifier.batches.clear()
    assert await env.worker.run_once() == 3
    rows = await env.tasks()
    assert {r.state for r in rows} == {"created"}
    assert rows[0].destination_id == "l2" and "matches list Marketing / Q3" in (
        rows[0].route_reason or ""
    )
    assert all(len(env.world.tasks_with_marker(r.marker)) == 1 for r in rows)
    assert len(env.notifier.batches) == 1 and len(env.notifier.changes) == 3
    assert all(
        c.url and c.url.startswith("https://app.clickup.com/t/") for c in env.notifier.changes
    )
    assert await env.worker.run_once() == 0  # nothing left


async def test_pending_tasks_are_created_after_connecting(env: Env) -> None:
    await env.utility.process_meeting(meeting(item(1), item(2)))
    assert {r.state for r in await env.tasks()} == {"pending_auth"}
    assert await env.worker.run_once() == 0
    await env.connect()
    assert {r.state for r in await env.tasks()} == {"queued"}
    await env.worker.run_once()
    assert {r.state for r in await env.tasks()} == {"created"}
    assert len(env.world.tasks) == 2


async def test_two_flushes_and_two_workers_at_once_create_nothing_twice(env: Env) -> None:
    await env.utility.process_meeting(meeting(*(item(n) for n in range(12))))
    token = env.world.issue_token(101, ["9001"])
    account = ProviderAccount(CLICKUP, OAuthTokens(token), (Workspace("9001", "Acme"),))
    await env.utility.connect_completed(team_id="T1", user_id="U1", account=account)
    flushed = await asyncio.gather(
        env.utility.process_pending_tasks("U1", team_id="T1"),
        env.utility.process_pending_tasks("U1", team_id="T1"),
    )
    assert sum(flushed) == 0  # connect_completed already flushed them all
    other = env.wiring.another_worker("w2")
    await asyncio.gather(env.worker.run_once(), other.run_once(), env.worker.run_once())
    await env.drain()
    assert len(env.world.tasks) == 12
    assert {r.state for r in await env.tasks()} == {"created"}


async def test_a_lost_response_is_adopted_not_sent_again(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    env.world.faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/task")
    await env.worker.run_once()
    (row,) = await env.tasks()
    assert row.state == "retrying" and row.first_sent_at is not None
    await env.drain()
    (row,) = await env.tasks()
    assert row.state == "created"
    assert len(env.world.tasks_with_marker(row.marker)) == 1
    assert "not created twice" in (row.route_reason or "")


async def test_a_worker_that_died_mid_task_is_rescued(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    dead = await claim_due(
        env.sessions, lease_token="dead:1", now=env.clock.now(), lease=timedelta(seconds=60),
        limit=10,
    )  # fmt: skip
    assert len(dead) == 1
    assert await env.worker.run_once() == 0  # leased by the dead worker
    env.clock.advance(61)
    assert await env.worker.run_once() == 1
    (row,) = await env.tasks()
    assert row.state == "created" and len(env.world.tasks) == 1


# OAUTH_019 is documented; OAUTH_018 is what ClickUp answers in the wild for the same thing;
# OAUTH_099 stands for a code nobody has seen yet.
@pytest.mark.parametrize("code", ["OAUTH_019", "OAUTH_018", "OAUTH_099"])
async def test_a_revoked_connection_sends_the_owners_tasks_back_to_wait(
    env: Env, code: str
) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1), item(2), item(3)))
    env.world.faults.add(FaultKind.REVOKED, method="POST", path="/task", code=code)
    await env.wiring.another_worker("w1").run_once()
    rows = await env.tasks()
    assert {r.state for r in rows} == {"pending_auth"}
    assert env.notifier.reconnects == [("T1", "U1", CLICKUP)]
    async with env.sessions() as session:
        connection = await session.scalar(select(UserAuthToken))
    assert connection is not None and connection.needs_reconnect
    status = await env.utility.get_auth_status("U1", team_id="T1")
    assert status.clickup.needs_reconnect and status.pending_tasks_count == 3
    await env.connect()  # reconnecting flushes them
    await env.drain()
    assert {r.state for r in await env.tasks()} == {"created"}


async def test_a_deleted_list_fails_with_a_readable_reason(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1, project_name="Launch")))
    del env.world.lists["l3"]
    await env.drain()
    (row,) = await env.tasks()
    assert row.state == "failed"
    assert "deleted; choose another list" in (row.last_error or "")


async def test_a_list_missing_from_a_fresh_catalog_fails_before_sending(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1, project_name="Launch")))
    del env.world.lists["l3"]
    env.clock.advance(3600)  # the cached catalog is stale: it is read again
    await env.worker.run_once()
    (row,) = await env.tasks()
    assert row.state == "failed" and "no longer exists" in (row.last_error or "")
    assert env.world.count("POST", "/api/v2/list") == 0


async def test_transient_errors_back_off_then_give_up(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    env.world.faults.add(FaultKind.SERVER_ERROR, method="POST", path="/task", times=None)
    await env.worker.run_once()
    (row,) = await env.tasks()
    assert row.state == "retrying" and row.next_attempt_at is not None
    assert row.next_attempt_at > env.clock.now()
    assert row.first_sent_at is not None  # a 500 may have been half-done: reconcile later
    await env.drain()
    (row,) = await env.tasks()
    assert row.state == "failed" and (row.last_error or "").startswith("gave up after 4 attempts")
    assert env.world.tasks == {}


async def test_rate_limits_wait_without_using_up_attempts(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    env.world.faults.add(FaultKind.RATE_LIMIT, method="POST", path="/task", times=6)
    await env.drain(passes=40)
    (row,) = await env.tasks()
    assert row.state == "created"


async def test_a_task_is_routed_at_dispatch_when_no_catalog_was_cached(env: Env) -> None:
    await env.connect()
    await env.wiring.catalogs.forget(team_id="T1", user_id="U1", provider=CLICKUP)
    result = await env.utility.process_meeting(meeting(item(1, project_name="backlog")))
    assert result.items[0].status is TaskState.QUEUED and result.items[0].provider is None
    await env.worker.run_once()
    (row,) = await env.tasks()
    assert row.state == "created" and row.destination_id == "l1"


async def test_a_failed_task_can_be_retried_by_its_owner(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    env.world.faults.add(FaultKind.SERVER_ERROR, method="POST", path="/task", times=4)
    await env.drain()
    (row,) = await env.tasks()
    assert row.state == "failed"
    retried = await env.utility.retry_task(row.id, user_id="U1")
    assert retried.status is TaskState.QUEUED
    await env.drain()
    (row,) = await env.tasks()
    assert row.state == "created" and len(env.world.tasks_with_marker(row.marker)) == 1


async def test_preferences_pick_the_default_list(env: Env) -> None:
    await env.connect()
    prefs = await env.utility.set_preferences(
        "U1", team_id="T1", default_clickup_list=("l3", "Marketing / Launch")
    )
    assert prefs.default_destinations == {CLICKUP: "l3"}
    await env.utility.process_meeting(meeting(item(1)))
    await env.worker.run_once()
    (row,) = await env.tasks()
    assert row.destination_id == "l3" and "your default list" in (row.route_reason or "")


async def test_disconnecting_sends_unsent_tasks_back_to_wait(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1), item(2)))
    assert await env.utility.disconnect(team_id="T1", user_id="U1", provider=CLICKUP)
    assert {r.state for r in await env.tasks()} == {"pending_auth"}
    status = await env.utility.get_auth_status("U1", team_id="T1")
    assert not status.clickup.connected and status.pending_tasks_count == 2
    assert await env.worker.run_once() == 0
    assert not await env.utility.disconnect(team_id="T1", user_id="U1", provider=CLICKUP)


async def test_a_date_only_due_lands_on_its_day_where_the_owner_works(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    clickup_world: ClickUpSandbox,
) -> None:
    # Ana works in Los Angeles, and so does her ClickUp workspace: a date-only due sent as
    # midnight UTC would be kept as 04:00 on the day before there.
    clickup_world.time_zone = "America/Los_Angeles"
    directory = StaticDirectory(MEMBERS, time_zones={"U1": "America/Los_Angeles"})
    env = Env(wire(sessions, clock, {CLICKUP: clickup}, directory=directory), clickup_world, clock)
    await env.connect()
    await env.utility.process_meeting(meeting(item(1, due_date="2026-03-09")))
    await env.utility.create_task(
        "U1", {"title": "One more", "due_date": "2026-03-10"}, team_id="T1"
    )
    await env.drain()
    rows = await env.tasks()
    assert [r.owner_time_zone for r in rows] == ["America/Los_Angeles"] * 2
    kept = {
        task["name"]: datetime.fromtimestamp(
            int(task["due_date"]) / 1000, ZoneInfo("America/Los_Angeles")
        ).date()
        for task in clickup_world.tasks.values()
    }
    assert kept == {"Action 1": date(2026, 3, 9), "One more": date(2026, 3, 10)}


# --- exactly once under slow providers, lost answers and outages -----------------------------


async def test_claimed_tasks_waiting_for_a_slot_are_never_sent_after_losing_their_lease(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    clickup: ClickUpProvider,
    clickup_world: ClickUpSandbox,
) -> None:
    """One slot, three claimed: the first create takes longer than the lease (within its send
    timeout), another worker takes the other two over meanwhile, and the first worker must not
    send them too — nor may the other take the first, whose request is still out."""
    config = WorkerConfig(concurrency=1, batch_size=3, max_attempts=4,
                          lease=timedelta(seconds=10), send=SendTiming(timeout=20))  # fmt: skip
    env = Env(wire(sessions, clock, {CLICKUP: clickup}, config=config), clickup_world, clock)
    await env.connect()
    await env.utility.process_meeting(meeting(item(1), item(2), item(3)))
    env.world.faults.add(FaultKind.LATENCY, method="POST", path="/task", seconds=15)
    start = clock.now()

    async def the_other_worker() -> int:
        while clock.now() < start + timedelta(seconds=11):  # noqa: ASYNC110 (a fake clock)
            await asyncio.sleep(0)
        return await env.wiring.another_worker("w2").run_once()

    await asyncio.gather(env.worker.run_once(), the_other_worker())
    await env.drain()
    rows = await env.tasks()
    assert {r.state for r in rows} == {"created"}
    assert [len(env.world.tasks_with_marker(r.marker)) for r in rows] == [1, 1, 1]


async def test_the_fence_refuses_a_lost_lease_and_covers_the_request(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    now, lease = env.clock.now(), timedelta(seconds=60)
    (task,) = await claim_due(env.sessions, lease_token="a:1", now=now, lease=lease, limit=5)
    landed_by = now + timedelta(seconds=90)  # longer than the lease
    assert await begin_send(
        env.sessions, task.id, lease_token="a:1", now=now, landed_by=landed_by
    )  # fmt: skip
    (row,) = await env.tasks()
    assert row.lease_expires_at == landed_by and row.send_deadline == landed_by
    assert row.first_sent_at == now
    # Renewing never shortens the stretched lease.
    assert await renew_leases(env.sessions, lease_token="a:1", now=now, lease=lease) == 1
    assert (await env.tasks())[0].lease_expires_at == landed_by
    # Past the lease but before the request can no longer land: nobody may rescue it.
    assert await rescue_expired(env.sessions, now=now + timedelta(seconds=61)) == 0
    later = now + timedelta(seconds=91)
    assert await rescue_expired(env.sessions, now=later) == 1
    assert not await begin_send(
        env.sessions, task.id, lease_token="a:1", now=later, landed_by=later
    )  # fmt: skip
    (row,) = await env.tasks()
    assert row.state == "retrying" and row.attempts == 0  # a rescue costs no attempt


async def test_a_rescued_task_is_looked_up_only_after_its_request_can_no_longer_land(
    env: Env,
) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    now, lease = env.clock.now(), timedelta(seconds=5)
    (task,) = await claim_due(env.sessions, lease_token="a:1", now=now, lease=lease, limit=5)
    landed_by = now + timedelta(seconds=30)
    assert await begin_send(
        env.sessions, task.id, lease_token="a:1", now=now, landed_by=landed_by
    )  # fmt: skip
    (row,) = await env.tasks()
    # The lease was stretched: at 6 s the task is still held, whatever its 5 s lease said.
    assert await rescue_expired(env.sessions, now=now + timedelta(seconds=6)) == 0
    assert await rescue_expired(env.sessions, now=now + timedelta(seconds=31)) == 1
    (row,) = await env.tasks()
    assert row.next_attempt_at is not None and row.next_attempt_at >= landed_by


async def three_refusals_then_a_lost_answer(env: Env) -> None:
    """Attempts 1-3 get a 500; the 4th and last creates the task, but its answer is lost."""
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    env.world.faults.add(FaultKind.SERVER_ERROR, method="POST", path="/task", times=3)
    for _ in range(3):
        assert await env.worker.run_once() == 1
        env.clock.advance(3600)
    env.world.faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/task", times=1)
    assert await env.worker.run_once() == 1
    (row,) = await env.tasks()
    assert row.attempts == 4 and len(env.world.tasks_with_marker(row.marker)) == 1


async def test_a_last_attempt_whose_answer_was_lost_ends_created_not_failed(env: Env) -> None:
    await three_refusals_then_a_lost_answer(env)
    await env.drain()
    (row,) = await env.tasks()
    assert row.state == "created" and row.attempts == 4
    assert len(env.world.tasks_with_marker(row.marker)) == 1


async def test_a_final_check_that_cannot_answer_keeps_the_task_retrying(env: Env) -> None:
    """Never `failed` while it may exist: if the lookup cannot say, the task waits."""
    await three_refusals_then_a_lost_answer(env)
    lookups_fail = env.world.faults.add(
        FaultKind.SERVER_ERROR, method="GET", path="/task", times=None
    )
    await env.drain(passes=12)
    (row,) = await env.tasks()
    assert row.state == "retrying"
    assert (row.last_error or "").startswith("checking whether it was created before giving up")
    lookups_fail.times = 0
    await env.drain()
    (row,) = await env.tasks()
    assert row.state == "created" and len(env.world.tasks_with_marker(row.marker)) == 1


async def test_an_outage_pauses_the_tool_and_costs_no_attempts(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(*(item(n) for n in range(12))))
    outage = env.world.faults.add(FaultKind.SERVER_ERROR, method="POST", path="/task", times=None)
    for _ in range(30):  # a long outage: far more passes than max_attempts
        await env.worker.run_once()
        env.clock.advance(60)
    rows = await env.tasks()
    assert {r.state for r in rows} == {"retrying"}
    assert max(r.attempts for r in rows) <= 1
    posts = env.world.count("POST", "/api/v2/list")
    assert posts < 60  # one probe per pause, not one request per task per pass
    outage.times = 0
    await env.drain()
    rows = await env.tasks()
    assert {r.state for r in rows} == {"created"}
    assert all(len(env.world.tasks_with_marker(r.marker)) == 1 for r in rows)


async def test_a_rate_limit_waits_what_clickup_asked_and_looks_nothing_up(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    env.world.faults.add(FaultKind.RATE_LIMIT, method="POST", path="/task", seconds=30)
    await env.worker.run_once()
    (row,) = await env.tasks()
    assert row.state == "retrying" and row.attempts == 0 and row.first_sent_at is None
    assert row.next_attempt_at is not None
    waited = (row.next_attempt_at - env.clock.now()).total_seconds()
    # ClickUp's reset, a second more (it is in whole seconds), not the longer of it and a
    # backoff.
    assert 30 <= waited <= 31 + RATE_LIMIT_JITTER
    env.clock.advance(32)
    await env.worker.run_once()
    (row,) = await env.tasks()
    assert row.state == "created"
    assert env.world.count("GET", "/api/v2/list/l1/task") == 0  # a 429 created nothing


async def test_the_worker_wakes_when_the_next_retry_is_due(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    env.world.faults.add(FaultKind.RATE_LIMIT, method="POST", path="/task", seconds=3)
    await env.worker.run_once()
    # The reset and its second of margin, not the 5 s poll.
    assert 3 <= await env.worker.next_wait() <= 4 + RATE_LIMIT_JITTER
    env.clock.advance(10)
    assert await env.worker.next_wait() == MIN_IDLE_WAIT  # due now: go at once


async def test_the_lookups_of_a_claimed_batch_share_one_listing(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(*(item(n) for n in range(8))))
    env.world.faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/task", times=4)
    await env.worker.run_once()
    assert [r.state for r in await env.tasks()].count(TaskState.RETRYING) == 4
    env.clock.advance(3600)
    assert await env.worker.run_once() == 4
    rows = await env.tasks()
    assert {r.state for r in rows} == {"created"}
    assert all(len(env.world.tasks_with_marker(r.marker)) == 1 for r in rows)
    assert env.world.count("GET", "/api/v2/list/l1/task") == 1  # not one listing per task


async def test_tasks_rescued_together_share_one_listing_across_claims(env: Env) -> None:
    """A stopped worker's tasks are claimed a few at a time; one listing looks all up."""
    await env.connect()
    await env.utility.process_meeting(meeting(*(item(n) for n in range(8))))
    now, lease = env.clock.now(), timedelta(seconds=60)
    dead = await claim_due(env.sessions, lease_token="dead:1", now=now, lease=lease, limit=8)
    for task in dead:  # sent (the fence passed), then the worker died: nothing landed
        landed_by = now + timedelta(seconds=25)
        assert await begin_send(
            env.sessions, task.id, lease_token="dead:1", now=now, landed_by=landed_by
        )  # fmt: skip
    env.clock.advance(61)
    small = wire(
        env.sessions, env.clock, env.wiring.providers, vault=env.wiring.vault,
        config=WorkerConfig(batch_size=2, max_attempts=4),
    ).worker  # fmt: skip
    for _ in range(4):
        assert await small.run_once() == 2
    rows = await env.tasks()
    assert {r.state for r in rows} == {"created"}
    assert all(len(env.world.tasks_with_marker(r.marker)) == 1 for r in rows)
    assert env.world.count("GET", "/api/v2/list/l1/task") == 1  # not one a claim


async def test_a_paused_tool_does_not_keep_the_worker_polling(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(*(item(n) for n in range(6))))
    env.world.faults.add(FaultKind.SERVER_ERROR, method="POST", path="/task", times=None)
    await env.worker.run_once()  # five failures in a row pause ClickUp
    env.clock.advance(0.5)
    # Due tasks wait for ClickUp, but the worker sleeps until the pause ends, not 50 ms.
    assert await env.worker.next_wait() > MIN_IDLE_WAIT


async def test_the_fences_of_tasks_sent_together_share_one_transaction(env: Env) -> None:
    await env.connect()
    await env.utility.process_meeting(meeting(item(1), item(2), item(3)))
    now, lease = env.clock.now(), timedelta(seconds=60)
    claimed = await claim_due(env.sessions, lease_token="a:1", now=now, lease=lease, limit=5)
    writes = env.worker.writes
    before = writes.transactions
    fences = [writes.fence(task.id, "a:1") for task in claimed]
    answers = await asyncio.gather(*fences, writes.fence(claimed[0].id, "b:2"))
    assert writes.transactions == before + 1  # one UPDATE for the group, one commit
    assert answers == [now, now, now, None]  # another token's fence never passes
    deadline = now + SendTiming().landing
    for row in await env.tasks():
        assert row.first_sent_at == now and row.send_deadline == deadline
        assert row.lease_expires_at == max(now + lease, deadline)  # covers the request


async def test_a_reconnect_between_passes_replaces_the_cached_connection(env: Env) -> None:
    old = await env.connect()
    await env.utility.process_meeting(meeting(item(1)))
    assert await env.worker.run_once() == 1
    env.world.revoke_token(old)
    await env.connect()  # new tokens; the worker read the old ones a pass ago
    await env.utility.process_meeting(meeting(item(2), meeting_id="m2"))
    assert await env.worker.run_once() == 1
    assert [r.state for r in await env.tasks()] == ["created", "created"]
    assert env.notifier.reconnects == []
