"""Session fixtures shared by every test folder.

The session gets its own database, created on the server at DATABASE_URL and
dropped at the end; each user of Redis takes its own key namespace.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis

from certq.migrate import apply_migrations

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/certq"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server set-up made reachable (tests use their own namespaces)."""
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh, migrated database for this test session, dropped afterwards."""
    server_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    name = "certq_test_" + uuid.uuid4().hex[:10]
    admin_url = _with_database(server_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    apply_migrations(url)
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Integration and e2e tests need real services: mark them so."""
    for item in items:
        path = str(item.path)
        if "/integration/" in path or "/e2e/" in path:
            item.add_marker(pytest.mark.services)


@pytest.fixture
def redis_namespace(redis_url: str) -> Iterator[str]:
    """A Redis key namespace of one test's own, emptied afterwards."""
    namespace = "certq-test-" + uuid.uuid4().hex[:10]
    yield namespace
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
