"""The asyncpg pool every PostgreSQL store shares, with JSON codecs set once."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

#: A connect that takes longer than this finds PostgreSQL unreachable, so a
#: request fails fast with 503 instead of waiting asyncpg's default minute.
CONNECT_TIMEOUT_SECONDS = 5.0


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name,
            encoder=_encode_json,
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def create_pool(
    database_url: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """Open a pool whose connections read and write JSON natively."""
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        timeout=CONNECT_TIMEOUT_SECONDS,
    )
    assert pool is not None
    return pool
