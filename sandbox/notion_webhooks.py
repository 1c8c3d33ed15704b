"""Notion's integration webhooks, emulated: one subscription, the events page edits make, and
their signed delivery to the subscriber's URL (docs/sandbox.md, "Notion webhooks").

As Notion does (developers.notion.com/reference/webhooks, /reference/webhooks-events-delivery):

- a subscription is made for a URL; Notion then POSTs `{"verification_token": "secret_…"}`
  there once, unsigned, and sends no event until that token is pasted back (`verify`);
- every event is signed: `X-Notion-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body
  keyed by the verification token;
- an event says that something changed, never the new values: `page.properties_updated`
  names the ids of the properties, `page.deleted` (moved to the trash) and `page.undeleted`
  only the page; each has an `id`, a `timestamp`, the workspace, `authors`, `entity {id,
  type}` and the `attempt_number` of its delivery;
- property edits are aggregated: the first for a page goes at once, later ones within
  `aggregation` (a minute) are combined into one event sent when that window closes
  (developers.notion.com changelog, 2026-10-15, "Faster page webhooks");
- a delivery that gets no 2xx (the subscriber down, refusing, or unreachable) is tried again
  later with `attempt_number` one higher, up to `MAX_ATTEMPTS`; Notion documents retries but
  not their schedule; "up to 8 attempts within roughly 24 hours" is a third party's reading
  (novumos.app, "Webhook payloads without a diff"), which the emulator follows.

Another process (or a person with curl) drives it over HTTP (`webhook_control_routes`):
`POST /_sandbox/webhooks` with `{"url": …, "token"?: …}` subscribes, `{"verify": token}`
verifies, `{"fault": name, "times"?: n}` switches a fault on; `GET` shows the subscription and
what was delivered; `POST /_sandbox/webhooks/deliver` sends what is due now.

Faults, switched on in `faults` by name for the next N deliveries: `duplicate` (sent twice),
`reorder` (the due events of one round sent newest first), `bad_signature` (signed with
another key: the subscriber should refuse it, and the event is tried again later, correctly
signed). A subscriber that is down is simply one that does not answer 2xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from primitives.clock import Clock

API_VERSION = "2025-09-03"
MAX_ATTEMPTS = 8
# Seconds after attempt n (1..7) before attempt n + 1: 8 attempts over about 24 hours.
RETRY_DELAYS = (60.0, 300.0, 1_800.0, 3_600.0, 7_200.0, 21_600.0, 51_840.0)
AGGREGATION = timedelta(minutes=1)
FAULTS = ("duplicate", "reorder", "bad_signature")


def notion_signature(key: str, body: bytes) -> str:
    """The `X-Notion-Signature` header of `body` signed with the verification token `key`."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class PendingEvent:
    """An event Notion owes the subscriber: its body (less `attempt_number`), when it is due,
    and which attempt is next."""

    event: dict[str, Any]
    due: datetime
    attempt: int = 1

    @property
    def kind(self) -> str:
        return str(self.event["type"])

    @property
    def page_id(self) -> str:
        return str(self.event["entity"]["id"])


@dataclass(frozen=True)
class Delivery:
    """One POST the emulator made: `status` None when nothing answered."""

    event_id: str | None  # None for the verification request
    kind: str
    attempt: int
    status: int | None
    signed_right: bool


@dataclass
class NotionWebhookBook:
    """The subscription and what is owed to it; `NotionSandbox.webhooks`."""

    subscription_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    integration_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    url: str | None = None
    verification_token: str | None = field(default=None, repr=False)
    verified: bool = False
    handshake_owed: bool = False
    aggregation: timedelta = AGGREGATION
    pending: list[PendingEvent] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    dropped: list[PendingEvent] = field(default_factory=list)  # every attempt failed
    faults: Counter[str] = field(default_factory=Counter)
    _window_of: dict[str, datetime] = field(default_factory=dict)  # page -> its window's end

    def subscribe(self, url: str, *, token: str | None = None) -> str:
        """Subscribe `url` (replacing any subscription): a new verification token (`token`,
        for a test that configured it already), sent there on the next delivery round; no
        event until it is verified."""
        self.url = url
        self.verification_token = token or f"secret_{secrets.token_urlsafe(32)}"
        self.verified = False
        self.handshake_owed = True
        self.pending.clear()
        return self.verification_token

    def verify(self, token: str) -> bool:
        """The operator pastes the token in Notion's Verify dialog: right, the subscription is
        active."""
        right = self.verification_token is not None and hmac.compare_digest(
            token.encode(), self.verification_token.encode()
        )
        self.verified = self.verified or right
        return right

    def fault(self, name: str, times: int = 1) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown webhook fault {name!r}; expected one of {FAULTS}")
        self.faults[name] += times

    def record(
        self,
        kind: str,
        page_id: str,
        *,
        now: datetime,
        workspace: tuple[str, str],
        author: dict[str, str],
        data: dict[str, Any],
    ) -> None:
        """An edit of a page, owed to an active subscription (nothing otherwise)."""
        if not self.verified or self.url is None:
            return
        if kind == "page.properties_updated":
            combined = next(
                (p for p in self.pending if p.kind == kind and p.page_id == page_id
                 and p.attempt == 1 and p.due > now),
                None,
            )  # fmt: skip
            if combined is not None:
                names = combined.event["data"]["updated_properties"]
                names.extend(n for n in data.get("updated_properties", []) if n not in names)
                combined.event["timestamp"] = _iso(now)
                if author not in combined.event["authors"]:
                    combined.event["authors"].append(author)
                return
            window_end = self._window_of.get(page_id)
            due = window_end if window_end is not None and window_end > now else now
            self._window_of[page_id] = due + self.aggregation
        else:
            due = now
        workspace_id, workspace_name = workspace
        event = {
            "id": str(uuid.uuid4()), "timestamp": _iso(now), "workspace_id": workspace_id,
            "workspace_name": workspace_name, "subscription_id": self.subscription_id,
            "integration_id": self.integration_id, "authors": [author],
            "api_version": API_VERSION, "type": kind, "entity": {"id": page_id, "type": "page"},
            "data": data,
        }  # fmt: skip
        self.pending.append(PendingEvent(event, due))

    def next_due(self) -> datetime | None:
        return min((p.due for p in self.pending), default=None)


