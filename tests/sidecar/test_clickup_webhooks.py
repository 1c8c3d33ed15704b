"""Status flowing back from ClickUp: the webhook registered on connect, removed on disconnect,
re-created when unhealthy, and its signed deliveries — with duplicates, replays, forgeries,
deliveries out of order and while we are down — reaching the task and the API's answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from primitives.enums import ProviderName, RemoteStatus, TaskState
from providers.base import OAuthTokens, ProviderAccount, Workspace
from routing.clickup_deliveries import SWEEP_AFTER
from routing.clickup_webhooks import ClickUpWebhooks
from sandbox.clickup_deliveries import sign
from sandbox.clickup_webhooks import ClickUpWebhookApi
from storage.models import Task, ToolWebhook, WebhookDelivery
from tests.meetings import item, meeting
from tests.sidecar.harness import ANA, TEAM, Harness
from tests.sidecar.test_connect import connect

CLICKUP = ProviderName.CLICKUP


@pytest.fixture
async def app_client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """What ClickUp's deliveries reach our app through (in process)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app), base_url=harness.base_url
    ) as client:
        yield client


def receiver(harness: Harness) -> ClickUpWebhooks:
    found = harness.deps.webhooks[CLICKUP]
    assert isinstance(found, ClickUpWebhooks)
    return found


def clickup(harness: Harness) -> ClickUpWebhookApi:
    """The emulated ClickUp, as a person changing tasks there."""
    return ClickUpWebhookApi(harness.clickup_world, harness.clock)


async def registered(harness: Harness, browser: httpx.AsyncClient) -> ToolWebhook:
    await connect(harness, browser, ANA, CLICKUP)
    await receiver(harness).settle()
    async with harness.sessions() as session:
        return (await session.scalars(select(ToolWebhook))).one()


async def created_tasks(harness: Harness, count: int) -> list[Task]:
    await harness.utility.process_meeting(
        meeting(
            *(item(n) for n in range(1, count + 1)), team_id=TEAM, channel_id="C0GEN",
            owner={"slack_user_id": ANA},
        )
    )  # fmt: skip
    while await harness.worker.run_once():
        pass
    return await tasks(harness)


async def one_task(harness: Harness, browser: httpx.AsyncClient) -> tuple[ToolWebhook, str]:
    """Ana's webhook registered, and one task of hers created in ClickUp: its id there."""
    row = await registered(harness, browser)
    [task] = await created_tasks(harness, 1)
    assert task.provider_task_id and row.remote_id
    return row, task.provider_task_id


async def tasks(harness: Harness) -> list[Task]:
    async with harness.sessions() as session:
        return list((await session.scalars(select(Task).order_by(Task.position))).all())


