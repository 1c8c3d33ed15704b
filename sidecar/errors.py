"""Every failure of the HTTP side, answered in one place by the app's exception handlers.

An API caller always gets `{"error": {"code", "message", "field"?}}` with a 4xx (or 503 when
Slack cannot answer, 500 for our own bug); a person in a browser (the connect pages) always
gets a page; nobody gets a stack trace.

- `routing.errors.RoutingError` — the domain's refusals, a status per code (`STATUS`);
- `ApiError` — what only HTTP knows of: a missing key, a body too large, not JSON;
- Starlette's `HTTPException` — unknown routes and methods;
- anything else — logged with its traceback for us, a fixed message for the caller.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ExceptionHandler

from routing.errors import DirectoryUnavailable, ErrorCode, RoutingError
from sidecar import pages
from sidecar.schemas import ErrorBody, ErrorDetail

log = logging.getLogger(__name__)

STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.UNKNOWN_USER: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_ALLOWED: 403,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.SLACK_UNAVAILABLE: 503,
    ErrorCode.TEAM_NOT_SERVED: 403,
}
DEFAULT_RETRY_AFTER = 30  # seconds, when Slack did not say


class ApiError(Exception):
    """An HTTP-level refusal with an error body; raised anywhere in a handler."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_response(
    status: int, code: str, message: str, *, field: str | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, field=field))
    # nosniff here too: a 500 is answered outside the app's middleware.
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="scrumy-tasks"'
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status, headers)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/auth/") or path == "/")


async def _routing_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoutingError)
    status = STATUS[exc.code]
    if not _wants_json(request):
        return pages.page_response(pages.server_error(), status)
    response = error_response(status, exc.code.value, exc.message, field=exc.field)
    if isinstance(exc, DirectoryUnavailable):
        response.headers["Retry-After"] = str(int(exc.retry_after or DEFAULT_RETRY_AFTER))
    return response


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, field=exc.field)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_json(request):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        response = error_response(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    return pages.page_response(pages.not_found(), exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _wants_json(request):
        return error_response(500, "internal_error", "something went wrong on our side")
    return pages.page_response(pages.server_error(), 500)


EXCEPTION_HANDLERS: dict[type[Exception], ExceptionHandler] = {
    RoutingError: _routing_error,
    ApiError: _api_error,
    HTTPException: _http_error,
    Exception: _server_error,
}
