"""The ClickUp emulator's deliveries: the webhooks it holds, what it queued, and the sender
that POSTs them signed, with ClickUp's health rules and the faults
(`sandbox.clickup_webhooks` has the endpoints and the rules, as ClickUp documents them).

    sender = WebhookSender(world.webhook_book, world.faults, clock)
    sender.queue(QueuedDelivery(webhook_id, event, body)); sender.sent_queued()
    await sender.deliver(client)      one attempt at every queued delivery, in order
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from primitives.clock import Clock

if TYPE_CHECKING:
    from sandbox.faults import FaultBook

ATTEMPTS_PER_EVENT = 5
SUSPEND_AFTER = 100
# What a forger's copy says: the task moved to a closed status.
FORGED_STATUS = {"status": "complete", "color": "#6bc950", "type": "closed", "orderindex": 3}


def sign(secret: str, body: bytes) -> str:
    """ClickUp's `X-Signature`: the hex HMAC-SHA256 of the raw body under the secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class QueuedDelivery:
    webhook_id: str
    event: str
    body: bytes
    attempts: int = 0
    held: frozenset[str] = frozenset()  # faults drawn when it was held back, applied when sent


@dataclass
class WebhookBook:
    """The emulator's webhooks and what they sent (`log`: one entry per attempt, with the
    webhook, event, body, whether it was a forged copy, and the status answered — None when
    there was no answer)."""

    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    queue: list[QueuedDelivery] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    suspend_after: int = SUSPEND_AFTER
    attempts_per_event: int = ATTEMPTS_PER_EVENT
    # The demo: deliver by itself, with this client, after each event and while retries wait.
    auto_deliver: bool = False
    client: httpx.AsyncClient | None = None
    retry_seconds: float = 1.0
    _history_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(2800763136717140857)
    )
    _running: set[asyncio.Task[None]] = field(default_factory=set)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def idle(self) -> None:
        """Wait for the delivery rounds running by themselves (`auto_deliver`) to end."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    def json_of(self, webhook: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in webhook.items() if not k.startswith("_")}

    def next_history_id(self) -> str:
        return str(next(self._history_ids))


class WebhookSender:
    """Sends the book's queued deliveries (see `sandbox.clickup_webhooks` for the rules)."""

    def __init__(self, book: WebhookBook, faults: FaultBook, clock: Clock) -> None:
        self._book = book
        self._faults = faults
        self._clock = clock

    def queue(self, delivery: QueuedDelivery) -> None:
        self._book.queue.append(delivery)

    def sent_queued(self) -> None:
        """With `auto_deliver` (the demo), start a delivery round by itself."""
        if self._book.auto_deliver and self._book.client is not None:
            running = asyncio.get_running_loop().create_task(self._deliver_until_empty())
            self._book._running.add(running)
            running.add_done_callback(self._book._running.discard)

    async def _deliver_until_empty(self) -> None:
        assert self._book.client is not None
        await self.deliver(self._book.client)
        while self._book.queue and self._book.auto_deliver:
            await self._clock.sleep(self._book.retry_seconds)
            await self.deliver(self._book.client)

    async def deliver(self, client: httpx.AsyncClient) -> int:
        """One attempt at every queued delivery, in order (faults applied); how many were
        answered with a success."""
        async with self._book._lock:
            pending, self._book.queue = self._book.queue, []
            delivered = 0
            index = 0
            while index < len(pending):
                delivery = pending[index]
                index += 1
                webhook = self._book.webhooks.get(delivery.webhook_id)
                if webhook is None or webhook["health"]["status"] == "suspended":
                    continue
                drawn = self._faults.draw("WEBHOOK", delivery.event)
                fired = {f.kind.value for f in drawn} | delivery.held
                if "webhook_out_of_order" in fired and index < len(pending):
                    delivery.held = frozenset(fired - {"webhook_out_of_order"})
                    pending.insert(index + 1, delivery)  # after the next one
                    continue
                delivery.held = frozenset()
                if "webhook_bad_signature" in fired:
                    await self._post(client, webhook, _forged(delivery.body), forged=True)
                copies = 2 if "webhook_duplicate" in fired else 1
                status = None
                for _ in range(copies):
                    if "webhook_down" in fired:
                        status = None
                        self._book.log.append(
                            {"webhook_id": webhook["id"], "event": delivery.event, "status": None}
                        )
                    else:
                        status = await self._post(client, webhook, delivery.body)
                if status is not None and 200 <= status < 300:
                    delivered += 1
                    webhook["health"] = {"status": "active", "fail_count": 0}
                    continue
                self._failed(webhook, delivery, gone=status == 410)
            return delivered

    async def _post(
        self,
        client: httpx.AsyncClient,
        webhook: dict[str, Any],
        body: bytes,
        *,
        forged: bool = False,
    ) -> int | None:
        secret = secrets.token_hex(32).upper() if forged else webhook["secret"]
        try:
            answer = await client.post(
                webhook["endpoint"], content=body, timeout=7.0,
                headers={"Content-Type": "application/json", "X-Signature": sign(secret, body)},
            )  # fmt: skip
            status: int | None = answer.status_code
        except httpx.HTTPError:
            status = None
        self._book.log.append(
            {"webhook_id": webhook["id"], "event": json.loads(body)["event"], "status": status,
             "forged": forged, "body": body}
        )  # fmt: skip
        return status

    def _failed(self, webhook: dict[str, Any], delivery: QueuedDelivery, *, gone: bool) -> None:
        health = webhook["health"]
        if gone:
            webhook["health"] = {**health, "status": "suspended"}
            return
        delivery.attempts += 1
        if delivery.attempts < self._book.attempts_per_event:
            webhook["health"] = {**health, "status": "failing"}
            self._book.queue.append(delivery)
            return
        fail_count = int(health["fail_count"]) + 1
        status = "suspended" if fail_count >= self._book.suspend_after else "failing"
        webhook["health"] = {"status": status, "fail_count": fail_count}


def _forged(body: bytes) -> bytes:
    """The delivery as a forger would change it: the task closed."""
    payload = json.loads(body)
    for item in payload.get("history_items") or ():
        item["after"] = dict(FORGED_STATUS)
    return json.dumps(payload, separators=(",", ":")).encode()