async def test_connecting_registers_a_webhook_with_its_secret_encrypted(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    row = await registered(harness, browser)
    [webhook] = harness.clickup_world.webhook_book.webhooks.values()
    assert webhook["endpoint"] == f"{harness.base_url}/webhooks/clickup?w={row.id}"
    assert sorted(webhook["events"]) == ["taskDeleted", "taskStatusUpdated"]
    assert (row.remote_id, row.workspace_id, row.health) == (webhook["id"], "9001", "active")
    assert row.encrypted_secret and webhook["secret"] not in row.encrypted_secret
    assert harness.vault.decrypt(row.encrypted_secret) == webhook["secret"]
    assert row.next_attempt_at is None and row.last_error is None


async def test_a_task_done_in_clickup_shows_done_and_a_duplicate_updates_once(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    await registered(harness, browser)
    first, _second = await created_tasks(harness, 2)
    assert first.state is TaskState.CREATED and first.provider_task_id
    harness.clickup_world.faults.add("webhook_duplicate", method="WEBHOOK")
    before = len(harness.notifier.changes)

    clickup(harness).set_status(first.provider_task_id, "done")
    assert await clickup(harness).deliver(app_client) == 1

    log = harness.clickup_world.webhook_book.log
    assert [entry["status"] for entry in log] == [200, 200]  # both copies answered 200
    [change] = harness.notifier.changes[before:]  # … and one update
    assert (change.task_id, change.remote_status) == (first.id, RemoteStatus.DONE)
    rows = await tasks(harness)
    assert rows[0].remote_status is RemoteStatus.DONE and rows[0].state is TaskState.CREATED
    assert rows[1].remote_status is None
    key = await harness.api_key()
    answer = await app_client.get(
        f"/api/tasks/{first.id}", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.json()["remote_status"] == "done"
    async with harness.sessions() as session:
        [delivery] = (await session.scalars(select(WebhookDelivery))).all()
    assert delivery.processed_at is not None and delivery.payload is None


async def test_a_forged_or_replayed_delivery_changes_nothing(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    row, task_id = await one_task(harness, browser)
    # A forger's copy (the task "closed", signed with another secret) comes first.
    harness.clickup_world.faults.add("webhook_bad_signature", method="WEBHOOK")
    clickup(harness).set_status(task_id, "in progress")
    await clickup(harness).deliver(app_client)
    forged, real = harness.clickup_world.webhook_book.log
    assert (forged["forged"], forged["status"], real["status"]) == (True, 401, 200)
    [stored] = await tasks(harness)
    assert stored.remote_status is RemoteStatus.OPEN  # "in progress" is open, not closed

    # The real delivery replayed, signature and all: recognised, nothing changes.
    assert row.remote_id is not None
    body = real["body"]
    secret = harness.clickup_world.webhook_book.webhooks[row.remote_id]["secret"]
    before = len(harness.notifier.changes)
    replay = await _post(app_client, body, sign(secret, body))
    assert (replay.status_code, replay.json()) == (200, {"ok": True})
    assert len(harness.notifier.changes) == before
    # Without a signature, with a wrong one, or for a webhook we do not know: refused.
    assert (await _post(app_client, body, None)).status_code == 401
    assert (await _post(app_client, body, sign("guess", body))).status_code == 401
    unknown = body.replace(row.remote_id.encode(), b"not-a-webhook-of-ours")
    assert (await _post(app_client, unknown, sign(secret, unknown))).status_code == 410
    assert (await _post(app_client, b"{not json", None)).status_code == 400
    [stored] = await tasks(harness)
    assert stored.remote_status is RemoteStatus.OPEN


async def _post(client: httpx.AsyncClient, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Signature"] = signature
    return await client.post("/webhooks/clickup", content=body, headers=headers)


async def test_deliveries_out_of_order_end_on_the_latest_status(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    _, task_id = await one_task(harness, browser)
    tool = clickup(harness)
    harness.clickup_world.faults.add("webhook_out_of_order", method="WEBHOOK")
    tool.set_status(task_id, "done")
    harness.clock.advance(60)
    tool.set_status(task_id, "in progress")  # reopened a minute later
    await tool.deliver(app_client)  # the reopening arrives first
    [stored] = await tasks(harness)
    assert stored.remote_status is RemoteStatus.OPEN
    assert stored.remote_status_at == harness.clock.now().replace(microsecond=0)


async def test_a_delivery_while_we_are_down_is_applied_when_clickup_retries(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    _, task_id = await one_task(harness, browser)
    tool = clickup(harness)
    harness.clickup_world.faults.add("webhook_down", method="WEBHOOK", times=2)
    tool.set_status(task_id, "complete")
    assert await tool.deliver(app_client) == 0
    [webhook] = harness.clickup_world.webhook_book.webhooks.values()
    assert webhook["health"]["status"] == "failing"
    assert await tool.deliver(app_client) == 0
    assert (await tasks(harness))[0].remote_status is None
    assert await tool.deliver(app_client) == 1  # the third attempt reaches us
    assert (await tasks(harness))[0].remote_status is RemoteStatus.CLOSED
    assert webhook["health"] == {"status": "active", "fail_count": 0}


async def test_a_delivery_answered_but_not_processed_is_processed_by_the_sweep(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    row, task_id = await one_task(harness, browser)
    tool = clickup(harness)
    tool.set_status(task_id, "done")
    [queued] = harness.clickup_world.webhook_book.queue
    secret = harness.clickup_world.webhook_book.webhooks[str(row.remote_id)]["secret"]
    # Recorded and answered 200, then the process died before processing it.
    receipt = await receiver(harness).receive(
        queued.body, {"x-signature": sign(secret, queued.body)}
    )
    assert receipt.status == 200 and receipt.process is not None
    assert await receiver(harness).sweep() == 0  # too fresh: its receiver is on it
    harness.clock.advance(SWEEP_AFTER.total_seconds() + 1)
    assert await receiver(harness).sweep() == 1
    assert (await tasks(harness))[0].remote_status is RemoteStatus.DONE
    assert await receiver(harness).sweep() == 0


async def test_a_task_deleted_in_clickup_shows_deleted(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    _, task_id = await one_task(harness, browser)
    clickup(harness).delete_task(task_id)
    await clickup(harness).deliver(app_client)
    assert (await tasks(harness))[0].remote_status is RemoteStatus.DELETED


async def test_a_failed_registration_never_breaks_the_connect_and_is_retried(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    harness.clickup_world.faults.add("server_error", method="POST", path="/webhook", times=1)
    _, page = await connect(harness, browser, ANA, CLICKUP)
    assert page.status_code == 200 and "ClickUp is connected" in page.text
    await receiver(harness).settle()
    async with harness.sessions() as session:
        row = (await session.scalars(select(ToolWebhook))).one()
    assert row.remote_id is None and row.attempts == 1 and row.next_attempt_at is not None
    assert row.last_error and "HTTP 500" in row.last_error
    assert await receiver(harness).register_due() == 0  # not yet due
    harness.clock.advance(31)
    assert await receiver(harness).register_due() == 1
    assert len(harness.clickup_world.webhook_book.webhooks) == 1


async def test_an_unhealthy_webhook_is_created_again_and_disconnect_removes_it(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    row = await registered(harness, browser)
    book = harness.clickup_world.webhook_book
    assert await receiver(harness).check_health() == 0
    # We answered 410 once (say): ClickUp suspends the webhook.
    book.webhooks[str(row.remote_id)]["health"] = {"status": "suspended", "fail_count": 3}
    assert await receiver(harness).check_health() == 1
    [fresh] = book.webhooks.values()
    assert fresh["id"] != row.remote_id and fresh["health"]["status"] == "active"
    async with harness.sessions() as session:
        again = (await session.scalars(select(ToolWebhook))).one()
    assert (again.remote_id, again.health) == (fresh["id"], "active")
    assert harness.vault.decrypt(str(again.encrypted_secret)) == fresh["secret"]
    # The new webhook delivers.
    [task] = await created_tasks(harness, 1)
    clickup(harness).set_status(str(task.provider_task_id), "done")
    assert await clickup(harness).deliver(app_client) == 1

    assert await harness.utility.disconnect(team_id=TEAM, user_id=ANA, provider=CLICKUP)
    await receiver(harness).settle()
    assert book.webhooks == {}
    async with harness.sessions() as session:
        assert (await session.scalars(select(ToolWebhook))).all() == []


async def test_changes_clickup_dropped_while_we_were_down_are_caught_up_on_re_creation(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    row = await registered(harness, browser)
    first, second = await created_tasks(harness, 2)
    assert first.provider_task_id and second.provider_task_id
    book = harness.clickup_world.webhook_book
    book.suspend_after = 1
    harness.clickup_world.faults.add("webhook_down", method="WEBHOOK", times=None)
    tool = clickup(harness)
    harness.clock.advance(60)
    tool.set_status(first.provider_task_id, "done")
    for _ in range(5):  # ClickUp tries five times, then drops the event: suspended
        await tool.deliver(app_client)
    assert book.webhooks[str(row.remote_id)]["health"]["status"] == "suspended"
    assert (await tasks(harness))[0].remote_status is None
    harness.clickup_world.faults.clear()

    assert await receiver(harness).check_health() == 1
    await receiver(harness).settle()  # the catch-up runs in the background
    rows = await tasks(harness)
    assert rows[0].remote_status is RemoteStatus.DONE
    assert rows[0].remote_status_at == harness.clock.now().replace(microsecond=0)
    assert rows[1].remote_status is RemoteStatus.OPEN  # read too: still "to do"
    assert harness.clickup_world.count("GET", "/api/v2/task/") == 2


async def test_reconnecting_as_another_clickup_account_moves_the_webhook(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    first = await registered(harness, browser)
    [task] = await created_tasks(harness, 1)
    world = harness.clickup_world
    account = ProviderAccount(
        CLICKUP, OAuthTokens(world.issue_token(102, ["9001"])), (Workspace("9001", "Acme"),)
    )
    await harness.utility.connect_completed(team_id=TEAM, user_id=ANA, account=account)
    await receiver(harness).settle()
    async with harness.sessions() as session:
        moved = (await session.scalars(select(ToolWebhook))).one()
    book = world.webhook_book
    assert moved.id == first.id and moved.remote_id != first.remote_id
    assert book.webhooks[str(moved.remote_id)]["userid"] == 102
    # Ana's first webhook was her old account's: Bo's token cannot remove it. Its next
    # delivery is answered 410, and ClickUp suspends it; the new one carries the change.
    harness.clock.advance(60)
    clickup(harness).set_status(str(task.provider_task_id), "done")
    assert await clickup(harness).deliver(app_client) == 1
    assert book.webhooks[str(first.remote_id)]["health"]["status"] == "suspended"
    assert (await tasks(harness))[0].remote_status is RemoteStatus.DONE


async def test_a_webhook_at_an_old_address_is_registered_again_at_app_base_url(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    row = await registered(harness, browser)
    book = harness.clickup_world.webhook_book
    # Made when APP_BASE_URL was another address.
    book.webhooks[str(row.remote_id)]["endpoint"] = "https://old.example/webhooks/clickup"
    assert await receiver(harness).check_health() == 1
    [fresh] = book.webhooks.values()
    assert fresh["id"] != row.remote_id
    assert fresh["endpoint"] == f"{harness.base_url}/webhooks/clickup?w={row.id}"
    assert await receiver(harness).check_health() == 0


async def test_a_delivery_over_one_mebibyte_is_413_and_never_read(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    row, task_id = await one_task(harness, browser)
    secret = harness.clickup_world.webhook_book.webhooks[str(row.remote_id)]["secret"]
    padding = "x" * (1024 * 1024)
    body = json.dumps({"webhook_id": row.remote_id, "event": "taskDeleted", "task_id": task_id,
                       "padding": padding}).encode()  # fmt: skip
    declared = await _post(app_client, body, sign(secret, body))

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    streamed = await app_client.post(
        "/webhooks/clickup", content=chunks(), headers={"X-Signature": sign(secret, body)}
    )
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert declared.json() == {"error": {"code": "body_too_large"}}
    assert (await tasks(harness))[0].remote_status is None
    async with harness.sessions() as session:
        assert (await session.scalars(select(WebhookDelivery))).all() == []


async def test_a_task_finished_while_disconnected_shows_done_once_connected_again(
    harness: Harness, browser: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    _, task_id = await one_task(harness, browser)
    assert await harness.utility.disconnect(team_id=TEAM, user_id=ANA, provider=CLICKUP)
    await receiver(harness).settle()
    assert harness.clickup_world.webhook_book.webhooks == {}  # removed: nothing is delivered
    harness.clock.advance(60)
    clickup(harness).set_status(task_id, "done")
    assert await clickup(harness).deliver(app_client) == 0
    assert (await tasks(harness))[0].remote_status is None

    await connect(harness, browser, ANA, CLICKUP)
    await receiver(harness).settle()  # registered, then the tasks read once
    assert (await tasks(harness))[0].remote_status is RemoteStatus.DONE
