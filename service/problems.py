"""RFC 9457 problem details: every error the API answers, mapped in one place."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from certq.errors import RequestError
from certq.text import clean_text
from service.outage import unavailable

log = structlog.get_logger(__name__)

PROBLEM_TYPE_BASE = "https://certq.dev/problems/"
_TITLES = {
    400: "Malformed request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem-details response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + str(status),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors

    return Response(
        orjson.dumps(_printable(body)),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def _printable(value: Any) -> Any:
    # An error may quote the client's own text (a key in `loc`, a value in a
    # message), and that text may hold what JSON output cannot: a lone
    # surrogate. Replace it rather than fail while refusing the request.
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    return value


def field_errors(
    error: ValidationError, prefix: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    """A pydantic error as the `errors` list of a 422, each `loc` under `prefix`."""
    return [
        {"loc": [*prefix, *item["loc"]], "msg": item["msg"]} for item in error.errors()
    ]


async def request_error(request: Request, exc: Exception) -> Response:
    """Map certq's request errors to their status."""
    assert isinstance(exc, RequestError)
    log.info("http.refused", status=exc.status, reason=exc.title)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem(
        exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=headers
    )


async def http_error(request: Request, exc: Exception) -> Response:
    """Map Starlette's own errors (404 route, 405 method) to problem details."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return problem(exc.status_code, str(exc.detail), headers=headers)


async def backing_error(request: Request, exc: Exception) -> Response:
    """A connection error no route named its service for: still a 503."""
    return await request_error(request, unavailable("Redis or PostgreSQL", exc))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """The last resort: log for an operator, answer without internals."""
    log.error("http.unhandled_error", exc_info=exc)
    return problem(500, "An unexpected error occurred; it has been logged.")
