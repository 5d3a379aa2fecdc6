"""API-key authentication: `Authorization: Bearer <key>`.

Owners of recently seen keys are cached in the process for a short time, so
a busy client costs one PostgreSQL lookup per minute, not one per request.
While PostgreSQL is down, a key this process has seen before stays good
however old its entry, so reads of live state from Redis go on.
"""

from __future__ import annotations

import time

from starlette.requests import Request

from certq.errors import ServiceUnavailable, Unauthorized
from certq.key_repository import ApiKeyOwner, KeyRepository, hash_key
from service.outage import backing

CACHE_SECONDS = 60.0
_CACHE_LIMIT = 10_000


class Authenticator:
    """Resolves a request's bearer key to its owner."""

    def __init__(self, keys: KeyRepository) -> None:
        self._keys = keys
        self._cache: dict[str, tuple[float, ApiKeyOwner]] = {}

    async def owner(self, request: Request) -> ApiKeyOwner:
        """The owner of the request's key, or Unauthorized."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized(
                "an 'Authorization: Bearer <api key>' header is required"
            )

        key = key.strip()
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]

        try:
            with backing("PostgreSQL"):
                owner = await self._keys.find(key)
        except ServiceUnavailable:
            if cached is None:
                raise
            return cached[1]
        if owner is None:
            raise Unauthorized("the API key is not valid")
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + CACHE_SECONDS, owner)
        return owner
