"""Notion's webhook, end to end: the Notion emulator's subscription delivers signed events to
the app as `scrumy serve` builds it (`POST /webhooks/notion`), with Notion's faults; the page is
read back and its status lands on the meeting's line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from primitives.enums import ProviderName, RemoteStatus
from providers.base import OAuthTokens, ProviderAccount, Workspace
from routing.notion_updates import KEEP_KEYS, SWEEP_EVERY, SWEEP_GRACE, NotionStatusUpdates
from routing.remote_status import RemoteStatuses
from routing.status_reads import StatusReader
from sandbox.faults import FaultKind
from sandbox.notion_webhooks import NotionWebhookSender, notion_signature
from storage.models import Task, WebhookDelivery, WebhookVerification
from storage.webhook_inbox import WebhookInbox
from storage.webhook_verifications import WebhookVerifications
from tests.emulators import in_process_client
from tests.fakes import FakeClock
from tests.meetings import item, meeting
from tests.sidecar.harness import ANA, NOTION_WEBHOOK_TOKEN, TEAM, Harness, running_sidecar

NOTION = ProviderName.NOTION
BASE = "http://127.0.0.1:8000"
GENERAL = "C0GENERAL"
HOOK = f"{BASE}/webhooks/notion"
DONE = {"Status": {"status": {"name": "Done"}}}
REOPENED = {"Status": {"status": {"name": "In progress"}}}


@contextlib.asynccontextmanager
async def notion_tasks(
    database_url: str, clock: FakeClock, *items: int, slack: Any = "recorded"
) -> AsyncIterator[tuple[Harness, list[Task], NotionWebhookSender, httpx.AsyncClient]]:
    """The app, Ana's Notion connected, a meeting whose items are pages in Product Roadmap, and
    Notion's webhook subscription to the app, verified with the token the app is set with."""
    async with (
        running_sidecar(database_url, clock, BASE, slack=slack) as h,
        in_process_client({BASE: h.app}) as to_app,
    ):
        access, refresh = h.notion_world.issue_tokens("u-ana")
        await h.utility.connect_completed(team_id=TEAM, user_id=ANA, account=ProviderAccount(
            NOTION, OAuthTokens(access, refresh), (Workspace("ws-acme", "Acme"),)))  # fmt: skip
        await h.utility.process_meeting(meeting(
            *(item(n, project_name="Product Roadmap") for n in items), team_id=TEAM,
            channel_id=GENERAL, owner={"slack_user_id": ANA},
        ))  # fmt: skip
        while await h.worker.run_once():
            pass
        h.notion_world.webhooks.subscribe(f"{BASE}/webhooks/notion", token=NOTION_WEBHOOK_TOKEN)
        assert h.notion_world.webhooks.verify(NOTION_WEBHOOK_TOKEN)
        h.notion_world.webhooks.handshake_owed = False  # verified already, as the operator did
        sender = NotionWebhookSender(h.notion_world.webhooks, to_app, clock)
        rows = await tasks(h)
        assert all(r.provider is NOTION and r.provider_task_id for r in rows)
        yield h, rows, sender, to_app


def another_process(h: Harness, clock: FakeClock) -> NotionStatusUpdates:
    """Notion's receiver as another process of the app would build it (its sweep)."""
    return NotionStatusUpdates(
        key=NOTION_WEBHOOK_TOKEN, sessions=h.sessions, clock=clock,
        inbox=WebhookInbox(h.sessions, clock),
        verifications=WebhookVerifications(h.sessions, h.vault, clock),
        reader=StatusReader(sessions=h.sessions, vault=h.vault, clock=clock,
                            providers=h.deps.providers),
        statuses=RemoteStatuses(sessions=h.sessions, notifier=h.notifier, clock=clock),
    )  # fmt: skip


async def tasks(h: Harness) -> list[Task]:
    async with h.sessions() as session:
        return list((await session.scalars(select(Task).order_by(Task.position))).all())


