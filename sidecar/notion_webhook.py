"""`POST /webhooks/notion`: Notion's integration webhook (docs/routing.md, "Status from the
tools"; set-up in docs/setup.md).

- Unsigned, the only thing accepted is the subscription's one-time verification request
  (`{"verification_token": …}`): the token is kept, encrypted, for the operator
  (`scrumy notion-webhook-token`), and a log line says so — never the token itself.
- Every event must carry `X-Notion-Signature: sha256=<hex>` of the raw body under
  NOTION_WEBHOOK_VERIFICATION_TOKEN, compared in constant time; otherwise 401 and nothing is
  stored. Without the setting no event is accepted.
- A verified event about a page's status is stored (de-duplicated by the event's id) before
  the answer, then acted on after the answer is sent: Notion hears 200 fast, and a process
  that stops in between leaves the event for the sweep. A second delivery of the same event
  is answered 200 and not acted on again. Other event types are answered 200 and dropped.
"""

from __future__ import annotations

import json
import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.notion.webhooks import (
    SIGNATURE_HEADER,
    BadDelivery,
    NotionEvent,
    VerificationRequest,
    read_delivery,
    signature_valid,
)
from routing.notion_updates import NotionStatusUpdates
from sidecar.errors import error_response

log = logging.getLogger(__name__)

PATH = "/webhooks/notion"
MAX_BODY = 1_000_000  # bytes; Notion's events are a few hundred


def notion_webhook_route(updates: NotionStatusUpdates, *, key: str | None) -> Route:
    """The route, over `updates` and the verification token `key` (None: events refused)."""

    async def receive(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return error_response(413, "too_large", "a Notion delivery is a few hundred bytes")
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is None:
            return await _unsigned(body, updates)
        if key is None:
            log.warning(
                "a signed Notion webhook delivery was refused: NOTION_WEBHOOK_VERIFICATION_TOKEN "
                "is not set (see docs/setup.md, Notion webhooks)"
            )
            return error_response(401, "not_verified", "the signature cannot be verified")
        if not signature_valid(key, body, signature):
            log.warning("a Notion webhook delivery with a wrong signature was refused")
            return error_response(401, "bad_signature", "the signature does not match")
        try:
            delivery = read_delivery(body)
        except BadDelivery as bad:
            return error_response(400, "bad_delivery", str(bad))
        if isinstance(delivery, VerificationRequest):
            await updates.verification_received(delivery.token)
            return JSONResponse({"ok": True})
        return await _event(delivery, json.loads(body), updates)

    return Route(PATH, receive, methods=["POST"])


async def _unsigned(body: bytes, updates: NotionStatusUpdates) -> Response:
    try:
        delivery = read_delivery(body)
    except BadDelivery:
        delivery = None
    if not isinstance(delivery, VerificationRequest):
        log.warning("an unsigned Notion webhook delivery was refused")
        return error_response(401, "unsigned", "send X-Notion-Signature")
    await updates.verification_received(delivery.token)
    return JSONResponse({"ok": True})


async def _event(event: NotionEvent, payload: object, updates: NotionStatusUpdates) -> Response:
    if not event.about_status or not isinstance(payload, dict):
        return JSONResponse({"ok": True, "ignored": event.type})
    delivery_id = await updates.receive(event, payload)
    if delivery_id is None:
        return JSONResponse({"ok": True, "duplicate": True})
    return JSONResponse(
        {"ok": True}, background=BackgroundTask(updates.process, delivery_id, event)
    )
