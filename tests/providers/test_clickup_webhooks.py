"""ClickUp's deliveries read: the signature checked, statuses read by type (never by name),
each event keyed so a repeat is recognised; and the webhook calls against the emulator."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest

from primitives.enums import RemoteStatus
from providers.base import Credentials, Permanent
from providers.clickup import ClickUpProvider
from providers.clickup.webhooks import delivery_of, status_changes, verify_signature
from sandbox.clickup import ClickUpSandbox

SECRET = "F00DCAFE" * 8
BODY = b'{"webhook_id":"w1","event":"taskStatusUpdated","task_id":"t1"}'


def test_the_signature_is_the_hex_hmac_of_the_raw_body() -> None:
    good = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert verify_signature(SECRET, BODY, good)
    assert verify_signature(SECRET, BODY, good.upper())  # hex, whatever its case
    assert not verify_signature(SECRET, BODY + b" ", good)  # the raw body, byte for byte
    assert not verify_signature(SECRET, BODY, None)
    assert not verify_signature(SECRET, BODY, "")
    assert not verify_signature("another", BODY, good)


def status_item(item_id: str, name: str, kind: str, date_ms: int) -> dict[str, Any]:
    return {
        "id": item_id, "field": "status", "date": str(date_ms),
        "before": {"status": "to do", "type": "open"}, "after": {"status": name, "type": kind},
    }  # fmt: skip


def test_a_status_is_read_by_its_type_never_its_name() -> None:
    def read(name: str, kind: str) -> RemoteStatus | None:
        payload = {"webhook_id": "w1", "event": "taskStatusUpdated", "task_id": "t1",
                   "history_items": [status_item("h1", name, kind, 1_764_000_000_000)]}  # fmt: skip
        changes = status_changes(payload)
        return changes[0].status if changes else None

    assert read("done", "custom") is RemoteStatus.OPEN  # named "done", but in progress
    assert read("Shipped", "done") is RemoteStatus.DONE
    assert read("complete", "closed") is RemoteStatus.CLOSED
    assert read("to do", "open") is RemoteStatus.OPEN
    assert read("whatever", "unheard-of") is None


def test_each_change_carries_clickups_time_and_a_deletion_none() -> None:
    payload = {"webhook_id": "w1", "event": "taskStatusUpdated", "task_id": "t1",
               "history_items": [status_item("h1", "done", "done", 1_764_000_000_123)]}  # fmt: skip
    [change] = status_changes(payload)
    assert change.observed_at == datetime(2025, 11, 24, 16, 0, 0, 123000, tzinfo=UTC)
    deleted = {"webhook_id": "w1", "event": "taskDeleted", "task_id": "t1"}
    assert [(c.status, c.observed_at) for c in status_changes(deleted)] == [
        (RemoteStatus.DELETED, None)
    ]
    other = {"webhook_id": "w1", "event": "taskCommentPosted", "task_id": "t1"}
    assert status_changes(other) == []


def test_the_key_names_the_event_whichever_webhook_delivered_it() -> None:
    item = status_item("2800763136717140857", "done", "done", 1)
    one = delivery_of({"webhook_id": "w1", "event": "taskStatusUpdated", "task_id": "t1",
                       "history_items": [item]})  # fmt: skip
    two = delivery_of({"webhook_id": "w2", "event": "taskStatusUpdated", "task_id": "t1",
                       "history_items": [item]})  # fmt: skip
    assert one and two and one.key == two.key == "taskStatusUpdated:2800763136717140857"
    deleted = delivery_of({"webhook_id": "w1", "event": "taskDeleted", "task_id": "t1"})
    assert deleted and deleted.key == "taskDeleted:t1" and deleted.about_status
    assert delivery_of({"event": "taskDeleted"}) is None
    assert delivery_of(["not", "a", "delivery"]) is None


async def test_webhooks_are_created_listed_and_deleted_at_the_emulator(
    clickup: ClickUpProvider, clickup_world: ClickUpSandbox
) -> None:
    credentials = Credentials("conn-1", clickup_world.issue_token(101, ["9001"]), "9001")
    created = await clickup.create_webhook(
        credentials, team_id="9001", endpoint="https://scrumy.example/webhooks/clickup"
    )
    assert created.secret and created.healthy
    assert "secret" not in repr(created) and created.secret not in repr(created)
    [listed] = await clickup.list_webhooks(credentials, team_id="9001")
    assert (listed.id, listed.events) == (created.id, ("taskStatusUpdated", "taskDeleted"))
    await clickup.delete_webhook(credentials, created.id)
    assert await clickup.list_webhooks(credentials, team_id="9001") == []
    with pytest.raises(Permanent):
        await clickup.delete_webhook(credentials, created.id)


async def test_a_tasks_status_now_is_read_by_type_as_of_its_last_change(
    clickup: ClickUpProvider, clickup_world: ClickUpSandbox
) -> None:
    credentials = Credentials("conn-1", clickup_world.issue_token(101, ["9001"]), "9001")
    task = clickup_world.store_task("l1", "Ship", markdown="", creator_id=101, created_ms=1_000)
    task["status"] = {"status": "complete", "type": "closed"}
    task["date_updated"] = "1764000000123"
    now = await clickup.task_status(credentials, task["id"])
    assert now.status is RemoteStatus.CLOSED
    assert now.edited_at == datetime(2025, 11, 24, 16, 0, 0, 123000, tzinfo=UTC)
    gone = await clickup.task_status(credentials, "no-such-task")  # 404 ITEM_013
    assert (gone.status, gone.edited_at) == (RemoteStatus.DELETED, None)
