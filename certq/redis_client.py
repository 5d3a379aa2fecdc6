"""The Redis clients of the web, worker and scheduler processes, made alike."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis

#: No certq command blocks on the server, so a reply slower than this means
#: Redis is unreachable: the caller gets an error instead of hanging.
SOCKET_TIMEOUT_SECONDS = 5.0

_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
    "socket_timeout": SOCKET_TIMEOUT_SECONDS,
    "health_check_interval": 30,
}


def sync_client(url: str) -> redis.Redis:
    """A client for worker threads."""
    return redis.Redis.from_url(url, **_OPTIONS)


#: Connections one asyncio process opens at most. A burst of requests
#: beyond it waits for a free connection instead of failing at once.
ASYNC_POOL_CONNECTIONS = 64


def async_client(url: str) -> aioredis.Redis:
    """A client for the asyncio processes (web, scheduler)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=ASYNC_POOL_CONNECTIONS,
        timeout=SOCKET_TIMEOUT_SECONDS,
        **_OPTIONS,
    )
    return aioredis.Redis.from_pool(pool)
