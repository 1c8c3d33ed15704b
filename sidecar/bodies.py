"""Reading a request's raw body within a size limit (the task API, the tools' webhooks).

The limit is checked twice: against a declared Content-Length before reading, and while
reading, so a body streamed without one (or lying about it) is cut off at the limit.
"""

from __future__ import annotations

from starlette.requests import Request

MAX_BODY_BYTES = 1024 * 1024


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The raw body, or None when it is larger than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
