"""Outages of Redis or PostgreSQL, as the HTTP layer sees them: always a 503."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncpg
import redis.exceptions
import structlog

from certq.errors import ServiceUnavailable

log = structlog.get_logger(__name__)

#: What a lost or refused connection raises. `OSError` covers refused and
#: timed-out connects (asyncpg raises the socket's own error for those).
BACKING_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


@contextlib.contextmanager
def backing(name: str) -> Iterator[None]:
    """Turn a lost connection to the named service into ServiceUnavailable."""
    try:
        yield
    except BACKING_ERRORS as error:
        raise unavailable(name, error) from None


def unavailable(name: str, error: BaseException) -> ServiceUnavailable:
    """Log the outage once and describe it to the client."""
    log.warning(
        "backing_service.unavailable",
        service=name,
        error_type=type(error).__name__,
        error=str(error),
    )
    return ServiceUnavailable(f"{name} is not reachable; try again shortly")
