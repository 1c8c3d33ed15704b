"""`POST /webhooks/{tool}`: the tools' signed deliveries (ClickUp, Notion).

The raw body is read (at most `MAX_WEBHOOK_BYTES`, counted while reading) and handed to the
tool's receiver (`routing.webhooks.WebhookReceiver`), which verifies its signature and records
it before we answer; the answer goes out at once, and the receiver's processing runs after it
(a Starlette background task), so a tool never waits on our database writes to Slack. A
receiver's refusal is answered with its status and a short JSON reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from primitives.enums import ProviderName
from routing.webhooks import WebhookReceiver
from sidecar.bodies import MAX_BODY_BYTES, read_body

MAX_WEBHOOK_BYTES = MAX_BODY_BYTES

log = logging.getLogger(__name__)


def webhook_routes(receivers: Mapping[ProviderName, WebhookReceiver]) -> list[Route]:
    """One route per tool that has a receiver: `/webhooks/clickup`, `/webhooks/notion`."""
    return [
        Route(f"/webhooks/{provider.value}", _endpoint(receiver), methods=["POST"])
        for provider, receiver in receivers.items()
    ]


def _endpoint(receiver: WebhookReceiver) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        body = await read_body(request, MAX_WEBHOOK_BYTES)
        if body is None:
            return _answer(413, "body_too_large")
        receipt = await receiver.receive(body, request.headers)
        if not receipt.accepted:
            log.info("refused a %s webhook delivery: %s", receiver.provider.label, receipt.reason)
        background = BackgroundTask(receipt.process) if receipt.process is not None else None
        return _answer(receipt.status, receipt.reason, background)

    return endpoint


def _answer(status: int, reason: str, background: BackgroundTask | None = None) -> Response:
    body = {"ok": True} if 200 <= status < 300 else {"error": {"code": reason}}
    return JSONResponse(body, status, {"Cache-Control": "no-store"}, background=background)