def page_reads(h: Harness) -> int:
    return h.notion_world.count("GET", "/v1/pages/")


def edit(h: Harness, row: Task, **change: Any) -> None:
    assert row.provider_task_id is not None
    h.notion_world.edit_page(row.provider_task_id, now=h.clock.now(), **change)


async def test_a_page_done_in_notion_shows_done_in_the_meeting_message(
    database_url: str, clock: FakeClock
) -> None:
    async with notion_tasks(database_url, clock, 1, 2, slack="told") as (h, rows, sender, _):
        assert h.told is not None
        await h.told.idle()
        clock.advance(90)
        edit(h, rows[0], properties=DONE)
        [sent] = await sender.deliver_due()
        assert (sent.kind, sent.status) == ("page.properties_updated", 200)
        await h.told.idle()
        [message] = h.slack_world.messages[GENERAL]  # the same message, updated in place
        heads = [
            b["text"]["text"].split("\n")[0]
            for b in message["blocks"] if b["block_id"].startswith("item:")
        ]  # fmt: skip
        assert heads[0].endswith("|Action 1> · ✓ done in Notion")
        assert "done in" not in heads[1]
        assert [r.remote_status for r in await tasks(h)] == [RemoteStatus.DONE, None]


async def test_a_forged_delivery_changes_nothing_and_notions_retry_does(
    database_url: str, clock: FakeClock
) -> None:
    async with notion_tasks(database_url, clock, 1) as (h, rows, sender, to_app):
        clock.advance(90)
        edit(h, rows[0], properties=DONE)
        h.notion_world.webhooks.fault("bad_signature")
        [forged] = await sender.deliver_due()
        assert (forged.status, forged.signed_right) == (401, False)
        # Unsigned, or signed with a guess: refused too.
        event = h.notion_world.webhooks.pending[0].event
        body = json.dumps({**event, "attempt_number": 1}).encode()
        unsigned = await to_app.post(HOOK, content=body)
        guess = notion_signature("secret_a-guess-of-the-token", body)
        guessed = await to_app.post(HOOK, content=body, headers={"X-Notion-Signature": guess})
        assert (unsigned.status_code, guessed.status_code) == (401, 401)
        assert "secret_" not in unsigned.text + guessed.text
        assert (await tasks(h))[0].remote_status is None
        assert page_reads(h) == 0 and await deliveries(h) == 0  # nothing stored, nothing read

        clock.advance(60)  # Notion tries again, signed right, as attempt 2
        [retry] = await sender.deliver_due()
        assert (retry.attempt, retry.status, retry.signed_right) == (2, 200, True)
        assert (await tasks(h))[0].remote_status is RemoteStatus.DONE


async def test_a_duplicate_or_replayed_delivery_updates_once(
    database_url: str, clock: FakeClock
) -> None:
    async with notion_tasks(database_url, clock, 1) as (h, rows, sender, to_app):
        clock.advance(90)
        edit(h, rows[0], properties=DONE)
        event = dict(h.notion_world.webhooks.pending[0].event)
        told = len(h.notifier.changes)
        h.notion_world.webhooks.fault("duplicate")
        sent = await sender.deliver_due()
        assert [(d.status, d.event_id) for d in sent] == [(200, event["id"])] * 2
        assert (await tasks(h))[0].remote_status is RemoteStatus.DONE
        assert len(h.notifier.changes) == told + 1  # one change, one update of the message
        assert page_reads(h) == 1  # the second delivery was recognised before any read

        # The same signed body replayed later (by anyone who saw it) after the page reopened.
        clock.advance(120)
        edit(h, rows[0], properties=REOPENED)
        body = json.dumps({**event, "attempt_number": 1}).encode()
        replay = await to_app.post(HOOK, content=body, headers={
            "X-Notion-Signature": notion_signature(NOTION_WEBHOOK_TOKEN, body)})  # fmt: skip
        assert replay.status_code == 200  # answered, so that Notion would stop sending it
        assert (await tasks(h))[0].remote_status is RemoteStatus.DONE
        assert page_reads(h) == 1 and len(h.notifier.changes) == told + 1
        # Notion's own event for the reopening still comes through.
        await sender.deliver_due()
        assert (await tasks(h))[0].remote_status is RemoteStatus.OPEN


