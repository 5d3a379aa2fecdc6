"""API-key owners are cached, and outlive their cache while PostgreSQL is down."""

from __future__ import annotations

import pytest
from starlette.requests import Request

import service.auth
from certq.errors import ServiceUnavailable
from certq.key_repository import ApiKeyOwner, KeyRepository
from service.auth import Authenticator

ALICE = ApiKeyOwner(user_id="alice", is_admin=False)


class _Keys(KeyRepository):
    """Knows one key; raises a refused connection once `down` is set."""

    def __init__(self) -> None:
        self.down = False
        self.lookups = 0

    async def find(self, key: str) -> ApiKeyOwner | None:
        self.lookups += 1
        if self.down:
            raise ConnectionRefusedError("PostgreSQL is down")
        return ALICE if key == "alice-key" else None


def _request(key: str) -> Request:
    headers = [(b"authorization", f"Bearer {key}".encode())]
    return Request({"type": "http", "headers": headers})


async def test_a_seen_key_is_looked_up_once_within_the_cache_time() -> None:
    keys = _Keys()
    auth = Authenticator(keys)

    await auth.owner(_request("alice-key"))
    owner = await auth.owner(_request("alice-key"))

    assert owner == ALICE
    assert keys.lookups == 1


async def test_a_seen_key_stays_good_past_its_cache_time_while_postgresql_is_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: live reads of Redis answered 503 once the entry aged out."""
    monkeypatch.setattr(service.auth, "CACHE_SECONDS", 0.0)
    keys = _Keys()
    auth = Authenticator(keys)
    await auth.owner(_request("alice-key"))
    keys.down = True

    owner = await auth.owner(_request("alice-key"))

    assert owner == ALICE
    assert keys.lookups == 2


async def test_a_key_never_seen_is_503_while_postgresql_is_down() -> None:
    keys = _Keys()
    keys.down = True

    with pytest.raises(ServiceUnavailable):
        await Authenticator(keys).owner(_request("alice-key"))
