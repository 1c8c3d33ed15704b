"""What every tool's webhooks share: the seam between the HTTP side and the receivers, and the
hooks that let a receiver follow people's connections.

    receipt = await receiver.receive(raw_body, headers)    (sidecar/webhooks.py calls this)
    → answered with `receipt.status`; then, after the answer was sent, `await receipt.process()`

A receiver (ClickUp: `routing.clickup_webhooks.ClickUpWebhooks`) verifies the signature over the
raw body in constant time, records the delivery in `storage.webhook_inbox.WebhookInbox` (so
a duplicate is recognised and nothing answered 200 is lost), and returns a receipt whose
`process` does the work (`routing.remote_status.RemoteStatuses.apply`) once the tool has its
answer. It never raises for bad input: a forged, unreadable or unknown delivery is a receipt
with a 4xx status and a short reason (never a secret).

A receiver that registers webhooks per connection also implements `ConnectionHook`; the
utility calls it after a connection is stored and after one is removed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from primitives.enums import ProviderName


@dataclass(frozen=True)
class WebhookReceipt:
    """How to answer one delivery, and what to do after answering.

    `status`: 200 accepted (a duplicate too: the tool must stop retrying it), 400 unreadable,
    401 signature refused, 410 a webhook we do not know (the tool stops sending to it);
    `reason`: a short explanation for the answer's body.
    """

    status: int
    reason: str = "ok"
    process: Callable[[], Awaitable[None]] | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class WebhookReceiver(Protocol):
    @property
    def provider(self) -> ProviderName: ...

    async def receive(self, body: bytes, headers: Mapping[str, str]) -> WebhookReceipt:
        """Verify and record one delivery (see the module docstring); never raises for bad
        input."""
        ...


class ConnectionHook(Protocol):
    """Told of people's connections (`routing.connections.Connections`)."""

    async def connected(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        """A connection was stored (new or replacing one). Must return at once: slow work
        (registering a webhook) goes to the background, and a failure must not undo the
        connection."""
        ...

    async def disconnected(
        self, team_id: str, user_id: str, provider: ProviderName, access_token: str
    ) -> None:
        """A connection was removed; `access_token` is its last token, to clean up at the tool
        with (never stored, never logged)."""
        ...
