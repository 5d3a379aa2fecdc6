"""PostgreSQL access for API keys, which are stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

import asyncpg

_KEY_PREFIX = "cq_"
#: A user id fits a URL query and a log line as it is, and an admin can
#: filter by it (`GET /tasks?user_id=`, at most 200 characters).
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")


@dataclass(frozen=True)
class ApiKeyOwner:
    """Who a key belongs to, and what it may see."""

    user_id: str
    is_admin: bool


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRepository:
    """The `api_keys` table."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, user_id: str, *, admin: bool) -> str:
        """Store a new random key for `user_id` and return it (shown once)."""
        key = _KEY_PREFIX + secrets.token_urlsafe(32)
        await self._pool.execute(
            "INSERT INTO api_keys (key_hash, key_prefix, user_id, role) "
            "VALUES ($1, $2, $3, $4)",
            hash_key(key),
            key[:8],
            user_id,
            "admin" if admin else "user",
        )
        return key

    async def find(self, key: str) -> ApiKeyOwner | None:
        """The owner of a live key, or None."""
        row = await self._pool.fetchrow(
            "SELECT user_id, role FROM api_keys "
            "WHERE key_hash = $1 AND revoked_at IS NULL",
            hash_key(key),
        )
        if row is None:
            return None

        return ApiKeyOwner(user_id=row["user_id"], is_admin=row["role"] == "admin")
