"""ClickUp's webhooks as data: the registration ClickUp answers, the deliveries it sends, and
their signature (developer.clickup.com/docs/webhooks, /webhooksignature, /webhookhealth,
/webhooktaskpayloads).

- A delivery is `{webhook_id, event, task_id, history_items?}`, signed with `X-Signature`:
  the hex HMAC-SHA256 of the raw body under the webhook's `secret` (returned once, when the
  webhook is created). `verify_signature` compares in constant time.
- `taskStatusUpdated` carries history items whose `after` is the new status, with its `type`:
  `open`, `custom`, `done` or `closed`. A status is read by its type, never its name (names are
  each workspace's own). Each item has its own `id` (the event's key) and `date` (unix ms, when
  ClickUp saw the change).
- `taskDeleted` carries no history item: its key is the task's id (a task is deleted once) and
  it has no time of its own.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from primitives.enums import RemoteStatus

STATUS_EVENTS = ("taskStatusUpdated", "taskDeleted")
STATUS_TYPES = {
    "open": RemoteStatus.OPEN,
    "custom": RemoteStatus.OPEN,  # in progress, in review …: not finished
    "done": RemoteStatus.DONE,
    "closed": RemoteStatus.CLOSED,
}


@dataclass(frozen=True)
class ClickUpWebhook:
    """A webhook as ClickUp describes it; `secret` only in the answer that created it."""

    id: str
    endpoint: str
    events: tuple[str, ...]
    health: str  # active, failing, suspended
    fail_count: int
    secret: str | None = field(default=None, repr=False)

    @property
    def healthy(self) -> bool:
        return self.health == "active"


def webhook_of(data: Any) -> ClickUpWebhook:
    """Read a webhook object; `ValueError` when it is not one."""
    if not isinstance(data, dict) or not data.get("id"):
        raise ValueError("not a ClickUp webhook")
    given = data.get("health")
    health: dict[str, Any] = given if isinstance(given, dict) else {}
    secret = data.get("secret")
    return ClickUpWebhook(
        id=str(data["id"]),
        endpoint=str(data.get("endpoint") or ""),
        events=tuple(str(e) for e in data.get("events") or ()),
        health=str(health.get("status") or "active"),
        fail_count=int(health.get("fail_count") or 0),
        secret=str(secret) if isinstance(secret, str) and secret else None,
    )


def verify_signature(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether `signature` (the `X-Signature` header) signs `body` under `secret`."""
    if not signature:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


@dataclass(frozen=True)
class StatusChange:
    """What one delivery says about a task: its new status, and when ClickUp saw it (None:
    the delivery does not say — a deletion)."""

    task_id: str
    status: RemoteStatus
    observed_at: datetime | None


@dataclass(frozen=True)
class Delivery:
    """A delivery's envelope, read before its signature is checked (to find the secret)."""

    webhook_id: str
    event: str
    task_id: str | None
    key: str  # names the event, so a repeat (or the same event from two webhooks) is one

    @property
    def about_status(self) -> bool:
        return self.event in STATUS_EVENTS and self.task_id is not None


def delivery_of(payload: Any) -> Delivery | None:
    """The envelope of a delivery, or None when `payload` is not one."""
    if not isinstance(payload, dict):
        return None
    webhook_id, event, task_id = (
        payload.get("webhook_id"),
        payload.get("event"),
        payload.get("task_id"),
    )
    if not isinstance(webhook_id, str) or not webhook_id or not isinstance(event, str):
        return None
    task = str(task_id) if isinstance(task_id, str | int) and str(task_id) else None
    items = payload.get("history_items")
    ids = [str(i["id"]) for i in items or () if isinstance(i, dict) and i.get("id")]
    # A deletion (once per task), or an event without history: its task and event.
    key = f"{event}:{','.join(ids)}" if ids else f"{event}:{task or webhook_id}"
    return Delivery(webhook_id=webhook_id, event=event, task_id=task, key=key[:255])


def status_changes(payload: dict[str, Any]) -> list[StatusChange]:
    """The status changes a (verified) delivery reports, oldest first; none for other events
    or statuses of an unknown type."""
    envelope = delivery_of(payload)
    if envelope is None or not envelope.about_status or envelope.task_id is None:
        return []
    if envelope.event == "taskDeleted":
        return [StatusChange(envelope.task_id, RemoteStatus.DELETED, None)]
    changes = []
    for item in payload.get("history_items") or ():
        if not isinstance(item, dict) or item.get("field") not in (None, "status"):
            continue
        after = item.get("after")
        kind = after.get("type") if isinstance(after, dict) else None
        status = STATUS_TYPES.get(str(kind)) if kind else None
        if status is None:
            continue
        changes.append(StatusChange(envelope.task_id, status, _moment(item.get("date"))))
    changes.sort(key=lambda c: c.observed_at or datetime.min.replace(tzinfo=UTC))
    return changes


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