class NotionWebhookSender:
    """Delivers what the book owes, on the injected client and clock: `deliver_due` once (tests
    step it), `run` in a loop (the demo)."""

    def __init__(self, book: NotionWebhookBook, http: httpx.AsyncClient, clock: Clock) -> None:
        self._book = book
        self._http = http
        self._clock = clock

    async def _post(self, body: bytes, signature: str | None) -> int | None:
        assert self._book.url is not None
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Notion-Signature"] = signature
        try:
            response = await self._http.post(self._book.url, content=body, headers=headers)
        except httpx.HTTPError:
            return None
        return response.status_code

    async def run(self, stop: asyncio.Event, *, every: float = 0.2) -> None:
        """`deliver_due` every `every` seconds on the clock until `stop` is set (the demo)."""
        while not stop.is_set():
            await self.deliver_due()
            sleeping = asyncio.ensure_future(self._clock.sleep(every))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for waiting in (sleeping, stopping):
                waiting.cancel()
            await asyncio.gather(sleeping, stopping, return_exceptions=True)

    async def deliver_due(self) -> list[Delivery]:
        """Send the verification request if owed, then every event due now; returns what was
        sent, in order."""
        book = self._book
        sent: list[Delivery] = []
        if book.url is None:
            return sent
        if book.handshake_owed and book.verification_token is not None:
            body = json.dumps({"verification_token": book.verification_token}).encode()
            status = await self._post(body, None)
            book.handshake_owed = status is None or not 200 <= status < 300
            sent.append(Delivery(None, "verification", 1, status, True))
        now = self._clock.now()
        due = sorted((p for p in book.pending if p.due <= now), key=lambda p: p.due)
        if len(due) > 1 and book.faults["reorder"] > 0:
            book.faults["reorder"] -= 1
            due.reverse()
        for pending in due:
            sent.extend(await self._deliver(pending, now))
        book.deliveries.extend(sent)
        return sent

    async def _deliver(self, pending: PendingEvent, now: datetime) -> list[Delivery]:
        book = self._book
        assert book.verification_token is not None
        body = json.dumps({**pending.event, "attempt_number": pending.attempt}).encode()
        key, right = book.verification_token, True
        if book.faults["bad_signature"] > 0:
            book.faults["bad_signature"] -= 1
            key, right = f"secret_{secrets.token_urlsafe(32)}", False
        copies = 1
        if book.faults["duplicate"] > 0:
            book.faults["duplicate"] -= 1
            copies = 2
        sent = []
        for _ in range(copies):
            status = await self._post(body, notion_signature(key, body))
            sent.append(Delivery(pending.event["id"], pending.kind, pending.attempt, status, right))
        if any(d.status is not None and 200 <= d.status < 300 for d in sent):
            book.pending.remove(pending)
        elif pending.attempt >= MAX_ATTEMPTS:
            book.pending.remove(pending)
            book.dropped.append(pending)
        else:
            pending.due = now + timedelta(seconds=RETRY_DELAYS[pending.attempt - 1])
            pending.attempt += 1
        return sent


def webhook_control_routes(
    book: NotionWebhookBook, clock: Clock, http: httpx.AsyncClient | None = None
) -> list[Route]:
    """`/_sandbox/webhooks` (see the module docstring); deliveries go through `http`, or a
    client made for each round."""

    def state() -> dict[str, Any]:
        return {
            "url": book.url, "verified": book.verified, "handshake_owed": book.handshake_owed,
            "pending": len(book.pending), "dropped": len(book.dropped),
            "faults": dict(book.faults), "deliveries": [asdict(d) for d in book.deliveries],
        }  # fmt: skip

    async def control(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            if not isinstance(body, dict):
                return JSONResponse({"error": "a JSON object"}, 400)
            try:
                if "url" in body:
                    book.subscribe(str(body["url"]), token=body.get("token"))
                if "verify" in body and not book.verify(str(body["verify"])):
                    return JSONResponse({"error": "not the verification token"}, 400)
                if "fault" in body:
                    book.fault(str(body["fault"]), int(body.get("times", 1)))
            except ValueError as wrong:
                return JSONResponse({"error": str(wrong)}, 400)
        return JSONResponse(state())

    async def deliver(request: Request) -> Response:
        if http is not None:
            sent = await NotionWebhookSender(book, http, clock).deliver_due()
        else:
            async with httpx.AsyncClient(timeout=10) as client:
                sent = await NotionWebhookSender(book, client, clock).deliver_due()
        return JSONResponse({"sent": [asdict(d) for d in sent]})

    return [
        Route("/_sandbox/webhooks", control, methods=["GET", "POST"]),
        Route("/_sandbox/webhooks/deliver", deliver, methods=["POST"]),
    ]
