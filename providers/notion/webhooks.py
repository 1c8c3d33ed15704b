"""What Notion's integration webhook sends, read and checked (developers.notion.com/reference/
webhooks and /reference/webhooks-events-delivery).

One subscription per integration, made in the integration's settings with our URL
(`/webhooks/notion`). Notion first POSTs `{"verification_token": "secret_…"}` there, unsigned,
once; the operator pastes that token back in Notion's Verify dialog and sets it as
NOTION_WEBHOOK_VERIFICATION_TOKEN. From then on every event is signed:
`X-Notion-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body keyed by that token.

An event says that something changed, never the new values: `page.properties_updated` (with
the ids of the properties), `page.deleted` (moved to the trash), `page.undeleted`; each with
its `id`, its `timestamp` (when it happened, to order events by), the `workspace_id`, the
`entity {id, type}` and the delivery's `attempt_number`. Events are aggregated and delayed, may
come twice, and out of order: whoever acts on one reads the page afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

SIGNATURE_HEADER = "x-notion-signature"
# The events that can change whether a page is done or deleted; the others are answered and
# dropped (a subscription may send more types than we use).
STATUS_EVENTS = frozenset({"page.properties_updated", "page.deleted", "page.undeleted"})


class BadDelivery(ValueError):
    """A body that is not a Notion webhook delivery; the message says why, never the body."""


@dataclass(frozen=True)
class VerificationRequest:
    """The one-time request that carries the subscription's verification token."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class NotionEvent:
    """One event. `page_id` is the entity's id in Notion's dashed form (as pages are created)."""

    id: str
    type: str
    timestamp: datetime
    workspace_id: str
    entity_type: str
    page_id: str
    attempt_number: int

    @property
    def about_status(self) -> bool:
        """Whether the event can change a page's status (and is about a page)."""
        return self.entity_type == "page" and self.type in STATUS_EVENTS


def signature_valid(key: str, body: bytes, header: str | None) -> bool:
    """Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `key`, compared in
    constant time."""
    if not header or not key:
        return False
    expected = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.strip().encode(), expected.encode())


def dashed_id(value: str) -> str:
    """A Notion id in its dashed, lower-case form (Notion accepts and sends both forms)."""
    return str(uuid.UUID(value))


def read_delivery(body: bytes) -> NotionEvent | VerificationRequest:
    """The delivery in `body`: the verification request or an event; `BadDelivery` else."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadDelivery("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadDelivery("the body is not a JSON object")
    token = data.get("verification_token")
    if isinstance(token, str) and "type" not in data:
        if not token.strip():
            raise BadDelivery("the verification token is empty")
        return VerificationRequest(token.strip())
    entity = data.get("entity")
    fields = (data.get("id"), data.get("type"), data.get("timestamp"), data.get("workspace_id"))
    if not all(isinstance(f, str) and f for f in fields) or not isinstance(entity, dict):
        raise BadDelivery("an event needs id, type, timestamp, workspace_id and entity")
    try:
        when = datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00"))
    except ValueError:
        raise BadDelivery("the event's timestamp is not ISO 8601") from None
    if when.tzinfo is None:
        raise BadDelivery("the event's timestamp has no time zone")
    try:
        entity_id = dashed_id(str(entity.get("id")))
    except ValueError:
        raise BadDelivery("the event's entity id is not a Notion id") from None
    attempt = data.get("attempt_number")
    return NotionEvent(
        id=str(data["id"]), type=str(data["type"]), timestamp=when,
        workspace_id=str(data["workspace_id"]), entity_type=str(entity.get("type") or ""),
        page_id=entity_id, attempt_number=attempt if isinstance(attempt, int) else 1,
    )  # fmt: skip
