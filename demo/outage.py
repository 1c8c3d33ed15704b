"""A short outage in front of the Notion emulator: `503 service_unavailable` with a
`Retry-After`, as Notion answers when it is down for a moment.

The sandbox's own faults (`sandbox/faults.py`) answer a server error as 500; a 503 is the
answer Notion documents for an outage, and the one its client handles on its own path (it
honours the `Retry-After`). The request never reaches the emulator, so nothing is created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

# developers.notion.com/reference/status-codes: 503 `service_unavailable`.
BODY = {
    "object": "error",
    "status": 503,
    "code": "service_unavailable",
    "message": "Notion is unavailable, please try again later.",
}


@dataclass
class Outage:
    """Answers 503 to the next `times` requests of `method` whose path starts with `path`."""

    method: str
    path: str
    times: int = 0
    retry_after: int = 1
    answered: int = 0

    def arm(self, times: int = 1) -> None:
        self.times = times


class OutageFront:
    """An ASGI app in front of `app` that answers for the outage while it lasts."""

    def __init__(self, app: ASGIApp, outage: Outage) -> None:
        self.app = app
        self.outage = outage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        outage = self.outage
        if (
            scope["type"] != "http"
            or outage.times <= 0
            or scope["method"] != outage.method
            or not scope["path"].startswith(outage.path)
        ):
            await self.app(scope, receive, send)
            return
        outage.times -= 1
        outage.answered += 1
        body = json.dumps(BODY).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(outage.retry_after).encode()),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