async def test_events_out_of_order_never_regress_and_the_older_costs_no_read(
    database_url: str, clock: FakeClock
) -> None:
    async with notion_tasks(database_url, clock, 1, 2) as (h, rows, sender, _):
        clock.advance(90)
        edit(h, rows[0], properties=DONE)
        clock.advance(61)  # past the aggregation window: a second event, not combined
        edit(h, rows[0], properties=REOPENED)
        edit(h, rows[1], in_trash=True)
        h.notion_world.webhooks.fault("reorder")
        sent = await sender.deliver_due()
        # Newest first: the trashing, the reopening, then the older "done".
        assert [d.kind for d in sent] == ["page.deleted", *["page.properties_updated"] * 2]
        assert all(d.status == 200 for d in sent)
        first, second = await tasks(h)
        assert first.remote_status is RemoteStatus.OPEN  # the newer news, kept
        assert second.remote_status is RemoteStatus.DELETED
        assert page_reads(h) == 2  # the older event of the first page was not read at all


async def test_a_delivery_while_we_are_down_arrives_with_notions_retry(
    database_url: str, clock: FakeClock
) -> None:
    async with notion_tasks(database_url, clock, 1) as (h, rows, sender, _):
        clock.advance(90)
        edit(h, rows[0], properties=DONE)

        def refused(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        async with httpx.AsyncClient(transport=httpx.MockTransport(refused)) as down:
            [missed] = await NotionWebhookSender(h.notion_world.webhooks, down, clock).deliver_due()
        assert missed.status is None
        assert (await tasks(h))[0].remote_status is None
        assert await sender.deliver_due() == []  # not due again yet
        clock.advance(60)
        [retried] = await sender.deliver_due()
        assert (retried.attempt, retried.status) == (2, 200)
        assert (await tasks(h))[0].remote_status is RemoteStatus.DONE


async def test_a_page_or_workspace_we_do_not_know_changes_nothing(
    database_url: str, clock: FakeClock
) -> None:
    async with notion_tasks(database_url, clock, 1) as (h, rows, sender, _):
        clock.advance(90)
        stranger = h.notion_world.store_page(
            "ds-roadmap", {"Name": {"title": [{"text": {"content": "Not ours"}}]}}, [],
            created=clock.now(),
        )  # fmt: skip
        h.notion_world.edit_page(stranger["id"], now=clock.now(), properties=DONE)
        h.notion_world.workspace_id = "ws-elsewhere"  # events now name another workspace
        edit(h, rows[0], properties=DONE)
        sent = await sender.deliver_due()
        assert [d.status for d in sent] == [200, 200]
        assert page_reads(h) == 0  # neither was read with Ana's connection
        assert (await tasks(h))[0].remote_status is None


async def test_the_verification_handshake_is_kept_for_the_operator_and_never_logged(
    database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with notion_tasks(database_url, clock, 1) as (h, rows, sender, to_app):
        token = h.notion_world.webhooks.subscribe(f"{BASE}/webhooks/notion")  # a new one
        [handshake] = await sender.deliver_due()
        assert (handshake.kind, handshake.status) == ("verification", 200)
        kept = WebhookVerifications(h.sessions, h.vault, clock)
        newest = await kept.newest(NOTION)
        assert newest is not None and newest[0] == token
        assert "scrumy notion-webhook-token" in caplog.text
        assert token not in caplog.text
        assert h.notion_world.webhooks.verify(newest[0])
        async with h.sessions() as session:  # stored encrypted
            stored = (await session.scalars(select(WebhookVerification.encrypted_token))).all()
        assert len(stored) == 1 and token not in stored[0]

        # Anyone can send a "verification request": the token kept never signs anything. Only
        # the configured setting does, until the operator changes it.
        event = {
            "id": "evt-after-handshake", "type": "page.properties_updated",
            "timestamp": clock.now().isoformat(), "workspace_id": "ws-acme",
            "entity": {"id": rows[0].provider_task_id, "type": "page"}, "attempt_number": 1,
        }  # fmt: skip
        body = json.dumps(event).encode()
        by_new = await to_app.post(
            HOOK, content=body, headers={"X-Notion-Signature": notion_signature(token, body)}
        )
        assert by_new.status_code == 401 and await deliveries(h) == 0
        by_setting = await to_app.post(HOOK, content=body, headers={
            "X-Notion-Signature": notion_signature(NOTION_WEBHOOK_TOKEN, body)})  # fmt: skip
        assert by_setting.status_code == 200 and await deliveries(h) == 1


async def test_an_event_stored_but_not_acted_on_is_swept(
    database_url: str, clock: FakeClock
) -> None:
    async with notion_tasks(database_url, clock, 1) as (h, rows, sender, _):
        clock.advance(90)
        edit(h, rows[0], properties=DONE)
        pending = h.notion_world.webhooks.pending[0]
        inbox = WebhookInbox(h.sessions, clock)
        # What the endpoint stores before it answers, as if the process stopped right after.
        assert await inbox.record(NOTION, pending.event["id"], pending.event)
        updates = another_process(h, clock)
        assert await updates.sweep() == 0  # within the grace: the receiving process is on it
        clock.advance(SWEEP_GRACE.total_seconds() + 1)
        assert await updates.sweep() == 1
        assert (await tasks(h))[0].remote_status is RemoteStatus.DONE
        assert await updates.sweep() == 0
        [retried] = await sender.deliver_due()  # Notion's own delivery: already known
        assert retried.status == 200 and page_reads(h) == 1


async def deliveries(h: Harness) -> int:
    async with h.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


async def test_a_page_notion_cannot_give_now_is_read_again_by_the_sweep(
    database_url: str, clock: FakeClock
) -> None:
    async with notion_tasks(database_url, clock, 1) as (h, rows, sender, _):
        clock.advance(90)
        edit(h, rows[0], properties=DONE)
        h.notion_world.faults.add(FaultKind.SERVER_ERROR, method="GET", path="/v1/pages/",
                                  status=503)  # fmt: skip
        [sent] = await sender.deliver_due()
        assert sent.status == 200  # stored and answered: Notion does not send it again
        assert (await tasks(h))[0].remote_status is None
        updates = another_process(h, clock)
        clock.advance(SWEEP_GRACE.total_seconds() + 1)
        assert await updates.sweep() == 1  # still pending: read now that Notion answers
        assert (await tasks(h))[0].remote_status is RemoteStatus.DONE
        assert await updates.sweep() == 0


async def test_the_sweep_runs_on_the_clock_and_forgets_old_keys(
    database_url: str, clock: FakeClock
) -> None:
    async with notion_tasks(database_url, clock, 1) as (h, rows, sender, _):
        clock.advance(90)
        edit(h, rows[0], properties=DONE)
        await sender.deliver_due()
        assert await deliveries(h) == 1  # processed: its key is kept, a replay is known
        clock.advance(KEEP_KEYS.total_seconds() + 1)
        stop = asyncio.Event()
        running = asyncio.create_task(another_process(h, clock).keep_sweeping(stop))
        for _ in range(10_000):  # each sweep awaits the database: let the loop run a while
            await asyncio.sleep(0)
            if SWEEP_EVERY in clock.slept:
                break
        stop.set()
        await running
        assert await deliveries(h) == 0
        assert SWEEP_EVERY in clock.slept  # on the injected clock: no real wait
